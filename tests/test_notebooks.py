"""The notebooks execute top to bottom, print what they show, and stay small and error-free.

Each notebook is executed from a fresh kernel in a temporary copy, so the stored outputs
(plots visible on a code host) are not touched by the test run. After execution, every printed
line must equal the stored one a reader sees (lines that report a time excepted), and the key
figures must be the published ones.
"""

import json
import os
import pathlib
import re

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))

# The figures each notebook must print: the worked example's published values (and the textbook
# order's, from the README's table), and the population results the notebook discusses.
KEY_FIGURES = {
    "01_worked_example": [
        "out_o1 = 0.751365070   out_o2 = 0.772928465",
        "E_total = 1/2 (0.01 - out_o1)^2 + 1/2 (0.99 - out_o2)^2 = 0.298371109",
        "dE/dw5 from jbp.backprop:   0.082167041",
        "simultaneous: w1 -> 0.149780716  w5 -> 0.358916480  E after one update = 0.291027774",
        "sequential: w1 -> 0.149817639  w5 -> 0.358916480  E after one update = 0.291027924",
        "E after 10,000 updates          0.000035085     0.000035102 --     0.000035085 ok",
        "out_o1 after 10,000 updates     0.015912196     0.015913620 --     0.015912196 ok",
    ],
    "02_compiled_training": [
        "simultaneous: E0=0.298371109  E1=0.291027774  E10000=0.000035102",
        "sequential: E0=0.298371109  E1=0.291027924  E10000=0.000035085",
        "same weights: True",
    ],
    "03_many_initializations": [
        "losses: (10000, 101)  diverged: 0",
        "below 1e-4 after 10,000 updates: 100.0%",
    ],
}
TIMED = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?\s*(?:ms|s)\b")  # "0.88 ms", "1.88 s": these vary


def printed(nb):
  """The printed lines of each code cell, a line that reports a time with its numbers blanked and its
  runs of spaces made one (a time of 1000 ms takes a column more than one of 567 ms)."""
  cells = []
  for c in nb["cells"]:
    if c["cell_type"] != "code":
      continue
    streams = [o for o in c.get("outputs", []) if o.get("output_type") == "stream"]
    text = "".join("".join(o.get("text", "")) for o in streams)
    lines = [re.sub(r" +", " ", re.sub(r"[\d.]+(e[+-]?\d+)?", "#", l)) if TIMED.search(l) else l
             for l in text.splitlines()]
    cells.append(lines)
  return cells


def test_there_are_notebooks():
  assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(1, len(NOTEBOOKS) + 1)]
  assert sorted(KEY_FIGURES) == [p.stem for p in NOTEBOOKS]


def test_the_timing_mask_keeps_the_figures():
  nb = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": [
      "compiled loop, 10,000 steps:     0.88 ms\n", "E10000=0.000035085\n",
      "Python loop over a jitted step:    1047 ms  (1190x slower)\n",
      "Python loop over a jitted step:     567 ms  (644x slower)\n"]}]}]}
  assert printed(nb) == [["compiled loop, #,# steps: # ms", "E10000=0.000035085",
                          "Python loop over a jitted step: # ms (#x slower)",
                          "Python loop over a jitted step: # ms (#x slower)"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path, monkeypatch):
  nbformat = pytest.importorskip("nbformat")
  nbclient = pytest.importorskip("nbclient")
  root = str(path.parent.parent)
  monkeypatch.setenv("PYTHONPATH", root + os.pathsep + os.environ.get("PYTHONPATH", ""))
  monkeypatch.setenv("JAX_PLATFORMS", os.environ.get("JAX_PLATFORMS", "cpu"))
  monkeypatch.setenv("MPLBACKEND", "Agg")
  nb = nbformat.read(path, as_version=4)
  client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                   resources={"metadata": {"path": str(tmp_path)}})
  client.execute()  # raises CellExecutionError on the first failing cell
  errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
  assert errors == []
  got, stored = printed(nb), printed(json.loads(path.read_text()))
  assert got == stored  # what a reader sees in the stored notebook is what the code prints now
  lines = [l.strip() for cell in got for l in cell]
  for figure in KEY_FIGURES[path.stem]:
    assert any(figure in l for l in lines), figure


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_notebook_has_outputs_and_is_small(path):
  nb = json.loads(path.read_text())
  code = [c for c in nb["cells"] if c["cell_type"] == "code"]
  assert sum(bool(c.get("outputs")) for c in code) >= len(code) // 2  # stored executed, not blank
  stored_errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
  assert stored_errors == []
  # Plots are kept as PNG, but no huge embedded arrays: the whole file stays under 600 kB.
  assert path.stat().st_size < 600_000
  assert any("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", []))
