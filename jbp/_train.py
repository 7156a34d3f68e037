"""Training: the whole loop is one ``lax.scan`` inside one jitted program.

Two update orders are offered by name:

* ``"simultaneous"`` (the default): textbook gradient descent. All gradients are
  taken at the same params, then every trainable leaf is updated at once, by
  plain SGD or by any optax optimizer.
* ``"sequential"``: the output layer is updated first, and each earlier layer's
  deltas flow through the already-updated later layers. This is what the worked
  example's reference program did, and it reproduces the published iteration
  figures.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from jbp import _checks, _fast
from jbp._activation import Activation, resolve_activation
from jbp._backprop import _delta_rule
from jbp._network import REDUCTIONS, Layer, _loss

__all__ = ["train", "UPDATES", "trainable_mask"]

UPDATES = ("simultaneous", "sequential")
TRAINABLE = ("weights", "all")


def trainable_mask(params, trainable="weights"):
  """Which leaves train, as a static tuple of ``(w, b)`` bools, one pair a layer.

  Args:
    params: a tuple of :class:`Layer`.
    trainable: ``"weights"`` (the worked example's rule: biases stay fixed),
      ``"all"``, or a tuple of ``Layer(w=bool, b=bool)`` with the structure of params.
  """
  n = len(params)
  if isinstance(trainable, str):
    _checks.check_choice("trainable", trainable, TRAINABLE)
    return tuple((True, trainable == "all") for _ in range(n))
  ok = isinstance(trainable, (tuple, list)) and len(trainable) == n and all(
      isinstance(t, Layer) and all(isinstance(v, bool) for v in t) for t in trainable)
  if not ok:
    raise ValueError(f"trainable: expected 'weights', 'all' or a tuple of {n} jbp.Layer(w=bool, "
                     f"b=bool), got {trainable!r}")
  return tuple((t.w, t.b) for t in trainable)


def _labels(mask):
  return tuple(Layer("train" if w else "freeze", "train" if b else "freeze") for w, b in mask)


def _make_optimizer(optimizer, learning_rate, mask):
  opt = optimizer if optimizer is not None else optax.sgd(learning_rate)
  if all(w and b for w, b in mask):
    return opt
  # optax's own freezing: the frozen leaves get zero updates and no optimizer state.
  return optax.multi_transform({"train": opt, "freeze": optax.set_to_zero()}, _labels(mask))


def _optax_step(opt, x, y, act, reduction):
  """One simultaneous update by an optax optimizer: ``(params, state) -> ((params, state), E_before)``."""

  def step_fn(c):
    p, state = c
    E, g = jax.value_and_grad(_loss)(p, x, y, act, reduction)
    updates, state = opt.update(g, state, p)
    return (optax.apply_updates(p, updates), state), E

  return step_fn


def check_optimizer(optimizer, update, learning_rate):
  """An optax optimizer is for the simultaneous order, and carries its own learning rate."""
  if update == "sequential":
    raise ValueError(f"optimizer: the sequential update order is defined for plain SGD only; "
                     f"pass learning_rate=... and no optimizer, got optimizer={optimizer!r}")
  if not isinstance(optimizer, optax.GradientTransformation):
    raise TypeError(f"optimizer: expected an optax GradientTransformation such as "
                    f"optax.adam(1e-2), got {type(optimizer).__name__}")
  if learning_rate is not None:
    raise ValueError("learning_rate: expected None when optimizer is given (the optimizer "
                     f"carries its own learning rate), got {learning_rate!r}")


def _sequential_step(params, x, y, lr, act, reduction, mask):
  def step(l, layer, grad):
    w = layer.w - lr * grad.w if mask[l][0] else layer.w
    b = layer.b - lr * grad.b if mask[l][1] else layer.b
    return Layer(w, b)

  E, _, new = _delta_rule(params, x, y, act, reduction, step=step)
  return E, new


def _scan_loop(step_fn, carry, steps: int, record_every: int):
  """Runs ``step_fn(carry) -> (carry, E_before)`` ``steps`` times.

  Returns the final carry and the losses recorded every ``record_every`` steps,
  shape ``(steps // record_every,)``: the loss before each recorded chunk. A
  nested scan, so only the recorded losses are ever stored.
  """

  def inner(c, i):
    carry, first = c
    carry, E = step_fn(carry)
    return (carry, jnp.where(i == 0, E, first)), None

  def outer(carry, _):
    (carry, first), _ = lax.scan(inner, (carry, jnp.zeros((), carry_dtype)), jnp.arange(record_every))
    return carry, first

  carry_dtype = jax.tree_util.tree_leaves(carry)[0].dtype
  return lax.scan(outer, carry, None, length=steps // record_every)


@functools.partial(jax.jit, static_argnames=("steps", "record_every", "update", "act", "optimizer",
                                             "mask", "reduction"))
def _train(params, x, y, lr, *, steps: int, record_every: int, update: str, act: Activation,
           optimizer, mask, reduction: str):
  batch = x.shape[0] if jnp.ndim(x) == 2 else None
  if optimizer is None and _fast.supported(_checks.check_params(params), batch):
    # Plain SGD on a small network: the same delta rule, written to compile into few kernels.
    return _fast.train_sgd(params, x, y, lr, steps=steps, act=act, reduction=reduction, mask=mask,
                           sequential=update == "sequential", record_every=record_every)
  final, recorded = _general(params, x, y, lr, steps=steps, record_every=record_every, update=update,
                             act=act, optimizer=optimizer, mask=mask, reduction=reduction)
  return final, jnp.concatenate([recorded, _loss(final, x, y, act, reduction)[None]])


def _general(params, x, y, lr, *, steps, record_every, update, act, optimizer, mask, reduction):
  """Any optimizer, any size: ``jax.grad`` and optax, or the delta rule's sequential step, in a scan.

  Returns ``(final_params, recorded)``: the losses before each chunk, as :func:`_scan_loop`.
  """
  if update == "sequential":
    def step_fn(p):
      E, p = _sequential_step(p, x, y, lr, act, reduction, mask)
      return p, E
    carry = params
  else:
    opt = _make_optimizer(optimizer, lr, mask)
    step_fn = _optax_step(opt, x, y, act, reduction)
    carry = (params, opt.init(params))

  carry, recorded = _scan_loop(step_fn, carry, steps, record_every)
  return (carry if update == "sequential" else carry[0]), recorded


def _as_dtype(a, dtype):
  """``a`` as an array of ``dtype``; a JAX array (or tracer) that has it already is passed as is.

  ``jnp.asarray`` runs a conversion even then, and on a 10,000-step run of the worked
  example its dispatch was a tenth of the whole call's time.
  """
  if isinstance(a, jax.Array):
    return a if a.dtype == dtype else jnp.asarray(a, dtype)
  return np.asarray(a, dtype)


def train(params, x, y, *, steps, learning_rate=None, update="simultaneous", record_every=1,
          activation="sigmoid", optimizer=None, trainable="weights", reduction="sum"):
  """Trains ``params`` on ``(x, y)`` for ``steps`` updates in one compiled program.

  The loop is ``jax.jit`` + ``lax.scan``: no Python loop over steps. A second call
  with the same shapes, dtypes and options compiles nothing new; the learning
  rate is a traced value, so changing it does not recompile either.

  Args:
    params: a tuple of :class:`jbp.Layer`.
    x: shape ``(n_in,)`` or ``(batch, n_in)`` (full batch every step).
    y: shape ``(n_out,)`` or ``(batch, n_out)``.
    steps: number of updates, an integer >= 1.
    learning_rate: a positive scalar (a Python float or a 0-d array, which may be
      traced, e.g. under ``jax.vmap``). Required unless ``optimizer`` is given.
    update: ``"simultaneous"`` (textbook gradient descent, the default) or
      ``"sequential"`` (output layer first; reproduces the published figures).
    record_every: record the loss every this many updates; must divide ``steps``.
    activation: as in :func:`jbp.forward`.
    optimizer: any optax ``GradientTransformation`` (simultaneous order only),
      used instead of plain SGD with ``learning_rate``. Reuse the same object
      across calls: a new optimizer object compiles a new program.
    trainable: which leaves train: ``"weights"`` (the default, as the worked
      example: biases stay fixed), ``"all"``, or a tuple of ``Layer(w=bool, b=bool)``.
      Frozen leaves are masked with ``optax.multi_transform``.
    reduction: ``"sum"`` or ``"mean"`` of the loss over a batch, as in :func:`jbp.loss`.

  Returns:
    ``(final_params, losses)``: ``losses`` has shape ``(steps // record_every + 1,)``
    and ``losses[k]`` is E after ``k * record_every`` updates (``losses[0]`` is the
    error before training, ``losses[-1]`` after the last update).

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> params, losses = jbp.train(ex.params, ex.inputs, ex.targets, steps=1000,
  ...                            learning_rate=0.5, record_every=100)
  >>> losses.shape
  (11,)
  """
  steps, record_every, act, mask, dtype = _check_call(params, x, y, steps, record_every, update, activation,
                                                      optimizer, trainable, reduction, learning_rate)
  if optimizer is None and type(learning_rate) is float and 0.0 < learning_rate < math.inf:
    # The common case, checked without NumPy's machinery. A host scalar, not jnp.asarray:
    # jit's dispatch takes it for a few microseconds, where a device array costs ~70 µs.
    lr = np.asarray(learning_rate, dtype)
  else:
    lr = _learning_rate(learning_rate, optimizer, update, dtype)
  return _train(params, _as_dtype(x, dtype), _as_dtype(y, dtype), lr, steps=steps,
                record_every=record_every, update=update, act=act, optimizer=optimizer,
                mask=mask, reduction=reduction)


def _check_call(params, x, y, steps, record_every, update, activation, optimizer, trainable, reduction,
                learning_rate=None):
  """Every check of a call but the learning rate's value; -> (steps, record_every, act, mask, dtype)."""
  sizes = _checks.check_params(params)
  _checks.check_data(x, y, sizes)
  steps = _checks.check_int("steps", steps)
  record_every = _checks.check_record_every(record_every, steps)
  _checks.check_choice("update", update, UPDATES)
  _checks.check_choice("reduction", reduction, REDUCTIONS)
  act = resolve_activation(activation)
  mask = trainable_mask(params, trainable)
  dtype = np.dtype(params[0].w.dtype) if hasattr(params[0].w, "dtype") else jnp.result_type(params[0].w)
  if optimizer is not None:
    check_optimizer(optimizer, update, learning_rate)
  return steps, record_every, act, mask, dtype


def _learning_rate(learning_rate, optimizer, update, dtype):
  """The learning rate as a 0-d array of ``dtype``, checked (zero when an optimizer carries its own)."""
  if optimizer is not None:
    return np.zeros((), dtype)
  _checks.check_learning_rate(learning_rate)
  return _as_dtype(learning_rate, dtype)
