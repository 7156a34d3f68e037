"""Optimizers: optax's, named by factory and hyperparameters, and frozen leaves masked by optax.

Plain gradient descent is ``optax.sgd``; every other optimizer is optax's too. An
optimizer reaches the compiled training program in two parts: a static *kind*
(the factory and its non-float arguments), which is part of the program, and its
float hyperparameters (learning rate, momentum, ``b1``...), which are passed in as
values. So a new learning rate, for plain SGD or for
``jbp.Optimizer(optax.adam, learning_rate=...)``, runs the program already
compiled. An optax ``GradientTransformation`` object can be given as it is, but
optax builds a new object (new closures) at every call of ``optax.adam(...)``, so
each one compiles a new program.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Iterable, NamedTuple, Sequence, Union, cast

import jax
import numpy as np
import optax
from jax.typing import DTypeLike

from jbp import _checks
from jbp._layer import Layer

__all__ = ["Optimizer"]


class Optimizer:
  """An optax optimizer given by its factory and hyperparameters, compiled once for all their values.

  Args:
    factory: an optax optimizer factory, e.g. ``optax.adam`` or ``optax.sgd``.
    **hyperparams: its keyword arguments. Floats (Python or NumPy floats, float
      arrays) are values of the compiled program; anything else (ints,
      bools, ``None``, schedules, strings) is part of it and must be hashable.

  Attributes:
    factory: the factory.
    hyperparams: a dict of its keyword arguments.
    kind: the static part, the key of the compiled program: the factory, its
      non-float arguments and the names of its float ones.
    values: the float hyperparameters, in the order of ``kind.floats``.

  Raises:
    TypeError: ``factory`` is not callable, or a non-float argument is unhashable.

  ``jbp.train(..., optimizer=jbp.Optimizer(optax.adam, learning_rate=lr))`` in a loop
  over ``lr`` compiles one program; ``optimizer=optax.adam(lr)`` compiles one a call.

  >>> import optax, jbp
  >>> opt = jbp.Optimizer(optax.adam, learning_rate=1e-2, b1=0.8)
  >>> opt
  Optimizer(adam, learning_rate=0.01, b1=0.8)
  >>> opt.kind == jbp.Optimizer(optax.adam, learning_rate=0.5, b1=0.9).kind
  True
  """

  __slots__ = ("factory", "hyperparams")

  def __init__(self, factory: Callable[..., optax.GradientTransformation], /, **hyperparams: Any):
    if not callable(factory):
      raise TypeError(f"factory: expected an optax optimizer factory such as optax.adam, got "
                      f"{type(factory).__name__} {factory!r}")
    for name, value in hyperparams.items():
      if not _is_float(value):
        try:
          hash(value)
        except TypeError:
          raise TypeError(f"{name}: expected a float or a hashable value, got {type(value).__name__} "
                          f"{value!r}") from None
    self.factory = factory
    self.hyperparams = dict(hyperparams)

  @property
  def kind(self) -> "Kind":
    """The static part: the factory, its non-float arguments and the names of its float ones."""
    floats = tuple(k for k, v in self.hyperparams.items() if _is_float(v))
    fixed = tuple((k, v) for k, v in self.hyperparams.items() if not _is_float(v))
    return Kind(self.factory, fixed, floats)

  @property
  def values(self) -> tuple:
    """The float hyperparameters, in the order of ``kind.floats``."""
    return tuple(self.hyperparams[k] for k in self.kind.floats)

  def __repr__(self) -> str:
    args = "".join(f", {k}={v!r}" for k, v in self.hyperparams.items())
    return f"Optimizer({getattr(self.factory, '__name__', repr(self.factory))}{args})"

  def __eq__(self, other: object) -> bool:
    return (isinstance(other, Optimizer) and self.factory is other.factory
            and self.hyperparams.keys() == other.hyperparams.keys()
            and all(_same(self.hyperparams[k], other.hyperparams[k]) for k in self.hyperparams))

  # __eq__ without __hash__ leaves Optimizer unhashable: float hyperparameters may be arrays; hash ``kind``


class Kind(NamedTuple):
  """The static part of an optimizer (hashable); :func:`build` makes it whole again with the float values."""

  factory: Any
  fixed: tuple
  floats: tuple


StaticOptimizer = Union[Kind, optax.GradientTransformation]
"""What :func:`split_optimizer` keeps static: a :class:`Kind`, or an optax object as it is."""


def _is_float(v) -> bool:
  if isinstance(v, bool):
    return False
  if isinstance(v, (float, np.floating)):
    return True
  dtype = getattr(v, "dtype", None)
  return dtype is not None and np.issubdtype(dtype, np.floating)


def _same(a, b) -> bool:
  try:
    return bool(np.all(a == b))
  except Exception:  # noqa: BLE001 - unlike types are simply unequal
    return a is b


# Plain gradient descent, ``w <- w - learning_rate * dE/dw``: optax's SGD, its learning rate a value.
SGD = Kind(optax.sgd, (), ("learning_rate",))


def split_optimizer(optimizer: Optimizer | optax.GradientTransformation) -> tuple[StaticOptimizer, tuple]:
  """``(kind, values)`` of an :class:`Optimizer`, or ``(transformation, ())`` for an optax object.

  Raises:
    TypeError: ``optimizer`` is neither.
  """
  if isinstance(optimizer, Optimizer):
    return optimizer.kind, optimizer.values
  if isinstance(optimizer, optax.GradientTransformation):
    return optimizer, ()
  raise TypeError(f"optimizer: expected jbp.Optimizer(factory, ...) or an optax GradientTransformation "
                  f"such as optax.adam(1e-2), got {type(optimizer).__name__}")


def build(kind: StaticOptimizer, values: Iterable[Any]) -> optax.GradientTransformation:
  """The optax transformation of a :class:`Kind` and its float values (which may be traced)."""
  if isinstance(kind, optax.GradientTransformation):
    return kind
  return kind.factory(**dict(kind.fixed), **dict(zip(kind.floats, values)))


def masked(tx: optax.GradientTransformation, mask: Sequence[Layer]) -> optax.GradientTransformation:
  """``tx`` for the trainable leaves; frozen ones get zero updates and no state (``optax.multi_transform``).

  Args:
    tx: the optimizer.
    mask: one ``Layer(w=bool, b=bool)`` a layer: True trains that leaf.

  The labels are a prefix of the params: one label a leaf.
  """
  if all(m.w and m.b for m in mask):
    return tx
  labels = tuple(Layer("train" if m.w else "freeze", "train" if m.b else "freeze") for m in mask)
  return optax.multi_transform({"train": tx, "freeze": optax.set_to_zero()}, labels)


def sgd_update(params: tuple[Layer, ...], grads: tuple[Layer, ...], learning_rate: float | jax.Array,
               mask: Sequence[Layer]) -> tuple[Layer, ...]:
  """One plain-SGD update, ``w <- w - learning_rate * dE/dw`` on the trainable leaves only.

  ``optax.sgd`` under :func:`masked`: the one implementation of a masked gradient step,
  for a whole network or (the sequential order) one layer, ``params = (layer,)``.

  Args:
    params, grads: a tuple of :class:`jbp.Layer` and its gradients.
    learning_rate: a scalar (may be traced).
    mask: one ``Layer(w=bool, b=bool)`` a layer of ``params``.
  """
  tx = masked(optax.sgd(learning_rate), mask)
  updates, _ = tx.update(grads, tx.init(params), params)
  return cast("tuple[Layer, ...]", optax.apply_updates(params, updates))  # optax types any pytree


def check_hyperparams(optimizer: Optimizer, dtype: DTypeLike | None = None) -> None:
  """Float hyperparameters given as numbers must be finite (checked on host values only).

  With ``dtype`` (the params'), finite in it too: the program computes with them in
  that dtype, where ``1e39`` would be an infinity in float32.
  """
  for name, value in optimizer.hyperparams.items():
    if _is_float(value) and isinstance(value, (numbers.Real, np.generic, np.ndarray)):
      if not np.isfinite(float(value)):
        raise ValueError(f"{name}: expected a finite number, got {float(value)!r}")
      _checks.check_in_dtype(name, value, dtype, positive=False)
