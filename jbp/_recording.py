"""One training run with the params at every recorded step, for the training page.

:func:`record_training` trains as :func:`jbp.train` does and also keeps the params at each recorded
step. It checks its arguments once, as :func:`jbp.train` does, then runs :func:`jbp.train`'s compiled
program once for every ``record_every`` updates, each run starting from where the last one stopped
(a run that diverged goes on with its NaN params, as one call would). Plain SGD carries nothing
between steps but the params, so the chunks give the numbers of one uninterrupted call, bit for bit
(tested); every run after the first reuses the same compiled program. An optax optimizer would
restart its state at each call, so optimizers are not offered here.

The page itself is :func:`jbp.render_training` (:mod:`jbp._show.training`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jbp import _checks
from jbp._activation import ActivationLike
from jbp._network import Layer, forward_program
from jbp._options import as_dtype, make_options
from jbp._train import train_program, with_trained

__all__ = ["TrainingRun", "record_training"]


class TrainingRun(NamedTuple):
  """A training run with the params at every recorded step, as :func:`record_training` returns it.

  Attributes:
    params: a tuple of :class:`jbp.Layer` whose leaves have a leading axis of records:
      ``params[l].w[k]`` is layer ``l``'s weights after ``k * record_every`` updates, shape
      ``(steps // record_every + 1, n_out, n_in)``.
    losses: shape ``(steps // record_every + 1,)``, as :func:`jbp.train` returns them.
    outputs: the network's outputs after training, shape of ``y``.
    x: the inputs, ``(n_in,)`` or ``(batch, n_in)``.
    y: the targets, ``(n_out,)`` or ``(batch, n_out)``.
    steps: the number of updates.
    record_every: updates between records.
    learning_rate, update, activation, trainable: as given to :func:`jbp.train`.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> run = jbp.record_training(ex.params, ex.inputs, ex.targets, steps=4, learning_rate=0.5)
  >>> run.params[0].w.shape, run.steps, run.record_every
  ((5, 2, 2), 4, 1)
  """

  params: tuple
  losses: np.ndarray
  outputs: np.ndarray
  x: np.ndarray
  y: np.ndarray
  steps: int
  record_every: int
  learning_rate: float
  update: str
  activation: str
  trainable: object

  def _repr_html_(self):
    """A notebook shows the run as its page."""
    from jbp._show.html import notebook_frame
    from jbp._show.training import render_training

    return notebook_frame(render_training(self), height=860)


def record_training(params: tuple[Layer, ...], x: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *,
                    steps: int, learning_rate: float, record_every: int = 1, update: str = "simultaneous",
                    activation: ActivationLike = "sigmoid",
                    trainable: str | tuple[Layer, ...] = "weights") -> TrainingRun:
  """Trains with plain SGD as :func:`jbp.train` does, keeping the params at every recorded step.

  Args:
    params, x, y: as in :func:`jbp.train`.
    steps: number of updates, an integer >= 1.
    learning_rate: a positive number.
    record_every: keep the params and the loss every this many updates; must divide ``steps``.
      The params take ``(steps // record_every + 1)`` times their size.
    update, activation, trainable: as in :func:`jbp.train`.

  Returns:
    a :class:`TrainingRun`; its final params and its losses equal those of
    ``jbp.train(params, x, y, steps=steps, record_every=record_every, ...)``.

  Raises:
    TypeError, ValueError: a bad argument, as :func:`jbp.train` raises it (``steps``
      and ``record_every`` from 1 to 2**31 - 1, finite ``params``, ``x`` and ``y``, a
      ``learning_rate`` finite in the params' dtype).

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> run = jbp.record_training(ex.params, ex.inputs, ex.targets, steps=100, learning_rate=0.5,
  ...                           record_every=10)
  >>> run.params[1].w.shape, run.losses.shape
  ((11, 2, 2), (11,))
  """
  steps = _checks.check_int("steps", steps)
  record_every = _checks.check_record_every(record_every, steps)
  # jbp.train's checks and program, for record_every updates a run.
  opts, values, dtype = make_options(
      params, x, y, steps=record_every, learning_rate=learning_rate, update=update, record_every=record_every,
      activation=activation, optimizer=None, trainable=trainable, reduction="sum", form="auto")
  xd, yd = as_dtype(x, dtype), as_dtype(y, dtype)
  p = tuple(params)  # a list of layers too
  history, losses = [p], []
  chunk = None
  for _ in range(steps // record_every):
    trained, chunk = train_program(p, xd, yd, values, opts)
    p = with_trained(p, trained, opts.mask)
    history.append(p)
    losses.append(chunk[0])  # E before this chunk: E after k * record_every updates
  assert chunk is not None  # steps >= record_every: one chunk at least
  losses.append(chunk[-1])
  stacked = jax.tree_util.tree_map(lambda *leaves: np.stack([np.asarray(v) for v in leaves]), *history)
  outputs = np.asarray(forward_program(p, xd, opts.act))  # as jbp.forward computes them (NaN if diverged)
  return TrainingRun(stacked, np.asarray(jax.device_get(losses)), outputs, np.asarray(x), np.asarray(y),
                     steps, record_every, float(learning_rate), update, opts.act.name, trainable)
