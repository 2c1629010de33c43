"""Tests for decnp.cli: ``gradcheck``, ``fit`` on the user's data (with a tiny
training schedule patched in), ``predict`` with the saved model, exit codes
and messages for bad input, and ``python -m decnp``."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import decnp.augment
import decnp.datasets
import decnp.plots
import decnp.presets
import decnp.progress
from decnp import StackedAutoencoder
from decnp.cli import _parser, main
from decnp.metrics import cluster_accuracy
from decnp.persistence import load_arrays
from decnp.presets import AUGMENT

REPO = Path(__file__).resolve().parents[1]
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None

TINY = {
    "pretrain_iters": 100,
    "finetune_iters": 200,
    "batch_size": 32,
    "pretrain_lr": 0.01,
    "pretrain_lr_step": None,
    "pretrain_optimizer": "adam",
    "dropout": 0.2,
    "lr": 0.01,
    "momentum": 0.9,
    "update_interval": 10,
    "tol": 0.001,
    "max_iter": 100,
    "n_init": 3,
    "hidden_dims": (16, 8, 2),
}


@pytest.fixture(autouse=True)
def tiny_preset(monkeypatch):
    """Replace the default schedules (minutes) with ones that run in a fraction of a second."""
    monkeypatch.setitem(decnp.presets.PRESETS, "fast", dict(TINY))
    monkeypatch.setitem(decnp.presets.PRESETS, "fast_da", dict(TINY, augment=dict(AUGMENT)))
    monkeypatch.setitem(
        decnp.presets.PRESETS, "fast_da_balanced", dict(TINY, augment=dict(AUGMENT), balance=3.0)
    )


def _write_blobs(path, d, n_per=50, k=4, seed=0, labels=True):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * 8.0
    X = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centers]).astype(np.float32)
    y = np.repeat(np.arange(k), n_per)
    if labels:
        np.savez(path, X=X, y=y)
    else:
        np.savez(path, X=X)
    return X, y


def _fit(tmp_path, d, capsys, name="run"):
    data = tmp_path / f"blobs{d}.npz"
    X, y = _write_blobs(data, d)
    out = tmp_path / name
    code = main(
        ["fit", "--data", str(data), "--clusters", "4", "--seed", "0", "--out", str(out), "--quiet"]
    )
    captured = capsys.readouterr()
    return code, captured, out, data, X, y


def test_gradcheck(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "pass" in out
    assert "FAIL" not in out
    assert "component" in out and "dense" in out and "kl" in out


def test_fit_writes_results_and_predict_reproduces_them(tmp_path, capsys):
    code, captured, out, data, X, y = _fit(tmp_path, 10, capsys)
    assert code == 0, captured.err
    assert "acc" in captured.out
    assert "10 features" in captured.err

    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("acc", "nmi", "ari", "n_samples", "n_clusters", "preset", "device", "seconds"):
        assert key in metrics
    assert metrics["n_samples"] == 200 and metrics["n_features"] == 10
    assert metrics["n_clusters"] == 4
    assert metrics["preset"] == "fast" and metrics["device"] == "cpu"
    assert metrics["acc"] >= 0.95
    assert "total" in metrics["seconds"]

    labels = np.load(out / "labels.npy", allow_pickle=False)
    assert labels.shape == (200,)
    assert cluster_accuracy(y, labels) == pytest.approx(metrics["acc"])
    assert (out / "model.npz").is_file()
    assert (out / "embedding.png").is_file() == HAVE_MPL
    if not HAVE_MPL:
        assert "matplotlib not installed" in captured.err
    # 10 features are not a square image: no montage of nearest images.
    assert not (out / "nearest.png").exists()
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]

    pred = tmp_path / "pred.npy"
    assert main(["predict", str(out / "model.npz"), str(data), "--out", str(pred)]) == 0
    captured = capsys.readouterr()
    assert "200 labels written" in captured.out
    assert "acc" in captured.err
    np.testing.assert_array_equal(np.load(pred), labels)

    # Without --out the labels go to stdout, one per line.
    assert main(["predict", str(out / "model.npz"), str(data)]) == 0
    printed = np.array(capsys.readouterr().out.split(), dtype=np.int64)
    np.testing.assert_array_equal(printed, labels)


@pytest.fixture
def fake_plots(monkeypatch):
    """Stand-ins for decnp.plots that record their calls (no matplotlib needed)."""
    calls = []

    class FakePyplot:
        def close(self, fig):
            pass

    def plot_embedding(z, labels, path, title="embedding"):
        calls.append(("embedding", z.shape, labels.shape))
        Path(path).write_bytes(b"png")

    def plot_nearest_images(X, z, centers, path, image_shape=(28, 28), **kwargs):
        calls.append(("nearest", X.shape, image_shape))
        Path(path).write_bytes(b"png")

    monkeypatch.setattr(decnp.plots, "_pyplot", lambda: FakePyplot())
    monkeypatch.setattr(decnp.plots, "plot_embedding", plot_embedding)
    monkeypatch.setattr(decnp.plots, "plot_nearest_images", plot_nearest_images)
    return calls


@pytest.mark.parametrize("d, square", [(10, False), (16, True)])
def test_nearest_images_only_for_square_images(tmp_path, capsys, fake_plots, d, square):
    code, captured, out, *_ = _fit(tmp_path, d, capsys)
    assert code == 0, captured.err
    assert (out / "embedding.png").is_file()
    assert (out / "nearest.png").is_file() == square
    assert fake_plots[0] == ("embedding", (200, 2), (200,))
    if square:
        assert fake_plots[1] == ("nearest", (200, 16), (4, 4))
    else:
        assert len(fake_plots) == 1


def test_fit_on_square_images_draws_real_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code, captured, out, *_ = _fit(tmp_path, 16, capsys, name="img")
    assert code == 0, captured.err
    for name in ("embedding.png", "nearest.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_without_labels(tmp_path, capsys):
    data = tmp_path / "nolabels.npz"
    _write_blobs(data, 10, labels=False)
    out = tmp_path / "nl"
    assert main(["fit", "--data", str(data), "--clusters", "4", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert not {"acc", "nmi", "ari"} & set(metrics)
    assert metrics["n_samples"] == 200
    assert np.load(out / "labels.npy").shape == (200,)


def test_missing_data_file(tmp_path, capsys):
    missing = tmp_path / "nope.npz"
    code = main(["fit", "--data", str(missing), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    assert capsys.readouterr().err == f"decnp fit: error: --data {str(missing)!r} does not exist\n"
    assert not (tmp_path / "o").exists()


def test_own_data_are_not_shifted_unless_asked(tmp_path, capsys, monkeypatch):
    # A preset that shifts images (as "fast" does on MNIST) on 4 x 4 "images".
    monkeypatch.setitem(decnp.presets.PRESETS, "fast", dict(TINY, pretrain_shift=2))
    data = tmp_path / "d.npz"
    _write_blobs(data, 16)
    base = ["fit", "--data", str(data), "--clusters", "4", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, "--shift", "1", "--out", str(tmp_path / "shifted")]) == 0
    plain, shifted = (
        json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("plain", "shifted")
    )
    assert plain["pretrain_shift"] == 0 and shifted["pretrain_shift"] == 1
    # The shifts reached pretraining: the same seed trained other weights.
    w_plain, w_shifted = (
        load_arrays(tmp_path / name / "model.npz", "DEC")[0]["encoder_W0"]
        for name in ("plain", "shifted")
    )
    assert not np.array_equal(w_plain, w_shifted)
    # Shifting needs square images.
    _write_blobs(data, 10)
    capsys.readouterr()
    assert main([*base, "--shift", "1", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.splitlines()  # the data's size, then one error line
    assert err[-1].startswith("decnp fit: error: --shift without --augment needs images")
    assert "10 features" in err[-1] and len(err) == 2


def test_augment_deforms_images_in_both_phases_on_own_data(tmp_path, capsys, monkeypatch):
    spy = []
    original = decnp.augment.Augmentation.__call__

    def counted(self, x, rand):  # the clustering phase's deformations
        spy.append(self)
        return original(self, x, rand)

    monkeypatch.setattr(decnp.augment.Augmentation, "__call__", counted)
    data = tmp_path / "d.npz"
    _write_blobs(data, 16)  # rows of 4 x 4 "images"
    base = ["fit", "--data", str(data), "--clusters", "4", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert spy == []
    out = capsys.readouterr().out
    assert main([*base, "--augment", "--shift", "1", "--out", str(tmp_path / "da")]) == 0
    out = capsys.readouterr().out
    assert re.match(r"acc \d\.\d{4}, nmi \d\.\d{4}, ari -?\d\.\d{4}, ", out)
    metrics = json.loads((tmp_path / "da" / "metrics.json").read_text())
    want = {**decnp.presets.AUGMENT, "shift": 1, "image_shape": None}
    assert metrics["augment"] == {k: v for k, v in want.items() if k != "image_shape"}
    assert spy and all(a == decnp.augment.Augmentation(1, 10.0, (4, 4)) for a in spy)
    assert metrics["pretrain_shift"] == 0
    w_plain, w_da = (
        load_arrays(tmp_path / name / "model.npz", "DEC")[0]["encoder_W0"]
        for name in ("plain", "da")
    )
    assert not np.array_equal(w_plain, w_da)


def test_augment_needs_rows_that_are_images_of_the_shape_given(tmp_path, capsys):
    data = tmp_path / "d.npz"
    _write_blobs(data, 10)
    base = ["fit", "--data", str(data), "--clusters", "4", "--quiet", "--out", str(tmp_path / "o")]
    for extra, message in [
        (["--augment"], "--augment needs images, but the rows have 10 features"),
        (["--augment", "--image-shape", "3", "3"], "--image-shape 3 3 does not fit rows of 10"),
        (["--image-shape", "2", "5"], "--image-shape is for --augment: give both"),
    ]:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err.splitlines()  # the data's size, then one error line
        assert err[-1].startswith(f"decnp fit: error: {message}") and len(err) == 2
    assert not (tmp_path / "o").exists()
    assert main([*base, "--augment", "--image-shape", "2", "5"]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["augment"]["image_shape"] == [2, 5]


def test_a_preset_with_augmentation_keeps_it_on_mnist_unless_turned_off(tmp_path, monkeypatch):
    X, y = _write_blobs(tmp_path / "d.npz", 16)
    monkeypatch.setattr(decnp.datasets, "load_mnist", lambda subset: (X, y))
    base = ["fit", "--clusters", "4", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "on")]) == 0
    assert main([*base, "--no-augment", "--out", str(tmp_path / "off")]) == 0
    on, off = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("on", "off"))
    assert on["augment"] == AUGMENT
    assert off["augment"] is None


def test_each_data_set_defaults_to_the_preset_measured_for_it(tmp_path, monkeypatch):
    X, y = _write_blobs(tmp_path / "d.npz", 16)
    monkeypatch.setattr(decnp.datasets, "load_mnist", lambda subset: (X, y))
    runs = {
        "test_digits": [],
        "own": ["--data", str(tmp_path / "d.npz")],
        "own_augmented": ["--data", str(tmp_path / "d.npz"), "--augment"],
    }
    for name, extra in runs.items():
        args = ["fit", *extra, "--clusters", "4", "--quiet", "--out", str(tmp_path / name)]
        assert main(args) == 0
    used = {n: json.loads((tmp_path / n / "metrics.json").read_text()) for n in runs}
    assert {n: m["preset"] for n, m in used.items()} == {
        "test_digits": "fast_da_balanced",
        "own": "fast",
        "own_augmented": "fast_da",
    }
    assert used["test_digits"]["augment"] == used["own_augmented"]["augment"] == AUGMENT
    assert used["own"]["augment"] is None


def test_full_mnist_defaults_to_the_preset_measured_for_it(tmp_path, capsys, monkeypatch):
    # Stand-ins: 200 blob "digits" (4 x 4 images) for all of MNIST, a tiny "fast70k_da".
    X, y = _write_blobs(tmp_path / "d.npz", 16)
    loaded = []
    monkeypatch.setattr(
        decnp.datasets, "load_mnist", lambda subset: loaded.append(subset) or (X, y)
    )
    monkeypatch.setitem(
        decnp.presets.PRESETS,
        "fast70k_da",
        dict(TINY, update_interval=7, augment={"shift": 1, "rotation": 5.0}),
    )
    base = ["fit", "--dataset", "mnist", "--clusters", "4", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "default")]) == 0
    assert main([*base, "--preset", "fast", "--out", str(tmp_path / "asked")]) == 0
    assert loaded == ["all", "all"]
    default, asked = (
        json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("default", "asked")
    )
    assert default["preset"] == "fast70k_da" and asked["preset"] == "fast"
    assert default["augment"] == {"shift": 1, "rotation": 5.0}


def test_more_clusters_than_samples(tmp_path, capsys):
    data = tmp_path / "d.npz"
    _write_blobs(data, 10, n_per=2)
    code = main(
        ["fit", "--data", str(data), "--clusters", "9", "--out", str(tmp_path / "o"), "--quiet"]
    )
    assert code == 2
    assert "n_samples" in capsys.readouterr().err


def test_predict_bad_inputs(tmp_path, capsys):
    data = tmp_path / "d.npz"
    _write_blobs(data, 10)
    npy = tmp_path / "d.npy"
    np.save(npy, np.zeros((5, 10), np.float32))
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a model")
    autoencoder = tmp_path / "ae.npz"
    StackedAutoencoder(dims=(10, 2), layerwise_iters=1, finetune_iters=1, verbose=False).fit(
        np.ones((8, 10))
    ).save(autoencoder)
    missing = tmp_path / "missing.npz"
    give = "give the OUT/model.npz of decnp fit"
    for model, problem in [
        (missing, "does not exist"),
        (tmp_path, "is not a file"),
        (npy, f"is not a decnp model file; {give}"),  # a data file given as MODEL
        (data, f"is not a decnp model file; {give}"),
        (corrupt, f"is not a decnp model file; {give}"),
        (autoencoder, f"is a StackedAutoencoder file, not a DEC model; {give}"),
    ]:
        assert main(["predict", str(model), str(data)]) == 2
        err = capsys.readouterr().err
        assert err == f"decnp predict: error: MODEL {str(model)!r} {problem}\n"

    code, _, out, *_ = _fit(tmp_path, 10, capsys)
    assert code == 0
    assert main(["predict", str(out / "model.npz"), str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"decnp predict: error: DATA {str(missing)!r} does not exist\n"


def test_predict_with_wrong_width(tmp_path, capsys):
    _, _, out, _, _, _ = _fit(tmp_path, 10, capsys)
    other = tmp_path / "other.npz"
    _write_blobs(other, 12)
    assert main(["predict", str(out / "model.npz"), str(other)]) == 2
    assert "10 features" in capsys.readouterr().err


@pytest.fixture
def no_data_loaded(monkeypatch):
    """Data loaders that fail the test if called: for checks that must come first."""

    def load(*args, **kwargs):
        raise AssertionError("data were loaded before the arguments were checked")

    monkeypatch.setattr(decnp.datasets, "load_data", load)
    monkeypatch.setattr(decnp.datasets, "load_mnist", load)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "--clusters", "0"], "--clusters must be at least 2, got 0"),
        (["fit", "--clusters", "1"], "--clusters must be at least 2, got 1"),
        (["fit", "--checkpoint-every", "-1"], "--checkpoint-every must be at least 0, got -1"),
        (["fit", "--shift", "-2"], "--shift must be at least 0, got -2"),
        (["fit", "--balance", "-0.5"], "--balance must be at least 0, got -0.5"),
        (["fit", "--balance", "nan"], "--balance must be at least 0, got nan"),
        (["fit", "--seed", "-1"], "--seed must be at least 0, got -1"),
        (["fit", "--image-shape", "0", "5"], "--image-shape must be at least 1, got 0"),
        (["gradcheck", "--seed", "-5"], "--seed must be at least 0, got -5"),
    ],
)
def test_numeric_flags_are_checked_first_and_named(tmp_path, capsys, no_data_loaded, argv, message):
    data = tmp_path / "d.npz"
    _write_blobs(data, 10)
    extra = ["--data", str(data), "--out", str(tmp_path / "o")] if argv[0] == "fit" else []
    assert main([*argv, *extra]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"decnp {argv[0]}: error: {message}\n"
    assert captured.out == ""
    assert not (tmp_path / "o").exists()


def test_the_least_values_accepted_are_accepted(tmp_path, capsys):
    data = tmp_path / "d.npz"
    _write_blobs(data, 16, k=2)
    out = tmp_path / "o"
    argv = ["fit", "--data", str(data), "--out", str(out), "--quiet", "--clusters", "2"]
    assert main([*argv, "--seed", "0", "--shift", "0", "--checkpoint-every", "0"]) == 0
    assert json.loads((out / "metrics.json").read_text())["n_clusters"] == 2


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"decnp {decnp.__version__}\n"


def _subparsers(parser):
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return commands.choices


def test_every_help_has_a_description_and_every_option_its_help_and_default():
    parser = _parser()
    assert parser.description
    commands = _subparsers(parser)
    assert set(commands) == {"fit", "predict", "gradcheck"}
    for name, command in commands.items():
        assert command.description, name
        for action in command._actions:
            assert action.help, (name, action.dest)
            if action.default not in (None, False, argparse.SUPPRESS):
                assert "(default: %(default)s)" in action.help, (name, action.dest)
        help_text = command.format_help()
        assert "DIR" not in help_text
    fit_help = commands["fit"].format_help()
    assert "--out OUT" in fit_help and "--checkpoint-every N" in fit_help
    assert fit_help.count("OUT/checkpoint.npz") == 2  # --checkpoint-every and --resume
    assert "(default: 1000)" in fit_help and "(default: 10)" in fit_help


def test_fit_help_describes_every_preset(monkeypatch, capsys):
    # A preset added to decnp.presets appears without any change to the command line.
    monkeypatch.setitem(decnp.presets.PRESETS, "zz_new", dict(TINY))
    monkeypatch.setitem(decnp.presets.SUMMARIES, "zz_new", "a schedule added later; 1 s")
    with pytest.raises(SystemExit) as info:
        main(["fit", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    listing = " ".join(text.split("presets (--preset)")[1].split())  # wrapping undone
    for name in decnp.presets.PRESETS:
        assert f" {name} {decnp.presets.SUMMARIES[name]}" in listing, name


def test_fit_progress_in_a_log_is_plain_lines(tmp_path, monkeypatch):
    """With standard error redirected to a file (CI, nohup): no carriage returns, each
    report a line of its own, and each phase ends with a final line."""
    # A frozen clock, so that only the tenths of each phase (not time) trigger lines.
    monkeypatch.setattr(decnp.progress, "time", SimpleNamespace(perf_counter=lambda: 0.0))
    data = tmp_path / "d.npz"
    _write_blobs(data, 10)
    log = tmp_path / "log.txt"
    argv = ["fit", "--data", str(data), "--clusters", "4", "--out", str(tmp_path / "o")]
    with open(log, "w") as stderr, monkeypatch.context() as m:
        m.setattr(sys, "stderr", stderr)
        assert main(argv) == 0
    text = log.read_text()
    assert "\r" not in text
    report = re.compile(r"(.+) \[[#.]{20}\] +(\d+)% \d+/\d+ \d+:\d\d<\d+:\d\d( .*)?")
    final = re.compile(r"(.+) done: \d+/\d+ in \d+:\d\d( .*)?")
    phases: dict[str, list] = {}
    for line in text.splitlines():
        if line.startswith(("data: ", "matplotlib not installed")):
            continue
        match = report.fullmatch(line) or final.fullmatch(line)
        assert match, line
        # A phase's lines come together: a name seen before is the current phase's.
        assert match[1] not in phases or match[1] == list(phases)[-1], line
        phases.setdefault(match[1], []).append(None if match.re is final else int(match[2]))
    assert list(phases) == [
        "pretrain pair 1/3 (10-16)",
        "pretrain pair 2/3 (16-8)",
        "pretrain pair 3/3 (8-2)",
        "fine-tune",
        "k-means",
        "clustering",
    ]
    for name, lines in phases.items():
        *reports, last = lines
        assert last is None and None not in reports, name  # one final line, at the end
        tenths = [pct // 10 for pct in reports]
        assert tenths == sorted(set(tenths)) and 0 not in tenths, name  # each a new tenth
    assert phases["clustering"][:-1] == [10]  # stopped by the tolerance at iteration 10


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", "--preset", "nonsense"])
    assert info.value.code == 2
    assert "--preset" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_python_m_decnp_help():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "decnp", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for command in ("fit", "predict", "gradcheck"):
        assert command in result.stdout


def test_ctrl_c_then_resume_gives_the_uninterrupted_labels(tmp_path, capsys, monkeypatch):
    import signal

    import decnp.steps

    code, _, out_ref, data, _, _ = _fit(tmp_path, 10, capsys, name="reference")
    assert code == 0
    original = decnp.steps.kl_gradients
    count = {"n": 0}

    def ctrl_c_once(*args, **kwargs):
        count["n"] += 1
        if count["n"] == 3:
            signal.raise_signal(signal.SIGINT)
        return original(*args, **kwargs)

    out = tmp_path / "interrupted"
    argv = ["fit", "--data", str(data), "--clusters", "4", "--seed", "0", "--out", str(out)]
    with monkeypatch.context() as m:
        m.setattr(decnp.steps, "kl_gradients", ctrl_c_once)
        assert main(argv + ["--quiet"]) == 130
    assert "--resume" in capsys.readouterr().err
    assert (out / "checkpoint.npz").exists()
    assert main(argv + ["--quiet", "--resume"]) == 0
    assert not (out / "checkpoint.npz").exists()  # removed once the run completed
    np.testing.assert_array_equal(np.load(out / "labels.npy"), np.load(out_ref / "labels.npy"))


def test_divergence_is_reported_not_a_traceback(tmp_path, capsys, monkeypatch):
    import decnp.cli
    from decnp.training import TrainingDivergedError

    def diverge(self, X, y=None, resume=False):
        raise TrainingDivergedError("fine-tune: the loss became nan at iteration 100")

    monkeypatch.setattr(decnp.cli.DEC, "fit", diverge)
    data = tmp_path / "d.npz"
    _write_blobs(data, 10)
    assert main(["fit", "--data", str(data), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "loss became nan" in capsys.readouterr().err


@pytest.mark.parametrize("below", ["file", "file/sub"])
def test_an_out_below_a_file_is_refused_before_the_data_are_read(
    tmp_path, capsys, no_data_loaded, below
):
    (tmp_path / "file").write_text("not a directory")
    data = tmp_path / "d.npz"
    _write_blobs(data, 10)
    out = tmp_path / below
    assert main(["fit", "--data", str(data), "--out", str(out), "--quiet"]) == 2
    expected = f"--out {str(out)!r} cannot be written: {str(tmp_path / 'file')!r} is a file, not a directory"
    assert capsys.readouterr().err == f"decnp fit: error: {expected}\n"


def test_a_failed_download_is_an_error_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("could not download train-images-idx3-ubyte.gz: network is unreachable")

    monkeypatch.setattr(decnp.datasets, "load_mnist", offline)
    code = main(["fit", "--dataset", "mnist", "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    assert capsys.readouterr().err == (
        "decnp fit: error: could not download train-images-idx3-ubyte.gz: network is unreachable\n"
    )
    assert not (tmp_path / "o").exists()


def test_an_unwritable_predict_out_is_an_error_message(tmp_path, capsys):
    code, captured, out, data, _, _ = _fit(tmp_path, 10, capsys)
    assert code == 0, captured.err
    (tmp_path / "file").write_text("not a directory")
    labels = tmp_path / "file" / "labels.npy"
    assert main(["predict", str(out / "model.npz"), str(data), "--out", str(labels)]) == 2
    assert capsys.readouterr().err == (
        f"decnp predict: error: --out {str(labels)!r} cannot be written: "
        f"{str(tmp_path / 'file')!r} is a file, not a directory\n"
    )
