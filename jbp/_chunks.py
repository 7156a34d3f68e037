"""A long population run in chunks of about a second: progress as it goes, and a prompt Ctrl-C.

:func:`train_many_chunked` runs :func:`jbp.train_many` again and again on the
population it returned. Plain SGD carries nothing between steps but the params, so
the chunks compute what one uninterrupted call computes. The chunk size comes from
a measurement: two small first chunks (the first compiles) time a step, and later
chunks take about ``seconds`` each (:func:`chunk_steps`). A chunk never crosses a
multiple of ``record_every``, so the recorded losses are those of one call. While
a chunk runs, the caller's thread polls for its result, so Ctrl-C is answered at
once; the state kept is the one after the last finished chunk.

Each distinct chunk size compiles once: the probe, the measured size, and at most
two sizes that meet ``record_every`` and the end of the run.
"""

from __future__ import annotations

import time
from typing import Callable, NamedTuple, Optional

import jax
import numpy as np

__all__ = ["chunk_steps", "probe_steps", "train_many_chunked", "ChunkedPopulation"]

PROBE_STEPS = 1000


class ChunkedPopulation(NamedTuple):
  """What :func:`train_many_chunked` returns.

  Attributes:
    params: the population after ``steps_done`` updates (leading axis ``n``).
    losses: shape ``(n, T)``: the losses after ``0, r, 2r, ...`` updates
      (``r = record_every``), and last after ``steps_done`` if that is no multiple of ``r``.
    steps: shape ``(T,)``: the update count of each entry of ``losses``.
    steps_done: updates done.
    interrupted: True if Ctrl-C stopped the run early.
  """

  params: tuple
  losses: np.ndarray
  steps: np.ndarray
  steps_done: int
  interrupted: bool


def _divisors(r):
  small = [d for d in range(1, int(r ** 0.5) + 1) if r % d == 0]
  return sorted(set(small + [r // d for d in small]))


def chunk_steps(seconds_per_step: float, steps_left: int, record_every: int, seconds: float = 1.0) -> int:
  """Steps for a chunk of about ``seconds``: a multiple of ``record_every`` or one of its divisors.

  At least one step, at most ``steps_left``.

  >>> chunk_steps(2e-5, 10**9, 500_000), chunk_steps(1e-5, 10**9, 1000)
  (50000, 100000)
  """
  want = max(1, round(seconds / max(seconds_per_step, 1e-12)))
  if want >= record_every:
    c = want // record_every * record_every
  else:
    c = max(d for d in _divisors(record_every) if d <= want)
  return max(1, min(c, steps_left))


def probe_steps(steps: int, record_every: int) -> int:
  """The first chunks' size: about ``PROBE_STEPS`` updates that fit the records (a multiple of
  ``record_every``, or one of its divisors), at most ``steps``.

  >>> probe_steps(10_000, 100), probe_steps(50_000_000, 500_000), probe_steps(100, 1)
  (1000, 1000, 100)
  """
  if record_every <= PROBE_STEPS:
    size = PROBE_STEPS // record_every * record_every
  else:
    size = max(d for d in _divisors(record_every) if d <= PROBE_STEPS)
    if size < PROBE_STEPS // 10:  # a record_every with no fitting divisor: one record a chunk
      size = record_every
  return min(size, steps)


def _wait(arrays):
  """Blocks until ``arrays`` are computed, in short sleeps, so that Ctrl-C is answered at once."""
  while not all(a.is_ready() for a in arrays):
    time.sleep(0.002)


def train_many_chunked(train_many, params, *, steps: int, record_every: int, seconds: float = 1.0,
                       callback: Optional[Callable[[int, np.ndarray], None]] = None,
                       clock=time.perf_counter) -> ChunkedPopulation:
  """``train_many(params, steps=s, record_every=q)`` in chunks of about ``seconds``.

  Ctrl-C keeps what the finished chunks computed.

  Args:
    train_many: ``(params, *, steps, record_every) -> jbp.Population``, e.g. a
      ``functools.partial`` of :func:`jbp.train_many` with the data and options bound.
    params: the population, leading axis ``n``.
    steps: total updates, a multiple of ``record_every``.
    record_every: keep the loss every this many updates.
    seconds: the wanted duration of a chunk.
    callback: called after each chunk as ``callback(steps_done, last_losses)``.
    clock: the clock the chunks are measured with.

  Returns:
    a :class:`ChunkedPopulation`. A ``KeyboardInterrupt`` before the first chunk
    finished is raised again: there is nothing to keep.
  """
  r = record_every
  # (params, steps done, recorded steps, recorded losses, losses after the steps done): one tuple,
  # replaced in a single assignment, so Ctrl-C never leaves it half updated.
  state = (params, 0, (), (), None)
  size, probes, interrupted = probe_steps(steps, r), 0, False
  try:
    while state[1] < steps:
      p, done, rec_steps, rec_losses, _ = state
      if done % r == 0 and size % r == 0:
        s = min(size, steps - done)
      else:  # a chunk never crosses a multiple of record_every
        s = min(size, r - done % r)
      q = r if done % r == 0 and s % r == 0 else s
      t0 = clock()
      res = train_many(p, steps=s, record_every=q)
      _wait([res.losses] + jax.tree_util.tree_leaves(res.params))
      took = clock() - t0
      losses = np.asarray(res.losses)
      at = done + q * np.arange(losses.shape[1] - 1)  # the last entry is the next chunk's first
      keep = np.flatnonzero(at % r == 0)
      state = (res.params, done + s, rec_steps + tuple(int(a) for a in at[keep]),
               rec_losses + tuple(losses[:, k] for k in keep), losses[:, -1])
      if callback is not None:
        callback(done + s, losses[:, -1])
      probes += 1
      if probes == 2:  # the first chunk compiled; the second, of the same size, times a step
        size = chunk_steps(took / s, steps - done - s, r, seconds)
  except KeyboardInterrupt:
    if state[4] is None:
      raise
    interrupted = True
  p, done, rec_steps, rec_losses, last = state
  if not rec_steps or rec_steps[-1] != done:
    rec_steps, rec_losses = rec_steps + (done,), rec_losses + (last,)
  return ChunkedPopulation(p, np.stack(rec_losses, axis=1), np.asarray(rec_steps), done, interrupted)
