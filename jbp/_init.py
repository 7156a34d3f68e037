"""Random initial parameters: one PRNG key per layer and per member, never a reused key."""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from jbp import _checks
from jbp._layer import Layer

__all__ = ["init_params", "init_many", "METHODS"]

METHODS = ("glorot", "uniform")


def check_key(key: ArrayLike, name: str = "key") -> jax.Array | np.ndarray:
  """A single PRNG key: typed (``jax.random.key``) or raw uint32[2] (``PRNGKey``)."""
  if isinstance(key, (jax.Array, np.ndarray)):
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ():
      return key
    if key.dtype == jnp.uint32 and key.shape == (2,):
      return key
  raise TypeError(f"{name}: expected a PRNG key from jax.random.key(seed), got "
                  f"{type(key).__name__} {getattr(key, 'shape', '')} {getattr(key, 'dtype', key)!r}")


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
  if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2:
    raise ValueError(f"sizes: expected at least two layer sizes such as (2, 2, 2), got {sizes!r}")
  for s in sizes:
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
      raise ValueError(f"sizes: expected positive integers such as (2, 2, 2), got {tuple(sizes)!r}")
  return tuple(int(s) for s in sizes)


def init_params(key: ArrayLike, sizes: Sequence[int], *, method: str = "glorot", shared_bias: bool = False,
                dtype: DTypeLike | None = None) -> tuple[Layer, ...]:
  """Random params for a network of the given sizes.

  Args:
    key: a PRNG key, ``jax.random.key(seed)``; split into one key per layer.
    sizes: layer sizes, input first, e.g. ``(2, 2, 2)``.
    method: ``"glorot"`` (weights uniform in ``±sqrt(6 / (n_in + n_out))``,
      biases zero) or ``"uniform"`` (weights and biases uniform in [0, 1), as the
      example's reference program draws them).
    shared_bias: one scalar bias a layer (as in the worked example) instead of
      one per neuron.
    dtype: a floating dtype; ``None`` is JAX's default.

  Returns:
    a tuple of :class:`Layer`: layer ``l`` has ``w`` of shape
    ``(sizes[l+1], sizes[l])`` and ``b`` of shape ``()`` or ``(sizes[l+1],)``,
    of ``dtype``.

  Raises:
    TypeError: ``key`` is not a PRNG key.
    ValueError: ``sizes`` not at least two positive integers, an unknown
      ``method``, or a dtype that is not floating (or float64 with 64-bit mode off).

  >>> import jax, jbp
  >>> params = jbp.init_params(jax.random.key(0), (3, 5, 2))
  >>> [p.w.shape for p in params]
  [(5, 3), (2, 5)]
  """
  key = check_key(key)
  sizes = check_sizes(sizes)
  _checks.check_choice("method", method, METHODS)
  dt = _checks.check_dtype(dtype)
  return _init(key, sizes=sizes, method=method, shared_bias=bool(shared_bias), dtype=dt)


@functools.partial(jax.jit, static_argnames=("sizes", "method", "shared_bias", "dtype"))
def _init(key, *, sizes, method, shared_bias, dtype):
  """The layers' draws, each with its own key; layers of one shape are drawn together.

  ``jax.vmap`` of one layer's draw over the keys of every layer of its shape gives each layer the
  numbers its own draw gives, in one draw a shape instead of one a layer: XLA compiled about 400
  instructions a draw, so ``--sizes 2,2,...,2`` of 50 layers took 7.3 s to compile its
  initialization (the training program 1.1 s); now the hidden layers share one draw.
  """
  keys = jax.random.split(key, len(sizes) - 1)
  shapes = list(zip(sizes[:-1], sizes[1:]))
  params: list = [None] * len(shapes)
  for n_in, n_out in dict.fromkeys(shapes):
    at = [l for l, shape in enumerate(shapes) if shape == (n_in, n_out)]
    draw = functools.partial(_layer, n_in=n_in, n_out=n_out, method=method, shared_bias=shared_bias,
                             dtype=dtype)
    w, b = draw(keys[at[0]]) if len(at) == 1 else jax.vmap(draw)(keys[np.asarray(at)])
    for i, l in enumerate(at):
      params[l] = Layer(w, b) if len(at) == 1 else Layer(w[i], b[i])
  return tuple(params)


def _layer(k, *, n_in, n_out, method, shared_bias, dtype):
  """One layer's ``(w, b)`` from its key."""
  kw, kb = jax.random.split(k)
  bshape = () if shared_bias else (n_out,)
  if method == "glorot":
    lim = float(np.sqrt(6.0 / (n_in + n_out)))
    return jax.random.uniform(kw, (n_out, n_in), dtype, -lim, lim), jnp.zeros(bshape, dtype)
  return jax.random.uniform(kw, (n_out, n_in), dtype), jax.random.uniform(kb, bshape, dtype)


def init_many(key: ArrayLike, n: int, sizes: Sequence[int], *, method: str = "glorot",
              shared_bias: bool = False, dtype: DTypeLike | None = None) -> tuple[Layer, ...]:
  """``n`` independent initializations stacked on a leading population axis.

  ``key`` is split into ``n`` keys, one a member, and each member is drawn by
  :func:`jbp.init_params` with its own key: no key is ever reused.

  Args:
    key: a PRNG key, ``jax.random.key(seed)``.
    n: the population size, an integer >= 1.
    sizes: layer sizes, input first, e.g. ``(2, 2, 2)``.
    method, shared_bias, dtype: as in :func:`jbp.init_params`.

  Returns:
    a tuple of :class:`jbp.Layer`: layer ``l`` has ``w`` of shape
    ``(n, sizes[l+1], sizes[l])`` and ``b`` of shape ``(n,)`` or ``(n, sizes[l+1])``;
    member ``i`` equals ``jbp.init_params(jax.random.split(key, n)[i], sizes, ...)``.

  Raises:
    TypeError, ValueError: as :func:`jbp.init_params`, or ``n`` not an integer >= 1.

  >>> import jax, jbp
  >>> pop = jbp.init_many(jax.random.key(0), 1000, (2, 2, 2), method="uniform", shared_bias=True)
  >>> pop[0].w.shape, pop[0].b.shape
  ((1000, 2, 2), (1000,))
  """
  key = check_key(key)
  n = _checks.check_int("n", n)
  sizes = check_sizes(sizes)
  _checks.check_choice("method", method, METHODS)
  dt = _checks.check_dtype(dtype)
  return _init_many(key, n=n, sizes=sizes, method=method, shared_bias=bool(shared_bias), dtype=dt)


@functools.partial(jax.jit, static_argnames=("n", "sizes", "method", "shared_bias", "dtype"))
def _init_many(key, *, n, sizes, method, shared_bias, dtype):
  one = functools.partial(init_params, sizes=sizes, method=method, shared_bias=shared_bias, dtype=dtype)
  return jax.vmap(one)(jax.random.split(key, n))
