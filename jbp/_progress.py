"""Long runs in chunks: progress between chunks, a clean stop on Ctrl-C.

:func:`train_chunked` calls :func:`jbp.train` again and again with the same
number of steps, so one compiled program serves every chunk (a shorter last
chunk compiles once more). Plain SGD carries nothing between steps but the
params, so the chunked run computes exactly what one uninterrupted call
computes: the same final params and loss history, bit for bit.

A stateful optax optimizer (momentum, Adam) would restart its state at every
call of :func:`jbp.train`, so chunking is limited to plain SGD (either update
order); run other optimizers with one :func:`jbp.train` call.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax.numpy as jnp
import numpy as np

from jbp import _checks
from jbp._network import loss
from jbp._train import train

__all__ = ["Chunked", "train_chunked", "default_chunk"]


class Chunked(NamedTuple):
  """What :func:`train_chunked` returns.

  Attributes:
    params: the params after ``steps_done`` updates.
    losses: shape ``(steps_done // record_every + 1,)``, as :func:`jbp.train` returns them.
    steps_done: updates done (``steps`` unless interrupted).
    interrupted: True if a ``KeyboardInterrupt`` stopped the run early.
  """

  params: tuple
  losses: jnp.ndarray
  steps_done: int
  interrupted: bool


def default_chunk(steps: int, record_every: int = 1, chunks: int = 50, most: int = 50_000) -> int:
  """About ``steps / chunks`` updates, at most about ``most``, a multiple of ``record_every``.

  The cap keeps each chunk short (a fraction of a second for small networks), so
  progress updates often and Ctrl-C is answered quickly.
  """
  return record_every * max(1, min(steps // chunks, most) // record_every)


def train_chunked(params, x, y, *, steps, chunk_steps,
                  callback: Optional[Callable[[int, float], None]] = None, record_every=1,
                  catch_interrupt=False, **train_kwargs) -> Chunked:
  """:func:`jbp.train` for ``steps`` updates, run as chunks of ``chunk_steps``.

  Args:
    params, x, y: as in :func:`jbp.train`.
    steps: total updates.
    chunk_steps: updates a chunk; a multiple of ``record_every``.
    callback: called after each chunk as ``callback(steps_done, loss)`` (e.g. to
      update a progress bar).
    record_every: as in :func:`jbp.train`; must divide ``chunk_steps`` and ``steps``.
    catch_interrupt: on ``KeyboardInterrupt``, return what the completed chunks
      computed (``interrupted=True``) instead of raising.
    **train_kwargs: ``learning_rate``, ``update``, ``activation``, ``trainable``,
      ``reduction`` as in :func:`jbp.train` (plain SGD: no ``optimizer``).

  Returns:
    a :class:`Chunked`; for a full run its params and losses equal those of
    ``jbp.train(params, x, y, steps=steps, record_every=record_every, ...)``.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> run = jbp.train_chunked(ex.params, ex.inputs, ex.targets, steps=100, chunk_steps=25,
  ...                         learning_rate=0.5)
  >>> run.steps_done, run.losses.shape
  (100, (101,))
  """
  steps = _checks.check_int("steps", steps)
  chunk_steps = _checks.check_int("chunk_steps", chunk_steps)
  record_every = _checks.check_record_every(record_every, steps)
  if chunk_steps % record_every:
    raise ValueError(f"chunk_steps: expected a multiple of record_every={record_every}, got {chunk_steps}")
  if train_kwargs.get("optimizer") is not None:
    raise ValueError("optimizer: train_chunked runs plain SGD only (jbp.train starts a fresh optimizer "
                     "state at each call, so a stateful optimizer would restart every chunk); "
                     f"got optimizer={train_kwargs['optimizer']!r}")
  # One tuple, replaced in a single assignment, so an interrupt never leaves it half updated.
  state = (params, (), 0, None)
  interrupted = False
  try:
    while state[2] < steps:
      p, pieces, done, _ = state
      n = min(chunk_steps, steps - done)
      new, losses = train(p, x, y, steps=n, record_every=record_every, **train_kwargs)
      losses = np.asarray(losses)  # waits for the chunk to finish
      state = (new, pieces + (losses[:-1],), done + n, losses[-1])
      if callback is not None:
        callback(done + n, float(losses[-1]))
  except KeyboardInterrupt:
    if not catch_interrupt:
      raise
    interrupted = True
  p, pieces, done, last = state
  if last is None:  # stopped before the first chunk finished
    kw = {k: train_kwargs[k] for k in ("activation", "reduction") if k in train_kwargs}
    last = np.asarray(loss(p, x, y, **kw))
  return Chunked(p, jnp.asarray(np.concatenate(pieces + (np.reshape(last, (1,)),))), done, interrupted)
