"""The network: a tuple of layers and a pure forward pass.

A network with sizes ``(n_0, n_1, ..., n_L)`` is a tuple of ``L`` :class:`Layer`,
input side first. Layer ``l`` maps ``a`` of shape ``(n_{l-1},)`` to
``f(w @ a + b)`` of shape ``(n_l,)``. The worked example is sizes ``(2, 2, 2)``
with one bias shared by each layer.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jbp import _checks
from jbp._activation import resolve_activation

__all__ = ["Layer", "forward", "loss", "sizes_of"]

REDUCTIONS = ("sum", "mean")


class Layer(NamedTuple):
  """One fully connected layer: ``out = f(w @ a + b)``.

  Attributes:
    w: shape ``(n_out, n_in)``; row ``j`` holds the weights into neuron ``j``.
      In the worked example ``params[0].w[0]`` is ``[w1, w2]``.
    b: a scalar shared by the layer's neurons (as in the worked example), or
      shape ``(n_out,)``, one bias a neuron.
  """

  w: jax.Array
  b: jax.Array


def sizes_of(params) -> tuple[int, ...]:
  """The layer sizes of ``params``, e.g. ``(2, 2, 2)``; checks that shapes chain."""
  return _checks.check_params(params)


def _trace(params, x, act):
  """Forward pass keeping every layer's net input and output.

  Returns a list of ``(net, out)`` per layer; each has shape ``x.shape[:-1] + (n_l,)``.
  """
  layers = []
  a = x
  for layer in params:
    net = a @ layer.w.T + layer.b
    a = act.fn(net)
    layers.append((net, a))
  return layers


def forward(params, x, *, activation="sigmoid"):
  """The network's outputs.

  Args:
    params: a tuple of :class:`Layer`, input side first.
    x: shape ``(n_in,)``, or ``(batch, n_in)`` for a batch.
    activation: ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"identity"`` or an
      elementwise callable; used by every layer, the output layer included.

  Returns:
    shape ``(n_out,)``, or ``(batch, n_out)``.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> jbp.forward(ex.params, ex.inputs).round(6)
  Array([0.751365, 0.772928], dtype=float32)
  """
  sizes = _checks.check_params(params)
  act = resolve_activation(activation)
  xs = _checks.check_data_array("x", x)
  if xs[-1:] != (sizes[0],) or len(xs) > 2:
    raise ValueError(f"x: expected shape ({sizes[0]},) or (batch, {sizes[0]}) for a network with "
                     f"{sizes[0]} inputs, got shape {xs}")
  return _forward(params, jnp.asarray(x), act)


@functools.partial(jax.jit, static_argnames=("act",))
def _forward(params, x, act):
  return _trace(params, x, act)[-1][1]


def _loss(params, x, y, act, reduction):
  out = _trace(params, x, act)[-1][1]
  per_example = 0.5 * jnp.sum((y - out) ** 2, axis=-1)
  if reduction == "mean" and per_example.ndim:
    return jnp.mean(per_example)
  return jnp.sum(per_example)


def loss(params, x, y, *, activation="sigmoid", reduction="sum"):
  """Total error ``E = sum_k 1/2 (y_k - out_k)**2`` over the output neurons.

  Args:
    params: a tuple of :class:`Layer`.
    x: shape ``(n_in,)`` or ``(batch, n_in)``.
    y: the targets, shape ``(n_out,)`` or ``(batch, n_out)``.
    activation: as in :func:`forward`.
    reduction: for a batch, ``"sum"`` (the default: E summed over examples, the
      full-batch error the XOR example uses) or ``"mean"`` (averaged over examples).

  Returns:
    a scalar.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> round(float(jbp.loss(ex.params, ex.inputs, ex.targets)), 6)
  0.298371
  """
  sizes = _checks.check_params(params)
  _checks.check_data(x, y, sizes)
  _checks.check_choice("reduction", reduction, REDUCTIONS)
  return _loss_jit(params, jnp.asarray(x), jnp.asarray(y), resolve_activation(activation), reduction)


_loss_jit = jax.jit(_loss, static_argnames=("act", "reduction"))
