"""Plots: jbp.plot_losses and jbp.plot_population write PNG files, never over an existing one, and say how
to install matplotlib where it is missing.
"""

import os
import sys

import numpy as np
import pytest

import jbp

PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_are_pngs(tmp_path):
  steps = np.arange(0, 110, 10)
  a = np.exp(-steps / 30.0)
  p = jbp.plot_losses({"simultaneous": (steps, a), "sequential": (steps, a * 0.99)}, str(tmp_path / "l.png"))
  q = jbp.plot_population(np.exp(np.random.default_rng(0).normal(-5, 2, (3, 40))), str(tmp_path / "p.png"),
                          threshold=1e-3, learning_rates=[0.1, 0.5, 2.0])
  for f in (p, q):
    data = open(f, "rb").read()
    assert data.startswith(PNG) and len(data) > 10_000
  with pytest.raises(FileExistsError):
    jbp.plot_losses({"a": (steps, a)}, p)


def test_missing_matplotlib_says_how_to_install(monkeypatch, tmp_path):
  for name in list(sys.modules):
    if name == "matplotlib" or name.startswith("matplotlib."):
      monkeypatch.delitem(sys.modules, name)
  monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
  with pytest.raises(ImportError, match=r"plot: expected matplotlib to draw the figure, got none installed; "
                                        r"install it with: pip install"):
    jbp.plot_losses({"a": ([0, 1], [1.0, 0.5])}, str(tmp_path / "x.png"))
  assert not os.listdir(tmp_path)
