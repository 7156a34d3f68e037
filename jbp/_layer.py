"""The parameter type: one fully connected layer, arrays only.

A leaf module: it imports nothing from jbp, so every other module can import it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Layer"]


class Layer(NamedTuple):
  """One fully connected layer, ``out = f(w @ a + b)``; a network is a tuple of them, input side first.

  A ``Layer`` is a pytree of two arrays, so ``jax.tree_util``, ``jax.vmap`` and
  optax take a network as it is.

  Attributes:
    w: shape ``(n_out, n_in)``; row ``j`` holds the weights into neuron ``j``.
      In the worked example ``params[0].w[0]`` is ``[w1, w2]``.
    b: a scalar shared by the layer's neurons (as in the worked example), or
      shape ``(n_out,)``, one bias a neuron.

  A population (see :func:`jbp.init_many`) stacks ``n`` networks on a leading
  axis: ``w`` of shape ``(n, n_out, n_in)`` and ``b`` of shape ``(n,)`` or ``(n, n_out)``.

  >>> import jax.numpy as jnp, jbp
  >>> layer = jbp.Layer(w=jnp.zeros((3, 2)), b=jnp.zeros(()))
  >>> layer.w.shape, layer.b.shape
  ((3, 2), ())
  """

  w: Any
  b: Any
