"""Backpropagation by the delta rule, as the worked example derives it by hand.

For the output layer ``L`` and each example::

    delta_L = dE/dout * dout/dnet = (out_L - y) * f'(net_L)

and for a hidden layer ``l``, each neuron's ``dE/dout`` sums over the neurons it
feeds (the worked example's "both outputs")::

    delta_l = (w_{l+1}.T @ delta_{l+1}) * f'(net_l)

Then ``dE/dw_l = outer(delta_l, a_{l-1})`` (``dnet/dw`` is the input the weight
multiplies) and ``dE/db_l = delta_l`` (summed over the layer for a shared bias).
No ``jax.grad`` is involved; tests check it against ``jax.grad``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jbp import _calls, _checks
from jbp._activation import ActivationLike, resolve_activation
from jbp._network import REDUCTIONS, Layer, trace

__all__ = ["backprop"]


def _layer_grad(layer, delta, a_prev):
  """dE/dw and dE/db of one layer from its deltas (batch, n_out) and inputs (batch, n_in)."""
  gw = delta.T @ a_prev
  gb = jnp.sum(delta, axis=0)
  if jnp.ndim(layer.b) == 0:
    gb = jnp.sum(gb)
  return Layer(gw, gb)


def delta_rule(params, x, y, act, reduction="sum", step=None):
  """The backward pass; optionally updates each layer as soon as its gradient is known.

  Args:
    params: tuple of Layer.
    x: (n_in,) or (batch, n_in); y: (n_out,) or (batch, n_out).
    act: an Activation.
    reduction: "sum" or "mean" over the batch.
    step: ``None`` for plain backprop; otherwise ``step(l, layer, grad) -> layer``
      is applied to layer ``l`` right after its gradient, and the deltas of layer
      ``l - 1`` flow through the *updated* layer (the sequential update order).

  Returns:
    ``(E, grads, new_params)``: the loss before the update, the gradients (same
    structure as params) and the params after ``step`` (``params`` if none).
  """
  x2 = jnp.atleast_2d(x)
  y2 = jnp.atleast_2d(y)
  scale = 1.0 / x2.shape[0] if (reduction == "mean" and jnp.ndim(x) == 2) else 1.0
  layers = trace(params, x2, act)
  out = layers[-1][1]
  err = out - y2
  E = 0.5 * jnp.sum(err * err) * scale
  delta = err * act.derivative(*layers[-1]) * scale
  grads: list = [None] * len(params)
  new = list(params)
  for l in range(len(params) - 1, -1, -1):
    a_prev = x2 if l == 0 else layers[l - 1][1]
    grads[l] = _layer_grad(params[l], delta, a_prev)
    if step is not None:
      new[l] = step(l, params[l], grads[l])
    if l > 0:
      delta = (delta @ new[l].w) * act.derivative(*layers[l - 1])
  return E, tuple(grads), tuple(new)


def backprop(params: tuple[Layer, ...], x: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *,
             activation: ActivationLike = "sigmoid", reduction: str = "sum") -> tuple[Layer, ...]:
  """Gradients of :func:`jbp.loss` by the hand-derived delta rule (no ``jax.grad``).

  Args:
    params: a tuple of :class:`Layer`, any depth.
    x: shape ``(n_in,)`` or ``(batch, n_in)``.
    y: shape ``(n_out,)`` or ``(batch, n_out)``.
    activation: as in :func:`jbp.forward`.
    reduction: as in :func:`jbp.loss`.

  Returns:
    the gradients, a tuple of :class:`Layer` with the same shapes and dtype as ``params``.

  Raises:
    TypeError, ValueError: malformed params, params or data not finite (where
      concrete), data of the wrong shape, or an unknown activation or reduction, named.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> g = jbp.backprop(ex.params, ex.inputs, ex.targets)
  >>> float(g[1].w[0, 0]).__round__(6)  # dE/dw5
  0.082167
  """
  key = _calls.option_key
  act, made = _calls.cached(
      "backprop", lambda: (_calls.params_key(params), _calls.array_key(x), _calls.array_key(y),
                           key(activation), key(reduction)),
      lambda: _checks_of(params, x, y, activation, reduction))
  if not made:  # the same shapes, dtypes and options as an earlier call: check the values only
    _calls.check_finite_params(params)
    _calls.check_finite("x", x)
    _calls.check_finite("y", y)
  return _backprop(params, _array(x), _array(y), act, reduction)


def _checks_of(params, x, y, activation, reduction):
  """:func:`backprop`'s checks: the activation."""
  sizes = _checks.check_params(params)
  _checks.check_data(x, y, sizes)
  _checks.check_choice("reduction", reduction, REDUCTIONS)
  return resolve_activation(activation)


def _array(a):
  """``jnp.asarray(a)``, without a dispatch for an array the program takes as it is."""
  return a if isinstance(a, (jax.Array, np.ndarray)) else jnp.asarray(a)


@functools.partial(jax.jit, static_argnames=("act", "reduction"))
def _backprop(params, x, y, act, reduction):
  return delta_rule(params, x, y, act, reduction)[1]
