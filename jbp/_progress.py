"""Long runs in chunks: progress between chunks, a clean stop on Ctrl-C.

:func:`train_chunked` runs the program of :func:`jbp.train` again and again on
chunks of the same number of steps (so one compiled program serves every chunk;
a shorter last chunk compiles once more), carrying the params and the optimizer
state (momentum, Adam's moments) from chunk to chunk. The chunked run computes
exactly what one uninterrupted call computes: the same final params and loss
history, bit for bit.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jbp import _checks
from jbp._layer import Layer
from jbp._network import loss
from jbp._options import as_dtype, make_options
from jbp._train import init_state, run_program

__all__ = ["Chunked", "train_chunked", "default_chunk"]


class Chunked(NamedTuple):
  """What :func:`train_chunked` returns.

  Attributes:
    params: the params after ``steps_done`` updates.
    losses: shape ``(steps_done // record_every + 1,)``, as :func:`jbp.train` returns them.
    steps_done: updates done (``steps`` unless interrupted).
    interrupted: True if a ``KeyboardInterrupt`` stopped the run early.
    opt_state: the optimizer's state after ``steps_done`` updates (momentum, Adam's moments),
      which ``train_chunked(..., resume=run)`` carries on from.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> run = jbp.train_chunked(ex.params, ex.inputs, ex.targets, steps=10, chunk_steps=5, learning_rate=0.5)
  >>> run.steps_done, run.interrupted
  (10, False)
  """

  params: tuple
  losses: jnp.ndarray
  steps_done: int
  interrupted: bool
  opt_state: object = None


def default_chunk(steps: int, record_every: int = 1, chunks: int = 50, most: int = 50_000) -> int:
  """About ``steps / chunks`` updates, at most about ``most``, a multiple of ``record_every``.

  The cap keeps each chunk short (a fraction of a second for small networks), so
  progress updates often and Ctrl-C is answered quickly.
  """
  return record_every * max(1, min(steps // chunks, most) // record_every)


def train_chunked(params: tuple[Layer, ...], x: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *, steps: int,
                  chunk_steps: int, callback: Optional[Callable[[int, float], None]] = None,
                  record_every: int = 1, catch_interrupt: bool = False, resume: Optional[Chunked] = None,
                  **train_kwargs: Any) -> Chunked:
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
    resume: a :class:`Chunked` this call continues, e.g. one an interrupt stopped: its params,
      optimizer state and losses so far are the start, and ``steps`` is still the whole run's
      (``params`` must be the run's first params, as given to the call that began it). The
      result equals one uninterrupted call's, bit for bit. To keep a run across processes,
      save its fields (``jbp.save_params`` for the params; the command line's ``--out`` does it
      all, and ``jbp train --resume DIR`` continues it).
    **train_kwargs: ``learning_rate``, ``update``, ``activation``, ``trainable``,
      ``reduction`` or ``optimizer`` (an optax optimizer, whose state is carried
      from chunk to chunk; simultaneous order only), as in :func:`jbp.train`.

  Returns:
    a :class:`Chunked`; for a full run with plain SGD its params and losses equal
    those of ``jbp.train(params, x, y, steps=steps, record_every=record_every, ...)``
    bit for bit; with an optimizer, those of the same run in one chunk.

  Raises:
    TypeError, ValueError: a bad argument (as in :func:`jbp.train`), ``chunk_steps``
      not a multiple of ``record_every``, or an argument ``jbp.train`` does not take.
    KeyboardInterrupt: Ctrl-C, unless ``catch_interrupt``.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> run = jbp.train_chunked(ex.params, ex.inputs, ex.targets, steps=100, chunk_steps=25,
  ...                         learning_rate=0.5)
  >>> run.steps_done, run.losses.shape
  (100, (101,))

  Continuing a run that stopped early (here after 50 of 100 steps):

  >>> half = jbp.train_chunked(ex.params, ex.inputs, ex.targets, steps=50, chunk_steps=25, learning_rate=0.5)
  >>> rest = jbp.train_chunked(ex.params, ex.inputs, ex.targets, steps=100, chunk_steps=25,
  ...                          learning_rate=0.5, resume=half)
  >>> bool((rest.losses == run.losses).all()), rest.steps_done
  (True, 100)
  """
  steps = _checks.check_int("steps", steps)
  chunk_steps = _checks.check_int("chunk_steps", chunk_steps)
  record_every = _checks.check_record_every(record_every, steps)
  if chunk_steps % record_every:
    raise ValueError(f"chunk_steps: expected a multiple of record_every={record_every}, got {chunk_steps}")
  kw: dict[str, Any] = dict(learning_rate=None, update="simultaneous", activation="sigmoid", optimizer=None,
                            trainable="weights", reduction="sum", form="auto", unroll=1)
  unknown = set(train_kwargs) - set(kw)
  if unknown:
    raise TypeError(f"{sorted(unknown)[0]}: not an argument of train_chunked; expected one of {sorted(kw)}")
  kw.update(train_kwargs)
  opts, values, dtype = make_options(params, x, y, steps=chunk_steps, record_every=record_every, **kw)
  xd, yd = as_dtype(x, dtype), as_dtype(y, dtype)

  def run_chunk(p, state, n):
    new, state, losses, _ = run_program(p, state, xd, yd, values, dataclasses.replace(opts, steps=n))
    return new, state, losses

  opt_state = init_state(opts, values, params)
  # One tuple, replaced in a single assignment, so an interrupt never leaves it half updated.
  state = (params, opt_state, (), 0, None)
  if resume is not None:
    if not isinstance(resume, Chunked):
      raise TypeError(f"resume: expected a Chunked that train_chunked returned, got {type(resume).__name__}")
    if resume.steps_done > steps or resume.steps_done % record_every:
      raise ValueError(f"resume: expected a run of at most steps={steps} updates, stopped at a multiple "
                       f"of record_every={record_every}, got one of {resume.steps_done} updates")
    kept = np.asarray(resume.losses)
    state = (resume.params, resume.opt_state if resume.opt_state is not None else opt_state,
             (kept[:-1],), resume.steps_done, kept[-1])
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
  p, opt_state, pieces, done, last = state
  if last is None:  # stopped before the first chunk finished
    last = np.asarray(loss(p, x, y, activation=kw["activation"], reduction=kw["reduction"]))
  return Chunked(p, jnp.asarray(np.concatenate(pieces + (np.reshape(last, (1,)),))), done, interrupted,
                 opt_state)
