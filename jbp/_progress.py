"""Long runs in chunks: progress between chunks, a clean stop on Ctrl-C.

With plain SGD, :func:`train_chunked` calls :func:`jbp.train` again and again
with the same number of steps, so one compiled program serves every chunk (a
shorter last chunk compiles once more). SGD carries nothing between steps but
the params, so the chunked run computes exactly what one uninterrupted call
computes: the same final params and loss history, bit for bit.

:func:`jbp.train` starts a fresh optimizer state at each call, so for an optax
optimizer (momentum, Adam) the chunks run a loop of their own that carries the
optimizer state from chunk to chunk: the same steps as :func:`jbp.train`'s
simultaneous order (``jax.value_and_grad`` of the loss, ``update``,
``apply_updates``, frozen leaves masked with ``optax.multi_transform``).
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jbp import _checks
from jbp._network import _loss, loss
from jbp._train import _check_call, _make_optimizer, _optax_step, _scan_loop, train

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
      ``reduction`` or ``optimizer`` (an optax optimizer, whose state is carried
      from chunk to chunk; simultaneous order only), as in :func:`jbp.train`.

  Returns:
    a :class:`Chunked`; for a full run with plain SGD its params and losses equal
    those of ``jbp.train(params, x, y, steps=steps, record_every=record_every, ...)``
    bit for bit; with an optimizer, those of the same run in one chunk.

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
  optimizer = train_kwargs.pop("optimizer", None)
  if optimizer is not None:
    run_chunk, opt_state = _optimizer_chunks(params, x, y, optimizer, record_every, **train_kwargs)
  else:
    def run_chunk(p, opt_state, n):
      new, losses = train(p, x, y, steps=n, record_every=record_every, **train_kwargs)
      return new, None, losses
    opt_state = None
  # One tuple, replaced in a single assignment, so an interrupt never leaves it half updated.
  state = (params, opt_state, (), 0, None)
  interrupted = False
  try:
    while state[3] < steps:
      p, opt_state, pieces, done, _ = state
      n = min(chunk_steps, steps - done)
      new, opt_state, losses = run_chunk(p, opt_state, n)
      losses = np.asarray(losses)  # waits for the chunk to finish
      state = (new, opt_state, pieces + (losses[:-1],), done + n, losses[-1])
      if callback is not None:
        callback(done + n, float(losses[-1]))
  except KeyboardInterrupt:
    if not catch_interrupt:
      raise
    interrupted = True
  p, _, pieces, done, last = state
  if last is None:  # stopped before the first chunk finished
    kw = {k: train_kwargs[k] for k in ("activation", "reduction") if k in train_kwargs}
    last = np.asarray(loss(p, x, y, **kw))
  return Chunked(p, jnp.asarray(np.concatenate(pieces + (np.reshape(last, (1,)),))), done, interrupted)


def _optimizer_chunks(params, x, y, optimizer, record_every, *, learning_rate=None, update="simultaneous",
                      activation="sigmoid", trainable="weights", reduction="sum"):
  """``(run_chunk, initial_state)`` for an optax optimizer, its state carried between chunks."""
  _, record_every, act, mask, dtype = _check_call(params, x, y, record_every, record_every, update,
                                                  activation, optimizer, trainable, reduction,
                                                  learning_rate)
  opt = _make_optimizer(optimizer, None, mask)  # frozen leaves: zero updates, no state, as jbp.train
  xd, yd = jnp.asarray(x, dtype), jnp.asarray(y, dtype)

  def run_chunk(p, state, n):
    return _opt_chunk(p, state, xd, yd, steps=n, record_every=record_every, act=act, opt=opt,
                      reduction=reduction)

  return run_chunk, opt.init(params)


@functools.partial(jax.jit, static_argnames=("steps", "record_every", "act", "opt", "reduction"))
def _opt_chunk(params, state, x, y, *, steps, record_every, act, opt, reduction):
  """``steps`` optimizer updates from ``(params, state)``; losses as :func:`jbp.train` records them."""
  (p, s), recorded = _scan_loop(_optax_step(opt, x, y, act, reduction), (params, state), steps,
                                record_every)
  return p, s, jnp.concatenate([recorded, _loss(p, x, y, act, reduction)[None]])
