"""The options of a training run: one frozen, hashable record, checked where it is made.

Everything static about a run (steps, recording, update order, activation, frozen
leaves, optimizer kind, the forward pass's form) is an :class:`Options`, the key of
the compiled program. The learning rate and an optimizer's other float
hyperparameters are not in it: they are values of the program, so a new one
compiles nothing.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jbp import _checks
from jbp._activation import Activation, resolve_activation
from jbp._calls import as_dtype
from jbp._layer import Layer
from jbp._network import FORMS, REDUCTIONS
from jbp._optimizer import SGD, Optimizer, StaticOptimizer, check_hyperparams, split_optimizer

__all__ = ["Options", "make_options", "trainable_mask", "as_dtype", "UPDATES"]

UPDATES = ("simultaneous", "sequential")
"""The update orders ``update=`` takes: textbook gradient descent, and the worked example's order.

>>> import jbp
>>> jbp.UPDATES
('simultaneous', 'sequential')
"""
TRAINABLE = ("weights", "all")


@dataclasses.dataclass(frozen=True)
class Options:
  """Everything static about a training run: one hashable record, the compiled program's key.

  Attributes:
    steps: updates, >= 1.
    record_every: the loss is recorded every this many updates; divides ``steps``.
    update: ``"simultaneous"`` or ``"sequential"``.
    act: the :class:`jbp.Activation`.
    reduction: ``"sum"`` or ``"mean"`` over a batch.
    mask: one ``Layer(w=bool, b=bool)`` a layer: which leaves train.
    optimizer: the optimizer's static part (see ``jbp._optimizer``); its float
      hyperparameters are passed to the program as values.
    form: ``"unrolled"`` or ``"matmul"``: how the forward pass is laid out (``jbp._network``).
    unroll: steps an iteration of the compiled loop (``lax.fori_loop``'s ``unroll``).
    watch: also find each run's first non-finite loss (populations).
  """

  steps: int
  record_every: int
  update: str
  act: Activation
  reduction: str
  mask: tuple
  optimizer: StaticOptimizer
  form: str
  unroll: int = 1
  watch: bool = False
  _hash: int = dataclasses.field(init=False, repr=False, compare=False)

  def __post_init__(self):
    # jit hashes a static argument at every call: once here instead (0.2 µs a call of jbp.train).
    object.__setattr__(self, "_hash", hash(tuple(getattr(self, f.name) for f in dataclasses.fields(self)
                                                 if f.compare)))

  def __hash__(self):
    return self._hash


# "auto" unrolls one network on a CPU when one step of it has at most this many weight-times-example
# products. The unrolled form's steps ran 0.22x to 5.6x as long as the matmul form's, by whether XLA
# compiled each form's loop into one function, and it compiles longer: up to 24 products the two forms'
# first calls (compile, then 10,000 steps) took the same time within 0.05 s, and above, the unrolled
# form's took 0.92x to 3.8x as long (0.02 s shorter to 0.78 s longer) for every network measured
# (benchmarks/forms.py; benchmarks/README.md, "Which form"). A long run of a small network may step
# up to 4x faster with form="unrolled".
UNROLL_LIMIT = 24
# A population unrolls up to this many: there each weight is a vector over the members, and the
# unrolled form's step ran 0.1x to 0.5x as long as the matmul form's (2-5-1, 2-16-1, 2-8-8-2 and
# 2-4-4-4-1 on four examples, 2,000 members; docs/populations.md).
POPULATION_UNROLL_LIMIT = 512
# ... and when it has at most this many layers. Deeper, the matmul form compiled about 4x faster
# (width 2, 100 layers: 1.3 s against 5.8 s; benchmarks/depth.py) and its steps ran as fast or
# faster. Steps timed in one process, float64, 2,000 steps, unrolled over matmul: one example of
# width 2, 1.2x at 3 and 4 layers, 1.3x to 1.6x at 8, 32 and 64; four examples, 2-3-3-3-3-3-1, 3.6x.
# Up to 4 layers the unrolled form still won for populations: 2,000 3-layer networks 0.67x
# (benchmarks/README.md, "Deep networks").
UNROLL_LAYERS = 4


def choose_form(form, sizes, batch, platform, population: bool = False) -> str:
  """``"unrolled"`` or ``"matmul"`` for ``form="auto"``, by the network's size and the platform.

  The unrolled form on a CPU for a network of at most :data:`UNROLL_LAYERS` layers and at most
  :data:`UNROLL_LIMIT` weight-times-example products a step (:data:`POPULATION_UNROLL_LIMIT` for a
  population), the matmul form otherwise.

  Args:
    form: ``"auto"``, ``"unrolled"`` or ``"matmul"``.
    sizes: the layer sizes.
    batch: the number of examples (None for one).
    platform: ``"cpu"``, ``"gpu"``, ...
    population: whether the program trains a population (``train_many``).
  """
  _checks.check_choice("form", form, FORMS)
  if form != "auto":
    return form
  products = (batch or 1) * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
  limit = POPULATION_UNROLL_LIMIT if population else UNROLL_LIMIT
  small = products <= limit and len(sizes) - 1 <= UNROLL_LAYERS
  return "unrolled" if platform == "cpu" and small else "matmul"


def trainable_mask(params, trainable: str | tuple[Layer, ...] | list[Layer] = "weights") -> tuple:
  """Which leaves train: one ``Layer(w=bool, b=bool)`` a layer.

  Args:
    params: a tuple of :class:`jbp.Layer` (only its length is read).
    trainable: ``"weights"`` (the worked example's rule: biases stay fixed),
      ``"all"``, or a tuple of ``Layer(w=bool, b=bool)`` with one entry a layer.

  Raises:
    ValueError: anything else.
  """
  n = len(params)
  if isinstance(trainable, str):
    _checks.check_choice("trainable", trainable, TRAINABLE)
    return tuple(Layer(True, trainable == "all") for _ in range(n))
  ok = isinstance(trainable, (tuple, list)) and len(trainable) == n and all(
      isinstance(t, Layer) and all(isinstance(v, bool) for v in t) for t in trainable)
  if not ok:
    raise ValueError(f"trainable: expected 'weights', 'all' or a tuple of {n} jbp.Layer(w=bool, "
                     f"b=bool), got {trainable!r}")
  return tuple(Layer(bool(t.w), bool(t.b)) for t in trainable)


def make_options(params, x, y, *, steps, learning_rate, update, record_every, activation, optimizer,
                 trainable, reduction, form, unroll=1, sizes=None, watch=False, lr_shape=(), platform=None,
                 population=False):
  """Checks every argument of a run and returns ``(Options, hyperparameter values, dtype)``.

  The values are the optimizer's float hyperparameters (for plain SGD, the
  learning rate) as host arrays of the params' dtype, or as given when traced.
  ``sizes`` skips re-checking params a caller has checked; ``lr_shape`` is the
  learning rate's allowed shape (``(n,)`` for one rate a member of a population);
  ``platform`` the one the program runs on (default: JAX's default backend); ``population``
  says that the program trains a population (:func:`choose_form`), as traced params do.
  """
  sizes = _checks.check_params(params) if sizes is None else sizes
  batch = _checks.check_data(x, y, sizes)
  steps = _checks.check_int("steps", steps)
  record_every = _checks.check_record_every(record_every, steps)
  _checks.check_choice("update", update, UPDATES)
  _checks.check_choice("reduction", reduction, REDUCTIONS)
  act = resolve_activation(activation)
  mask = trainable_mask(params, trainable)
  leaf = params[0].w
  dtype = np.dtype(leaf.dtype) if hasattr(leaf, "dtype") else jnp.result_type(leaf)
  if optimizer is None:
    kind, values = SGD, (_checks.check_learning_rate(learning_rate, shape=lr_shape, dtype=dtype),)
  else:
    check_optimizer(optimizer, update, learning_rate, dtype)
    kind, values = split_optimizer(optimizer)
  values = tuple(hyperparameter(v, dtype) for v in values)
  # Traced params take the population's rule: under jax.vmap each weight is a vector over the
  # batch, as in a population (2,000 XOR 2-5-1 networks: 2.8x faster unrolled), and a trace does not
  # say whether it is vmap's or jit's alone.
  traced = not all(_checks.is_concrete(leaf) for layer in params for leaf in layer)
  form = choose_form(form, sizes, batch, platform or jax.default_backend(), population or traced)
  unroll = _checks.check_int("unroll", unroll)
  opts = Options(steps, record_every, update, act, reduction, mask, kind, form, unroll, watch)
  return opts, values, dtype


def check_optimizer(optimizer, update, learning_rate, dtype=None):
  """An optimizer is for the simultaneous order and carries its own learning rate.

  Its float hyperparameters given as numbers must be finite (in ``dtype``, the params', if given).
  """
  split_optimizer(optimizer)  # raises TypeError for anything but an optimizer
  if update == "sequential":
    raise ValueError(f"optimizer: the sequential update order is defined for plain SGD only; "
                     f"pass learning_rate=... and no optimizer, got optimizer={optimizer!r}")
  if learning_rate is not None:
    raise ValueError("learning_rate: expected None when optimizer is given (the optimizer "
                     f"carries its own learning rate), got {learning_rate!r}")
  if isinstance(optimizer, Optimizer):
    check_hyperparams(optimizer, dtype)


def hyperparameter(v, dtype):
  """A float hyperparameter as the program takes it: a concrete scalar as a Python float (JAX passes
  it without a host-to-device copy, in the params' dtype, weakly typed), an array in ``dtype``, a
  traced value as it is."""
  if type(v) is float:
    return v
  if not _checks.is_concrete(v):
    return v
  if np.ndim(v) == 0:
    return float(v)
  return as_dtype(v, dtype)
