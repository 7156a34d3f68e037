"""The network: a tuple of layers and its forward pass, written once.

A network with sizes ``(n_0, n_1, ..., n_L)`` is a tuple of ``L`` :class:`Layer`,
input side first. Layer ``l`` maps ``a`` of shape ``(n_{l-1},)`` to
``f(w @ a + b)`` of shape ``(n_l,)``. The worked example is sizes ``(2, 2, 2)``
with one bias shared by each layer.

The forward pass is written for one example; a batch is ``jax.vmap`` of it. Its
affine map comes in two forms (:data:`FORMS`), chosen once at the input: the
matmul form ``w @ a + b``, and the unrolled form, where each
``net_j = w[j][0] a_0 + ... + b_j`` is a chain of elementwise operations over the
static widths that XLA fuses. The same code trains a population: with each weight
:func:`split` into a vector over the members, every operation of a step is one
loop over the population in the CPU's vector lanes.
"""

from __future__ import annotations

import functools
import operator

import jax
import jax.numpy as jnp

from jbp import _calls, _checks
from jbp._activation import ActivationLike, resolve_activation
from jbp._layer import Layer

__all__ = ["Layer", "forward", "loss", "sizes_of", "FORMS"]

REDUCTIONS = ("sum", "mean")
FORMS = ("auto", "unrolled", "matmul")
"""The forms of the forward pass that ``form=`` takes: ``"unrolled"`` (each ``net_j`` a sum of
``w[j, i] * a_i`` over the layer's inputs, elementwise; small networks on a CPU), ``"matmul"``
(``w @ a``; wide or deep networks, GPUs), or ``"auto"``, which picks one by the network's size and the
platform: on a CPU, unrolled up to 24 weight-times-example products a step for one network and 512
for a population (or traced params, as under ``jax.vmap``), at most 4 layers.

>>> import jbp
>>> jbp.FORMS
('auto', 'unrolled', 'matmul')
"""
def sizes_of(params: tuple[Layer, ...]) -> tuple[int, ...]:
  """The layer sizes of a network, input first, after checking that its shapes chain.

  Args:
    params: a tuple of :class:`Layer`.

  Returns:
    a tuple of ints, e.g. ``(2, 2, 2)`` for the worked example.

  Raises:
    TypeError, ValueError: ``params`` is not a tuple of layers whose shapes chain.

  >>> import jbp
  >>> jbp.sizes_of(jbp.worked_example().params)
  (2, 2, 2)
  """
  return _checks.check_params(params, finite=False)


# --- the forward pass -----------------------------------------------------------------------


def _sum(terms):
  return functools.reduce(operator.add, terms)


def as_inputs(x, form):
  """One example's input in ``form``: ``x`` itself, or the tuple of its values (unrolled)."""
  return values(x) if form == "unrolled" else x


def values(a):
  """The values of ``a`` along its last axis, as a tuple: one ``unstack``, which traces in a fraction of the
  time of indexing each value (the same slices in the program; its gradient one stack, not a pad each)."""
  return tuple(jnp.unstack(a, axis=-1))


def weights(w):
  """``w[j][i]`` for every weight ``j, i`` of a layer: an array's (shape ``(..., n_out, n_in)``) as nested
  tuples of :func:`values`; :func:`split` leaves, which are nested tuples already, as they are."""
  return w if isinstance(w, tuple) else tuple(values(row) for row in jnp.unstack(w, axis=-2))


def affine(layer, a):
  """``net = w a + b`` for one example.

  Args:
    layer: a :class:`Layer` of arrays, or of :func:`split` leaves.
    a: the layer's input: shape ``(n_in,)`` (the matmul form) or a tuple of ``n_in``
      values (the unrolled form).

  Returns:
    ``net`` in the form of ``a``: shape ``(n_out,)``, or a tuple of ``n_out`` values.
  """
  w, b = layer
  if isinstance(a, tuple):  # an array's weights and split leaves alike, as w[j][i]
    w = weights(w)
    shared = not isinstance(b, tuple) and jnp.ndim(b) == jnp.ndim(w[0][0])
    b = b if shared or isinstance(b, tuple) else values(b)
    return tuple(_sum(w[j][i] * a_i for i, a_i in enumerate(a)) + (b if shared else b[j])
                 for j in range(len(w)))
  return w @ a + b


def split(params):
  """Params with every weight and bias its own leaf: ``split(params)[l].w[j][i]`` is ``w[..., j, i]``.

  For a population (leading member axes), each leaf is a vector over the members. The
  unrolled form trains split params of a population so that each weight is one
  contiguous vector; one network trains as arrays (indexing ``w[j][i]`` fuses there).
  """
  def one(layer):
    shared = jnp.ndim(layer.b) == jnp.ndim(layer.w) - 2
    return Layer(weights(layer.w), layer.b if shared else values(layer.b))
  return tuple(one(layer) for layer in params)


def merge(params):
  """The inverse of :func:`split`: arrays again, ``w`` of shape ``(..., n_out, n_in)``."""
  return tuple(Layer(jnp.stack([jnp.stack(row, axis=-1) for row in layer.w], axis=-2),
                     jnp.stack(layer.b, axis=-1) if isinstance(layer.b, tuple) else layer.b)
               for layer in params)


# In the unrolled form a network of more than this many layers passes each layer's outputs to the next
# as one array (see :func:`_output`).
CHAIN_LAYERS = 2


def _output(params, x, act, form="matmul"):
  """The network's output for one example ``x`` of shape ``(n_in,)``, in ``form``.

  In the unrolled form a deeper network than :data:`CHAIN_LAYERS` hands each layer's outputs to the
  next as one array (stacked, then indexed: the same numbers). Without it, every value of the
  backward pass is a scalar expression that XLA's fusion copies into each consumer that reads it, so
  the gradient of each layer's weights recomputed the deltas of every layer above it: the optimized
  program grew as depth squared and its compile time faster still (width 2, simultaneous order:
  0.6 s at 10 layers, 11.6 s at 30, 189 s at 40; 50 ran out of 24 GB). The array is written once,
  and the program grows linearly (``benchmarks/depth.py``).
  """
  a = as_inputs(x, form)
  for l, layer in enumerate(params):
    if l and isinstance(a, tuple) and len(params) > CHAIN_LAYERS:
      a = hand_on(a)
    a = jax.tree_util.tree_map(act.fn, affine(layer, a))
  return a


def hand_on(a):
  """A layer's outputs (a tuple of values) as one array, indexed again: the same values, and in the
  backward pass one array of deltas that XLA writes once (see :func:`_output`). Indexed, not
  unstacked: the gradient of an ``unstack`` is a stack, which XLA folds into the stack it reads, and
  the program grew as depth squared again (``tests/test_depth.py``)."""
  stacked = jnp.stack(a)
  return tuple(stacked[i] for i in range(len(a)))


def half_squared_error(out, y):
  """``E = sum_k 1/2 (y_k - out_k)**2`` for one example."""
  if isinstance(out, tuple):
    return 0.5 * _sum((y_k - o) ** 2 for y_k, o in zip(values(y), out))
  return 0.5 * jnp.sum((y - out) ** 2)


def per_example(fn, x, *rest):
  """``fn`` of one example ``x`` of shape ``(n_in,)``, or ``jax.vmap`` of it over ``(batch, n_in)``."""
  return fn(x, *rest) if jnp.ndim(x) == 1 else jax.vmap(fn)(x, *rest)


def trace(params, x, act):
  """The forward pass keeping each layer's ``(net, out)``, shapes ``x.shape[:-1] + (n_l,)`` (arrays form)."""

  def one(x):
    layers, a = [], x
    for layer in params:
      net = affine(layer, a)
      a = act.fn(net)
      layers.append((net, a))
    return layers

  return per_example(one, x)


def reduce_examples(per_example, reduction):
  if jnp.ndim(per_example) == 0:
    return per_example
  return jnp.mean(per_example) if reduction == "mean" else jnp.sum(per_example)


def network_loss(params, x, y, act, reduction, form="matmul"):
  """E of one example, or summed (``"sum"``) or averaged (``"mean"``) over a batch, in ``form``."""
  error = lambda x, y: half_squared_error(_output(params, x, act, form), y)
  return reduce_examples(per_example(error, x, y), reduction)


# --- the public functions ---------------------------------------------------------------


def forward(params: tuple[Layer, ...], x: jax.typing.ArrayLike, *,
            activation: ActivationLike = "sigmoid") -> jax.Array:
  """The network's outputs.

  Args:
    params: a tuple (or list) of :class:`Layer`, input side first; NaN in them
      (a run that diverged) gives NaN outputs.
    x: shape ``(n_in,)``, or ``(batch, n_in)`` for a batch; a floating dtype,
      finite values.
    activation: ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"identity"``, a
      :class:`jbp.Activation` or an elementwise callable; used by every layer, the
      output layer included.

  Returns:
    shape ``(n_out,)``, or ``(batch, n_out)``, in the params' dtype.

  Raises:
    TypeError, ValueError: malformed params, or ``x`` of the wrong shape or not finite.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> jbp.forward(ex.params, ex.inputs).round(6)
  Array([0.751365, 0.772928], dtype=float32)
  """
  (act, dtype), made = _calls.cached(
      "forward", lambda: (_calls.params_key(params), _calls.array_key(x), _calls.option_key(activation)),
      lambda: _forward_checks(params, x, activation))
  if not made:  # the same shapes, dtypes and options as an earlier call: check the values only
    _calls.check_finite("x", x)
  return forward_program(params, _calls.as_dtype(x, dtype), act)


def _forward_checks(params, x, activation):
  """:func:`forward`'s checks: ``(the activation, the params' dtype)``."""
  # NaN params pass here (a run that diverged has outputs to show); x must be finite.
  sizes = _checks.check_params(params, finite=False)
  act = resolve_activation(activation)
  xs = _checks.check_data_array("x", x)
  if xs[-1:] != (sizes[0],) or len(xs) > 2:
    raise ValueError(f"x: expected shape ({sizes[0]},) or (batch, {sizes[0]}) for a network with "
                     f"{sizes[0]} inputs, got shape {xs}")
  return act, jnp.result_type(params[0].w)


@functools.partial(jax.jit, static_argnames=("act",))
def forward_program(params, x, act):
  return per_example(lambda x: _output(params, x, act), x)


def loss(params: tuple[Layer, ...], x: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *,
         activation: ActivationLike = "sigmoid", reduction: str = "sum") -> jax.Array:
  """Total error ``E = sum_k 1/2 (y_k - out_k)**2`` over the output neurons.

  Args:
    params: a tuple of :class:`Layer`.
    x: shape ``(n_in,)`` or ``(batch, n_in)``.
    y: the targets, shape ``(n_out,)`` or ``(batch, n_out)``.
    activation: as in :func:`forward`.
    reduction: for a batch, ``"sum"`` (the default: E summed over examples, the
      full-batch error the XOR example uses) or ``"mean"`` (averaged over examples).

  Returns:
    a scalar in the params' dtype.

  Raises:
    TypeError, ValueError: malformed params, data of the wrong shape, NaN or an
      infinity in concrete params or data, or an unknown reduction.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> round(float(jbp.loss(ex.params, ex.inputs, ex.targets)), 6)
  0.298371
  """
  key = _calls.option_key
  (act, dtype), made = _calls.cached(
      "loss", lambda: (_calls.params_key(params), _calls.array_key(x), _calls.array_key(y), key(activation),
                       key(reduction)),
      lambda: _loss_checks(params, x, y, activation, reduction))
  if not made:  # the same shapes, dtypes and options as an earlier call: check the values only
    _calls.check_finite_params(params)
    _calls.check_finite("x", x)
    _calls.check_finite("y", y)
  return _loss_jit(params, _calls.as_dtype(x, dtype), _calls.as_dtype(y, dtype), act, reduction)


def _loss_checks(params, x, y, activation, reduction):
  """:func:`loss`'s checks: ``(the activation, the params' dtype)``."""
  sizes = _checks.check_params(params)
  _checks.check_data(x, y, sizes)
  _checks.check_choice("reduction", reduction, REDUCTIONS)
  dtype = jnp.result_type(params[0].w)
  return resolve_activation(activation), dtype


_loss_jit = jax.jit(network_loss, static_argnames=("act", "reduction", "form"))
