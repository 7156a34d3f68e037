"""Activation functions by name, each with its derivative written by hand.

Training differentiates an activation's function (``fn``) with JAX's autodiff. The
hand-written derivative serves the teaching reference only, :func:`jbp.backprop`
and :func:`jbp.explain`: the delta rule needs ``f'(net)`` for every neuron, and for
the built-in activations it is written in terms of the neuron's output, as the
worked example does for the sigmoid (``out * (1 - out)``). For a user's own
callable it is taken with a forward-mode derivative of that elementwise function.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp

__all__ = ["Activation", "ACTIVATIONS", "ActivationLike", "resolve_activation"]


class Activation(NamedTuple):
  """An elementwise activation and its derivative written by hand.

  Attributes:
    name: a short name used in printed derivations.
    fn: ``net -> out``, elementwise; training differentiates it with JAX.
    deriv: ``(net, out) -> d out / d net``, elementwise, used by :func:`jbp.backprop`
      and :func:`jbp.explain` only; ``None`` means "take it from ``fn`` with ``jax.jvp``".

  >>> import jax, jax.numpy as jnp, jbp
  >>> softplus = jbp.Activation("softplus", jax.nn.softplus, lambda net, out: jax.nn.sigmoid(net))
  >>> softplus.derivative(jnp.zeros(2), softplus.fn(jnp.zeros(2)))
  Array([0.5, 0.5], dtype=float32)
  """

  name: str
  fn: Callable[[jax.Array], jax.Array]
  deriv: Optional[Callable[[jax.Array, jax.Array], jax.Array]] = None

  def derivative(self, net: jax.Array, out: jax.Array) -> jax.Array:
    """``d out / d net`` for each neuron, same shape as ``net``."""
    if self.deriv is not None:
      return self.deriv(net, out)
    _, tangent = jax.jvp(self.fn, (net,), (jnp.ones_like(net),))
    return tangent


ActivationLike = Union[str, Activation, Callable[[jax.Array], jax.Array]]
"""What an ``activation=`` argument takes: a name in :data:`ACTIVATIONS`, an :class:`Activation`, or an
elementwise callable."""


def _relu_deriv(net, out):
  del out
  return (net > 0).astype(net.dtype)


ACTIVATIONS = {
    "sigmoid": Activation("sigmoid", jax.nn.sigmoid, lambda net, out: out * (1 - out)),
    "tanh": Activation("tanh", jnp.tanh, lambda net, out: 1 - out * out),
    "relu": Activation("relu", jax.nn.relu, _relu_deriv),
    "identity": Activation("identity", lambda net: net, lambda net, out: jnp.ones_like(net)),
}
"""The built-in activations by name; every ``activation=`` argument takes one of these names.

>>> import jbp
>>> sorted(jbp.ACTIVATIONS)
['identity', 'relu', 'sigmoid', 'tanh']
"""


def resolve_activation(activation: ActivationLike) -> Activation:
  """Turns a name, an :class:`Activation` or an elementwise callable into an Activation.

  Raises:
    ValueError: an unknown name, or something that is neither a name nor callable.
  """
  if isinstance(activation, Activation):
    return activation
  if isinstance(activation, str):
    try:
      return ACTIVATIONS[activation]
    except KeyError:
      raise ValueError(
          f"activation: expected one of {sorted(ACTIVATIONS)} or a callable, "
          f"got {activation!r}") from None
  if callable(activation):
    return Activation(getattr(activation, "__name__", "f"), activation, None)
  raise ValueError(
      f"activation: expected one of {sorted(ACTIVATIONS)} or a callable, "
      f"got {type(activation).__name__} {activation!r}")
