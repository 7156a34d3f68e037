"""Convergence statistics of a population's recorded losses (on the host, with NumPy)."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from numpy.typing import ArrayLike

from jbp import _checks

__all__ = ["Summary", "summarize"]


class Summary(NamedTuple):
  """What :func:`summarize` returns. ``rest`` is the shape of the losses between
  the member axis and the time axis: ``()`` for :func:`jbp.train_many`, ``(m,)``
  (one entry a learning rate) for :func:`jbp.sweep`.

  Attributes:
    threshold: the loss threshold.
    fraction: shape ``rest``: the fraction of members whose final loss is below
      ``threshold``.
    first_step: shape ``(n,) + rest``, int: for each member, the number of updates
      after which its recorded loss was first below ``threshold`` (a multiple of
      ``record_every``), ``-1`` if it never was.
    quantiles: the quantile levels, e.g. ``(0.05, 0.25, 0.5, 0.75, 0.95)``.
    final_quantiles: shape ``(len(quantiles),) + rest``: empirical quantiles of the
      final loss (NumPy's ``"inverted_cdf"``, a value some member reached); a
      diverged member counts as ``+inf``.
    fraction_diverged: shape ``rest``: the fraction of members whose final loss is
      not finite (diverged members: see :class:`jbp.Population`).

  The arrays are NumPy arrays of float64, except ``first_step`` (integers).

  >>> import numpy as np, jbp
  >>> losses = np.array([[[0.3, 0.01], [0.3, 0.2]], [[0.3, 0.02], [0.3, np.nan]]])  # (n=2, m=2, T=2)
  >>> s = jbp.summarize(losses, 0.05)
  >>> s.fraction.tolist(), s.fraction_diverged.tolist(), s.final_quantiles.shape
  ([1.0, 0.0], [0.0, 0.5], (5, 2))
  """

  threshold: float
  fraction: np.ndarray
  first_step: np.ndarray
  quantiles: tuple
  final_quantiles: np.ndarray
  fraction_diverged: np.ndarray


def summarize(losses: ArrayLike, threshold: float, *, record_every: int = 1,
              quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> Summary:
  """How many members converged, when, and how far: statistics over the member axis.

  Args:
    losses: shape ``(n, ..., T)``, real numbers: member axis first, time last, as
      :func:`jbp.train_many` (``(n, T)``) and :func:`jbp.sweep` (``(n, m, T)``)
      return them; ``losses[..., k]`` is the loss after ``k * record_every`` updates.
    threshold: a number: a member has converged if its final loss is below this.
    record_every: the ``record_every`` the losses were recorded with (an integer
      >= 1), to turn recorded indices into update counts.
    quantiles: a sequence of levels in [0, 1] for the quantiles of the final loss.

  Returns:
    a :class:`Summary`.

  Raises:
    ValueError: ``losses`` not of shape ``(n, ..., T)`` with ``n, T >= 1``, a
      ``threshold`` that is not one finite number, ``record_every < 1``, or a
      quantile level outside [0, 1].
    TypeError: ``losses`` is not an array of real numbers, or ``record_every`` not
      an integer.

  >>> import numpy as np, jbp
  >>> losses = np.array([[0.3, 0.1, 0.01], [0.3, 0.2, 0.15], [0.3, 0.04, 0.02]])
  >>> s = jbp.summarize(losses, 0.05, record_every=100)
  >>> float(s.fraction), s.first_step.tolist()
  (0.6666666666666666, [200, -1, 100])
  """
  shape = _checks.check_array("losses", losses)
  if len(shape) < 2 or shape[0] < 1 or shape[-1] < 1:
    raise ValueError(f"losses: expected shape (n, ..., T) with n >= 1 members and T >= 1 recorded "
                     f"losses, got shape {shape}")
  t = np.asarray(threshold, dtype=np.float64)
  if t.shape != () or not np.isfinite(t):
    raise ValueError(f"threshold: expected a finite number, got {threshold!r}")
  record_every = _checks.check_int("record_every", record_every)
  q = np.asarray(quantiles, dtype=np.float64)
  if q.ndim != 1 or q.size == 0 or np.any(~(q >= 0) | ~(q <= 1)):
    raise ValueError(f"quantiles: expected a non-empty sequence of levels in [0, 1], got {quantiles!r}")
  losses = np.asarray(losses, dtype=np.float64)
  below = losses < t  # NaN (a diverged member) is never below
  ever = below.any(axis=-1)
  first_step = np.where(ever, below.argmax(axis=-1) * record_every, -1)
  final = losses[..., -1]
  finite = np.isfinite(final)
  ranked = np.where(finite, final, np.inf)
  return Summary(
      threshold=float(t),
      fraction=np.mean(final < t, axis=0),
      first_step=first_step,
      quantiles=tuple(float(v) for v in q),
      final_quantiles=np.quantile(ranked, q, axis=0, method="inverted_cdf"),
      fraction_diverged=np.mean(~finite, axis=0),
  )
