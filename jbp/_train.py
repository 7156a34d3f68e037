"""Training: gradients from JAX's autodiff, the whole loop one ``lax.scan`` in one jitted program.

Two update orders are offered by name:

* ``"simultaneous"`` (the default): textbook gradient descent. ``jax.value_and_grad``
  of the loss gives every gradient at the same params, then an optax optimizer
  (plain SGD unless another is given) updates every trainable leaf at once.
* ``"sequential"``: the worked example's reference program. The same backward
  pass, taken one layer at a time with ``jax.vjp``, output layer first; each
  layer is updated as soon as its gradient is known, and the pull-back through
  its linear map to the layer below uses the weights just updated. This order
  reproduces the published iteration figures.

Both differentiate the activation's function (``Activation.fn``); the derivative
written by hand in an :class:`jbp.Activation` serves :func:`jbp.backprop` and
:func:`jbp.explain` only. Everything static about a run is one hashable record
(``jbp._options.Options``).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from jax import lax
from optax import GradientTransformation

from jbp import _calls, _checks, _network
from jbp._activation import ActivationLike
from jbp._layer import Layer
from jbp._network import CHAIN_LAYERS, merge, network_loss, split
from jbp._optimizer import Optimizer, build, masked, sgd_update
from jbp._options import UPDATES, Options, as_dtype, hyperparameter, make_options

__all__ = ["train", "UPDATES", "init_state", "run_training", "with_trained"]

# --- one step --------------------------------------------------------------------------


def _sequential(params, x, y, act, reduction, form, update_layer):
  """One step in the sequential order: ``(E before the step, new params)``.

  The backward pass one layer at a time: the activation's pull-back gives the
  layer's deltas, the pull-back of its affine map with respect to the layer gives
  its gradient, ``update_layer(l, layer, grad)`` updates it, and the pull-back of
  the *updated* affine map with respect to its input carries the deltas down.

  In the unrolled form a layer of arrays is pulled back as its :func:`split` weights, and the
  update is made twice from the same scalar gradients, with the same numbers: on the scalar
  weights, which carry the deltas down, and on the arrays, which the step returns. Pulling the
  deltas down through the updated arrays made each output delta its own kernel: XLA does not copy
  a value into a consumer (the layer below's update) that also reads it through another kernel it
  cannot fuse (the updated array, which the loop must write). The worked example's loop body had
  10 fused kernels and 1 copy a step, against the simultaneous order's 8 and 2; now 8 and 2 in
  both (float32 and float64), with every loss unchanged to the bit (``tests/test_step_losses.py``).
  A network deeper than ``CHAIN_LAYERS`` hands each layer's outputs on as one array, as the
  simultaneous order's forward pass does, so that the deltas pulled down through the scalar weights
  do not make the program grow as depth squared (``tests/test_depth.py``).
  """
  batched = jnp.ndim(x) == 2
  affine = jax.vmap(_network.affine, in_axes=(None, 0)) if batched else _network.affine
  error = jax.vmap(_network.half_squared_error) if batched else _network.half_squared_error
  inputs = functools.partial(_network.as_inputs, form=form)
  saved, a = [], (jax.vmap(inputs) if batched else inputs)(x)
  hand_on = isinstance(a, tuple) and len(params) > CHAIN_LAYERS  # as the unrolled _output does
  for l, layer in enumerate(params):
    hand_on_vjp = None
    if l and hand_on:
      a, hand_on_vjp = jax.vjp(_network.hand_on, a)
    a_next, act_vjp = jax.vjp(lambda n: jax.tree_util.tree_map(act.fn, n), affine(layer, a))
    saved.append((a, act_vjp, hand_on_vjp))
    a = a_next
  E, error_vjp = jax.vjp(lambda out: _network.reduce_examples(error(out, y), reduction), a)
  (ct,) = error_vjp(jnp.ones_like(E))
  new = list(params)
  for l in range(len(params) - 1, -1, -1):
    a_prev, act_vjp, hand_on_vjp = saved[l]
    (delta,) = act_vjp(ct)
    scalars = isinstance(a_prev, tuple) and not isinstance(params[l].w, tuple)  # unrolled, arrays
    layer = split((params[l],))[0] if scalars else params[l]
    _, layer_vjp = jax.vjp(affine, layer, a_prev)
    grad, _ = layer_vjp(delta)
    updated = update_layer(l, layer, grad)
    new[l] = update_layer(l, params[l], merge((grad,))[0]) if scalars else updated
    if l:
      _, input_vjp = jax.vjp(functools.partial(affine, updated), a_prev)
      (ct,) = input_vjp(delta)
      if hand_on_vjp is not None:
        (ct,) = hand_on_vjp(ct)
  return E, tuple(new)


def _transform(opts: Options, values):
  """The optimizer of the simultaneous order: ``opts.optimizer`` with its values, frozen leaves masked."""
  return masked(build(opts.optimizer, values), opts.mask)


def init_state(opts: Options, values, params):
  """A fresh optimizer state for ``params`` (arrays) trained with ``opts`` (empty in the sequential order)."""
  if opts.update == "sequential":
    return ()
  return _transform(opts, values).init(tuple(params))  # a list of layers too


def _step(opts: Options, x, y, values):
  """The training step, ``(params, optimizer state) -> ((params, state), E before the step)``."""
  if opts.update == "sequential":  # plain SGD, one layer at a time
    def update_layer(l, layer, grad):
      return sgd_update((layer,), (grad,), values[0], opts.mask[l:l + 1])[0]

    def sequential_step(carry):
      params, state = carry
      E, params = _sequential(params, x, y, opts.act, opts.reduction, opts.form, update_layer)
      return (params, state), E

    return sequential_step
  tx = _transform(opts, values)

  def step(carry):
    params, state = carry
    E, grads = jax.value_and_grad(network_loss)(params, x, y, opts.act, opts.reduction, opts.form)
    updates, state = tx.update(grads, state, params)
    return (optax.apply_updates(params, updates), state), E

  return step


# --- the loop ----------------------------------------------------------------------------


def _loop(step, carry, like, steps: int, record_every: int, watch: bool, unroll: int = 1):
  """Runs ``step: carry -> (carry, E)`` ``steps`` times: ``(carry, recorded, first_bad)``.

  The one recording loop: the inner loop runs ``record_every`` steps and keeps the
  loss before the first, the outer one stores it, ``(steps // record_every,)``.
  ``like`` has E's shape and dtype; with ``watch``, ``first_bad`` is the first step
  whose E is not finite (-1 if none, and always without ``watch``).
  """

  def one(i, c):
    carry, first, bad, k = c
    carry, E = step(carry)
    if watch:
      bad = jnp.where((bad < 0) & ~jnp.isfinite(E), k, bad)
    return carry, jnp.where(i == 0, E, first), bad, k + 1

  def chunk(c, _):
    carry, bad, k = c
    carry, first, bad, k = lax.fori_loop(0, record_every, one, (carry, jnp.zeros_like(like), bad, k),
                                         unroll=min(unroll, record_every))
    return (carry, bad, k), first

  start = (carry, jnp.full(jnp.shape(like), -1, jnp.int32), jnp.zeros((), jnp.int32))
  (carry, bad, _), recorded = lax.scan(chunk, start, None, length=steps // record_every)
  return carry, recorded, bad


def run_training(params, state, x, y, values, opts: Options):
  """The training program for one network: ``(params, state, losses, first_bad)``.

  ``state`` is the optimizer state (None: a fresh one), ``values`` the optimizer's
  float hyperparameters; the losses, ``(steps // record_every + 1,)``, are those
  before each recorded chunk and after the last step (see :func:`_loop`).
  """
  params = tuple(params)  # a list of layers too: the loop's carry is a tuple
  if state is None:
    state = init_state(opts, values, params)
  step = _step(opts, x, y, values)
  E0 = jnp.zeros((), jax.tree_util.tree_leaves(params)[0].dtype)
  (params, state), recorded, bad = _loop(step, (params, state), E0, opts.steps, opts.record_every,
                                         opts.watch, opts.unroll)
  losses = jnp.concatenate([recorded, network_loss(params, x, y, opts.act, opts.reduction, opts.form)[None]])
  return params, state, losses, bad


run_program = jax.jit(run_training, static_argnames=("opts",))


@functools.partial(jax.jit, static_argnames=("opts",))
def train_program(params, x, y, values, opts: Options):
  """:func:`train`'s program: ``(the trained leaves, flat, input side first; the losses)``.

  Each output costs about 1 µs a call, and each :class:`jbp.Layer` jit builds from its outputs
  about 0.3 µs more, so :func:`train` builds the layers itself, with the frozen leaves it was given.
  """
  final, _, losses, _ = run_training(params, None, x, y, values, opts)
  return tuple(leaf for f, m in zip(final, opts.mask) for leaf, on in zip(f, m) if on), losses


def with_trained(params, trained, mask) -> tuple[Layer, ...]:
  """``params`` with their trainable leaves (``mask``) replaced by ``trained``, flat, input side first, as
  :func:`train`'s program returns them; a frozen leaf is the caller's ``jax.Array`` (or one made from it)."""
  leaves = iter(trained)
  return tuple(Layer(next(leaves) if m.w else _frozen(p.w), next(leaves) if m.b else _frozen(p.b))
               for p, m in zip(params, mask))


def _frozen(leaf):
  """A frozen leaf as :func:`train` returns it: the caller's own ``jax.Array``, or one made from it."""
  return leaf if isinstance(leaf, jax.Array) else jnp.asarray(leaf)


# --- the public function ------------------------------------------------------------------


def train(params: tuple[Layer, ...], x: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *, steps: int,
          learning_rate: jax.typing.ArrayLike | None = None, update: str = "simultaneous",
          record_every: int = 1, activation: ActivationLike = "sigmoid",
          optimizer: Optimizer | GradientTransformation | None = None,
          trainable: str | tuple[Layer, ...] = "weights", reduction: str = "sum", form: str = "auto",
          unroll: int = 1) -> tuple[tuple[Layer, ...], jax.Array]:
  """Trains ``params`` on ``(x, y)`` for ``steps`` updates in one compiled program.

  The gradients come from ``jax.value_and_grad`` of :func:`jbp.loss` (or, in the
  sequential order, from ``jax.vjp`` one layer at a time), and the loop is
  ``jax.jit`` + ``lax.scan``: no Python loop over steps. A second call with the
  same shapes, dtypes and options compiles nothing new and repeats only the checks
  of values (finite data, the learning rate); the learning rate and an
  :class:`jbp.Optimizer`'s float hyperparameters are values of the program, so
  changing them does not recompile either.

  Args:
    params: a tuple (or list) of :class:`jbp.Layer`, floating dtype, finite values.
    x: shape ``(n_in,)`` or ``(batch, n_in)`` (the full batch every step).
    y: shape ``(n_out,)`` or ``(batch, n_out)``.
    steps: the number of updates, an integer >= 1.
    learning_rate: a positive scalar for plain SGD (a Python float or a 0-d
      array, which may be traced, e.g. under ``jax.vmap``). Required unless
      ``optimizer`` is given.
    update: ``"simultaneous"`` (textbook gradient descent, the default) or
      ``"sequential"`` (output layer first; reproduces the published figures).
    record_every: record the loss every this many updates; must divide ``steps``.
    activation: as in :func:`jbp.forward`.
    optimizer: instead of plain SGD (simultaneous order only): a
      :class:`jbp.Optimizer` such as ``jbp.Optimizer(optax.adam, learning_rate=1e-2)``,
      compiled once for all its float hyperparameters, or any optax
      ``GradientTransformation`` (each new object compiles a new program).
    trainable: which leaves train: ``"weights"`` (the default, as the worked
      example: biases stay fixed), ``"all"``, or a tuple of ``Layer(w=bool, b=bool)``.
      Frozen leaves are masked with ``optax.multi_transform``.
    reduction: ``"sum"`` or ``"mean"`` of the loss over a batch, as in :func:`jbp.loss`.
    form: ``"auto"`` (the default), ``"unrolled"`` or ``"matmul"``: how the
      compiled forward pass computes ``w @ a``: as elementwise sums over the
      layer's inputs, which XLA fuses (small networks on a CPU), or as matrix
      products; ``"auto"`` picks by size and platform (see :data:`jbp.FORMS`): on a
      CPU, unrolled up to 24 weight-times-example products a step, where its first
      call is no slower. A long run of a small network may step faster unrolled
      (``benchmarks/forms.py``). The numbers agree to rounding.
    unroll: steps an iteration of the compiled loop (``lax.fori_loop``'s
      ``unroll``). 1, the default, is fastest on a CPU; on a GPU, where every step
      launches kernels, more steps an iteration let XLA fuse across them (see
      ``benchmarks/gpu.sh``). The numbers agree to rounding.

  Returns:
    ``(final_params, losses)``: ``losses`` has shape ``(steps // record_every + 1,)``
    and ``losses[k]`` is E after ``k * record_every`` updates (``losses[0]`` is the
    error before training, ``losses[-1]`` after the last update). A frozen leaf of
    ``final_params`` is the ``jax.Array`` passed in (or one made from it).

  Raises:
    TypeError, ValueError: a bad argument, named, before anything is compiled: among
      others, NaN or an infinity in concrete ``params``, ``x`` or ``y``, a
      ``learning_rate`` that is not a positive number finite in the params' dtype,
      or ``steps`` or ``record_every`` outside 1 to 2**31 - 1 (the compiled loop
      counts in int32).

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> params, losses = jbp.train(ex.params, ex.inputs, ex.targets, steps=1000,
  ...                            learning_rate=0.5, record_every=100)
  >>> losses.shape
  (11,)
  """
  try:  # the same types, shapes, dtypes and options as an earlier call: check the values only
    if optimizer is not None:  # an Optimizer is not hashable; an optax object keys jit's cache itself
      raise _calls.Unkeyable
    option = _calls.option_key
    key = ("train", _calls.params_key(params), _calls.array_key(x), _calls.array_key(y),
           _calls.ints_key(steps, record_every, unroll), update, reduction, form, option(activation),
           option(trainable))
    hit = _calls.lookup(key)
  except (_calls.Unkeyable, TypeError):
    key = hit = None
  if hit is None:
    opts, values, dtype = make_options(
        params, x, y, steps=steps, learning_rate=learning_rate, update=update, record_every=record_every,
        activation=activation, optimizer=optimizer, trainable=trainable, reduction=reduction, form=form,
        unroll=unroll)
    plan = _plan(params, x, y, opts, dtype)
    if key is not None:
      _calls.store(key, (opts, dtype, plan))
  else:
    opts, dtype, plan = hit
    _calls.check_finite_params(params)
    _calls.check_finite("x", x)
    _calls.check_finite("y", y)
    values = (hyperparameter(_checks.check_learning_rate(learning_rate, dtype=dtype), dtype),)
  x_as_is, y_as_is, weights_only = plan
  values = tuple(map(_calls.scalar, values))  # a float learning rate: a JAX scalar made once
  final, losses = train_program(params, x if x_as_is else as_dtype(x, dtype),
                                 y if y_as_is else as_dtype(y, dtype), values, opts)
  if weights_only:  # every w trained, every b frozen and the caller's jax.Array: the common case
    return tuple([tuple.__new__(Layer, (w, p.b)) for w, p in zip(final, params)]), losses
  return with_trained(params, final, opts.mask), losses


def _plan(params, x, y, opts, dtype):
  """What a call with these types and options does with its arguments: ``(x as it is, y as it is,
  weights only)``; the types are part of the cache's key, so it holds for every call with its key."""
  as_is = lambda a: isinstance(a, jax.Array) and a.dtype == dtype
  weights_only = all(m.w and not m.b and isinstance(p.b, jax.Array) for m, p in zip(opts.mask, params))
  return as_is(x), as_is(y), weights_only
