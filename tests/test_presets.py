"""The named schedules: every one is a valid set of DEC arguments, handed out as a copy."""

import inspect

import pytest

from decnp import DEC
from decnp.dec_params import check_params
from decnp.presets import PRESETS, preset

# What a schedule leaves to the caller: DEC(n_clusters=k, random_state=s, **preset(name))
# would fail (a duplicate argument) or silently lose the caller's value otherwise.
NOT_A_SCHEDULE = {
    "n_clusters",
    "random_state",
    "device",
    "verbose",
    "checkpoint",
    "checkpoint_every",
    "autoencoder",
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_accepted_by_dec(name):
    model = DEC(n_clusters=10, **preset(name))
    check_params(model, n_samples=70_000, n_features=784)  # raises on any argument DEC refuses
    assert not set(PRESETS[name]) & NOT_A_SCHEDULE


def test_preset_is_a_copy():
    kwargs = preset("fast")
    kwargs["finetune_iters"] = -1
    assert PRESETS["fast"]["finetune_iters"] > 0
    kwargs = preset("fast70k_da")
    kwargs["augment"]["shift"] = 9
    assert PRESETS["fast70k_da"]["augment"]["shift"] != 9


def test_unknown_preset_is_named():
    with pytest.raises(ValueError, match="preset must be one of"):
        preset("slow")


def test_paper_mnist_is_the_paper_schedule_with_the_authors_pixel_scaling():
    # The README's paper_mnist figures were run as ``paper`` with scale=5.1.
    assert "scale" not in PRESETS["paper"]  # DEC's default, the paper's unit energy
    assert preset("paper_mnist") == preset("paper") | {"scale": 5.1}


def test_paper_preset_is_decs_defaults():
    defaults = inspect.signature(DEC).parameters
    assert all(defaults[key].default == value for key, value in PRESETS["paper"].items())
    assert defaults["scale"].default == "unit_energy"


def test_the_balanced_target_is_off_in_the_paper_presets():
    assert "balance" not in PRESETS["paper"] and "balance" not in PRESETS["paper_mnist"]
    assert inspect.signature(DEC).parameters["balance"].default == 1.0  # eq. 3


def test_fast_da_balanced_is_fast_da_with_the_balanced_target():
    # The README's fast_da_balanced records were run as this preset: fast_da's
    # schedule, balance=3 and a longer cap on the clustering iterations.
    assert preset("fast_da_balanced") == preset("fast_da") | {"balance": 3.0, "max_iter": 5_000}
