"""Figures as PNG files (matplotlib, the optional ``plot`` extra).

Figures are drawn on a ``matplotlib.figure.Figure`` with the Agg canvas, never
through pyplot, so plotting changes no global matplotlib state and needs no
display. Files are written atomically and an existing file is kept unless
``force=True``. Numbers in labels are written as the command line writes them:
9 significant digits, or scientific notation below 1e-4.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
from numpy.typing import ArrayLike

from jbp._files import StrPath, atomic_write, check_writable
from jbp._show.format import number

if TYPE_CHECKING:
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure

__all__ = ["plot_losses", "plot_population", "require_matplotlib"]

INSTALL_HINT = "install it with: pip install 'jbp[plot]' (or pip install matplotlib)"


def plain_text(text: str) -> str:
  r"""``text`` as matplotlib shows it literally: a ``$`` would start its math parser (a file named
  ``$\foo{$.csv`` in a title failed the whole run after training).

  >>> plain_text(r"$\foo{$.csv")
  '\\$\\foo{\\$.csv'
  """
  return str(text).replace("$", r"\$")


def require_matplotlib() -> tuple[type[Figure], type[FigureCanvasAgg]]:
  """Imports matplotlib's Agg canvas, or raises ImportError saying how to install it."""
  try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
  except ImportError:
    raise ImportError(f"plot: expected matplotlib to draw the figure, got none installed; {INSTALL_HINT}"
                      ) from None
  return Figure, FigureCanvasAgg


def _save(fig: Figure, canvas_cls: type[FigureCanvasAgg], path: StrPath, force: bool) -> str:
  canvas_cls(fig)
  buf = io.BytesIO()
  fig.savefig(buf, format="png", dpi=120)
  return atomic_write(path, lambda f: f.write(buf.getvalue()), force=force, name="plot")


def plot_losses(curves: Mapping[str, tuple[ArrayLike, ArrayLike]], path: StrPath, *,
                title: str = "Training loss", force: bool = False) -> str:
  """Loss curves on a log axis, one line a curve, written as a PNG.

  Two curves over the same steps (the two update orders, say) get a second panel
  with their difference, since at this scale they lie on top of each other.

  Args:
    curves: ``{label: (steps, losses)}``; ``steps`` and ``losses`` 1-d arrays of
      equal length, e.g. ``jnp.arange(steps + 1)`` and the losses of :func:`jbp.train`.
    path: the PNG file to write (a ``str`` or ``os.PathLike``).
    title: the figure's title.
    force: overwrite an existing file.

  Returns:
    the path written.

  Raises:
    ImportError: matplotlib is not installed (the message says how to install it).
    FileExistsError: ``path`` exists and ``force`` is False.
    ValueError: ``path`` is a folder, or its folder is missing or not writable.

  >>> import os, tempfile, numpy as np, jbp
  >>> ex = jbp.worked_example()
  >>> _, losses = jbp.train(ex.params, ex.inputs, ex.targets, steps=100, learning_rate=0.5)
  >>> path = os.path.join(tempfile.mkdtemp(), "loss.png")
  >>> jbp.plot_losses({"sgd": (np.arange(101), losses)}, path) == path
  True
  """
  Figure, Canvas = require_matplotlib()
  check_writable(path, force=force, name="plot")
  items = [(label, np.asarray(s), np.asarray(v, np.float64)) for label, (s, v) in curves.items()]
  # Two curves on the same steps (the two update orders) lie on top of each other at
  # this scale, so a second panel shows how far apart they are.
  compare = len(items) == 2 and np.array_equal(items[0][1], items[1][1])
  fig = Figure(figsize=(7, 6.5 if compare else 4.5))
  ax = fig.add_subplot(2 if compare else 1, 1, 1)
  styles = ["-", "--", ":", "-."]
  for k, (label, steps, losses) in enumerate(items):
    ax.plot(steps, losses, styles[k % 4], label=f"{label} (final {number(losses[-1])})", lw=1.6)
  ax.set_yscale("log")
  ax.set_xlabel("update step")
  ax.set_ylabel("total error E (log scale)")
  ax.set_title(plain_text(title))
  ax.grid(True, which="both", alpha=0.3)
  ax.legend()
  if compare:
    (la, steps, a), (lb, _, b) = items
    ax2 = fig.add_subplot(2, 1, 2, sharex=ax)
    diff = np.abs(a - b)
    ax2.plot(steps[diff > 0], diff[diff > 0], color="k", lw=1.2)
    ax2.set_yscale("log")
    ax2.set_xlabel("update step")
    ax2.set_ylabel(f"|E {la} - E {lb}| (log)")
    ax2.set_title("difference between the two curves")
    ax2.grid(True, which="both", alpha=0.3)
  fig.tight_layout()
  return _save(fig, Canvas, path, force)


def plot_population(final_losses: ArrayLike, path: StrPath, *, threshold: float | None = None,
                    learning_rates: ArrayLike | None = None, converged: ArrayLike | None = None,
                    title: str = "Population", force: bool = False) -> str:
  """The distribution of final losses, and (optionally) a convergence map, written as a PNG.

  Args:
    final_losses: final loss of each member, shape ``(n,)``, or ``(n_lr, n)`` for a
      sweep over learning rates (``jbp.sweep(...).losses[..., -1].T``); non-finite
      losses (diverged members) are left out of the histogram.
    path: the PNG file to write (a ``str`` or ``os.PathLike``).
    threshold: a loss below which a member counts as converged (a line on the histogram).
    learning_rates: shape ``(n_lr,)``, for a sweep: adds a map of convergence over
      learning rate (rows) and initialization (columns).
    converged: bool array of shape ``(n_lr, n)``; defaults to ``final_losses < threshold``.
    title: the figure's title.
    force: overwrite an existing file.

  Returns:
    the path written.

  Raises:
    ImportError: matplotlib is not installed (the message says how to install it).
    FileExistsError: ``path`` exists and ``force`` is False.
    ValueError: ``path`` is a folder, or its folder is missing or not writable.

  >>> import os, tempfile, jax, jbp
  >>> ex = jbp.worked_example()
  >>> pop = jbp.init_many(jax.random.key(0), 50, (2, 2, 2), method="uniform", shared_bias=True)
  >>> res = jbp.sweep(pop, ex.inputs, ex.targets, learning_rates=[0.5, 2.0], steps=200, record="final")
  >>> path = os.path.join(tempfile.mkdtemp(), "sweep.png")
  >>> jbp.plot_population(res.losses[..., -1].T, path, threshold=0.01,
  ...                     learning_rates=[0.5, 2.0]) == path
  True
  """
  Figure, Canvas = require_matplotlib()
  check_writable(path, force=force, name="plot")
  losses = np.asarray(final_losses, np.float64)
  sweep = learning_rates is not None and losses.ndim == 2
  fig = Figure(figsize=(12 if sweep else 7, 4.5))
  ax = fig.add_subplot(1, 2 if sweep else 1, 1)
  rows = losses if losses.ndim == 2 else losses[None]
  positive = rows[np.isfinite(rows) & (rows > 0)]
  lo, hi = (positive.min(), positive.max()) if positive.size else (1e-8, 1.0)
  bins = np.logspace(np.log10(lo) - 0.05, np.log10(hi) + 0.05, 40)
  labels = ([f"lr {number(lr)}" for lr in np.asarray(learning_rates)] if sweep else [None])
  for row, label in zip(rows, labels):
    style: dict[str, Any] = dict(histtype="step", lw=1.8) if len(rows) > 1 else dict(alpha=0.8)
    ax.hist(np.clip(row[np.isfinite(row)], lo, None), bins=bins, label=label, **style)
  ax.set_xscale("log")
  ax.set_xlabel("final total error E (log scale)")
  ax.set_ylabel("members")
  ax.set_title(f"final losses ({rows.shape[-1]} members)")
  fig.suptitle(plain_text(title))
  if threshold is not None:
    ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {number(threshold)}")
  if sweep or threshold is not None:
    ax.legend()
  if sweep:
    if converged is not None:
      conv = np.asarray(converged, bool)
    elif threshold is not None:
      conv = np.asarray(losses < threshold, bool)
    else:
      raise TypeError("plot: expected converged= or threshold= for the convergence map, got neither")
    ax2 = fig.add_subplot(1, 2, 2)
    im = ax2.imshow(conv.astype(float), aspect="auto", interpolation="nearest", cmap="RdYlGn",
                    vmin=0, vmax=1)
    lrs = np.asarray(learning_rates)
    ax2.set_yticks(range(len(lrs)), [number(lr) for lr in lrs])
    ax2.set_ylabel("learning rate")
    ax2.set_xlabel("initialization (member index)")
    ax2.set_title("converged (green) or not (red)")
    fig.colorbar(im, ax=ax2, ticks=[0, 1], label="converged")
  fig.tight_layout()
  return _save(fig, Canvas, path, force)
