"""Build the tutorials as notebooks to read on GitHub or in Jupyter, without running them.

Each numbered tutorial ``NN_name.py`` (percent format) becomes
``notebooks/NN_name.ipynb``: its markdown cells with their equations, its code
cells, and under each cell that draws a committed figure of ``figures/`` that
figure, inline, as the cell's output. Nothing is executed: the figures are the
committed ones, from the fast-mode run recorded beside them (their ``.json``), or,
for 07 and 08, drawn from the saved benchmark results. Text outputs are not shown;
run the script for them.

Usage, from the repository root (needs ``pip install '.[docs]'``)::

    python tutorials/build_notebooks.py          # write tutorials/notebooks/
    python tutorials/build_notebooks.py --check  # fail if a notebook is out of date

``tests/test_tutorials.py`` runs the check, so the committed notebooks always match
the scripts and figures.
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "figures"
NOTEBOOKS = HERE / "notebooks"
#: A figure's name in a cell's source, as in ``OUT / "NAME.png"`` or ``save_plotted("NAME", ...)``.
DRAWN = re.compile(r'"(\d\d_\w+)\.png"|save_plotted\(\s*"(\d\d_\w+)"')


def scripts() -> list[Path]:
    """The numbered tutorials, in order."""
    return sorted(HERE.glob("[0-9][0-9]_*.py"))


def notebook(script: Path) -> str:
    """The notebook of ``script`` as JSON text, with its committed figures inline."""
    nb = jupytext.read(script, fmt="py:percent")
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, cell in enumerate(nb.cells):
        cell.id = f"{script.stem[:2]}-{i:02d}"  # stable ids: the file depends on its inputs only
        cell.metadata = {}
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        names = dict.fromkeys(a or b for a, b in DRAWN.findall(cell.source))  # once each, in order
        cell.outputs = [_figure(name) for name in names if (FIGURES / f"{name}.png").exists()]
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def _figure(name: str) -> nbformat.NotebookNode:
    """A display output holding the committed figure ``name``."""
    png = base64.b64encode((FIGURES / f"{name}.png").read_bytes()).decode("ascii")
    text = f"[figure {name}.png, as committed in tutorials/figures/]"
    return nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": text})


def stale() -> list[str]:
    """Notebooks that are missing, out of date, or left over from a removed tutorial."""
    expected = {NOTEBOOKS / f"{s.stem}.ipynb": s for s in scripts()}
    out = [p.name for p in NOTEBOOKS.glob("*.ipynb") if p not in expected]
    for path, script in expected.items():
        if not path.exists() or path.read_text(encoding="utf-8") != notebook(script):
            out.append(path.name)
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    """Write the notebooks, or with ``--check`` report the stale ones (exit status 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale()
        if bad:
            print(f"out of date: {', '.join(bad)}; run python tutorials/build_notebooks.py")
        return 1 if bad else 0
    NOTEBOOKS.mkdir(exist_ok=True)
    for old in NOTEBOOKS.glob("*.ipynb"):
        old.unlink()
    for script in scripts():
        (NOTEBOOKS / f"{script.stem}.ipynb").write_text(notebook(script), encoding="utf-8")
        print(f"wrote {(NOTEBOOKS / script.stem).relative_to(HERE.parent)}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
