"""Populations: many independent networks trained in one compiled program.

Every public array keeps the population axis first: member ``i`` of a population
is ``jax.tree_util.tree_map(lambda a: a[i], params)``, a network :func:`jbp.train`
takes as it is.

Inside the compiled program :func:`train_many` picks its own layout:

* ``"last"``: the population axis is moved last and every weight becomes its own
  vector over members, so each operation of a training step is one elementwise
  loop over the population, with the loops over neurons and examples unrolled at
  trace time. Small networks (the worked example, XOR) keep a CPU's vector units
  busy this way; a ``jax.vmap`` of the one-network step spends its time on tiny
  matrix products instead.
* ``"first"``: ``jax.vmap`` of the one-network step (batched matrix products),
  for networks too large to unroll.

Both give the numbers of ``jax.vmap(jbp.train)`` (tests compare them in float64).
The population is split over every device of a :class:`jax.sharding.Mesh`
(``jax.shard_map``); members never exchange data, so the split changes no number.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jbp import _checks
from jbp._activation import resolve_activation
from jbp._init import METHODS, check_key, check_sizes, init_params
from jbp._network import REDUCTIONS, Layer, _loss
from jbp._train import UPDATES, _sequential_step, trainable_mask

__all__ = ["Population", "init_many", "train_many", "sweep", "LAYOUTS", "RECORDS"]

LAYOUTS = ("auto", "last", "first")
RECORDS = ("all", "final")
# "auto" unrolls a network when one training step has at most this many
# weight-times-example products; beyond it the program grows and vmap wins.
UNROLL_LIMIT = 512
_AXIS = "population"


class Population(NamedTuple):
  """The result of :func:`train_many`; ``n`` is the population size.

  Attributes:
    params: the final params, a tuple of :class:`jbp.Layer` whose leaves carry a
      leading axis of size ``n``. A diverged member's params are NaN.
    losses: shape ``(n, steps // record_every + 1)``; ``losses[i, k]`` is member
      ``i``'s error after ``k * record_every`` updates. A diverged member's losses
      are NaN from its divergence on (never an ``inf`` or a number that looks like
      a result).
    diverged: shape ``(n,)``, bool: the member's loss became non-finite (``inf``
      or NaN) at some step, or its final params hold a non-finite value.
    diverged_step: shape ``(n,)``, int32: the number of updates after which the
      loss was first non-finite (``steps`` if only the final params are), ``-1``
      for a member that never diverged.
  """

  params: tuple
  losses: jax.Array
  diverged: jax.Array
  diverged_step: jax.Array


# --- initialization ---------------------------------------------------------


def init_many(key, n, sizes, *, method="glorot", shared_bias=False, dtype=None):
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


# --- the "last" layout: one vector over members per weight --------------------


def _flatten(params):
  """Population-first params -> a flat tuple of (n,) vectors, one per scalar parameter."""
  vecs = []
  for layer in params:
    n_out, n_in = layer.w.shape[1:]
    vecs += [layer.w[:, j, i] for j in range(n_out) for i in range(n_in)]
    vecs += [layer.b] if layer.b.ndim == 1 else [layer.b[:, j] for j in range(n_out)]
  return tuple(vecs)


def _unflatten(vecs, sizes, shared):
  """The inverse of :func:`_flatten` as nested lists: ``w[l][j][i]``, ``b[l]`` (shared) or ``b[l][j]``."""
  ws, bs, k = [], [], 0
  for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
    ws.append([list(vecs[k + j * n_in:k + (j + 1) * n_in]) for j in range(n_out)])
    k += n_out * n_in
    nb = 1 if shared[l] else n_out
    bs.append(vecs[k] if shared[l] else list(vecs[k:k + nb]))
    k += nb
  return ws, bs


def _restack(vecs, sizes, shared):
  """The flat (n,) vectors back to population-first params."""
  ws, bs = _unflatten(vecs, sizes, shared)
  out = []
  for l, w in enumerate(ws):
    w = jnp.stack([jnp.stack(row, axis=-1) for row in w], axis=-2)  # (n, n_out, n_in)
    b = bs[l] if shared[l] else jnp.stack(bs[l], axis=-1)
    out.append(Layer(w, b))
  return tuple(out)


def _total(terms):
  return functools.reduce(lambda a, b: a + b, terms)


def _unrolled_forward(ws, bs, shared, x2, act):
  """Per example ``b``, per layer ``l``: the lists ``(net, out)`` of (n,) vectors."""
  traces = []
  for b in range(x2.shape[0]):
    a = [x2[b, i] for i in range(x2.shape[1])]
    trace = []
    for l, w in enumerate(ws):
      net = [_total([w[j][i] * a[i] for i in range(len(a))]) + (bs[l] if shared[l] else bs[l][j])
             for j in range(len(w))]
      a = [act.fn(v) for v in net]
      trace.append((net, a))
    traces.append(trace)
  return traces


def _unrolled_error(traces, y2, scale):
  sq = [(out - y2[b, k]) ** 2 for b, tr in enumerate(traces) for k, out in enumerate(tr[-1][1])]
  return 0.5 * _total(sq) * scale


def _unrolled_loss(vecs, x2, y2, *, sizes, shared, act, scale):
  ws, bs = _unflatten(vecs, sizes, shared)
  return _unrolled_error(_unrolled_forward(ws, bs, shared, x2, act), y2, scale)


def _unrolled_step(vecs, x2, y2, lr, *, sizes, shared, act, scale, update, mask):
  """One update of every member; the delta rule of :func:`jbp.backprop`, written per scalar.

  Returns ``(new_vecs, E)`` with ``E`` of shape (n,), the error before the update.
  """
  ws, bs = _unflatten(vecs, sizes, shared)
  traces = _unrolled_forward(ws, bs, shared, x2, act)
  E = _unrolled_error(traces, y2, scale)
  n_ex = len(traces)
  delta = [[(out - y2[b, k]) * act.derivative(net, out) * scale
            for k, (net, out) in enumerate(zip(*traces[b][-1]))] for b in range(n_ex)]
  new_ws, new_bs = list(ws), list(bs)
  for l in range(len(ws) - 1, -1, -1):
    a_prev = [[x2[b, i] for i in range(x2.shape[1])] if l == 0 else traces[b][l - 1][1]
              for b in range(n_ex)]
    n_out, n_in = len(ws[l]), len(ws[l][0])
    if mask[l][0]:
      new_ws[l] = [[ws[l][j][i] - lr * _total([delta[b][j] * a_prev[b][i] for b in range(n_ex)])
                    for i in range(n_in)] for j in range(n_out)]
    if mask[l][1]:
      gb = [_total([delta[b][j] for b in range(n_ex)]) for j in range(n_out)]
      new_bs[l] = bs[l] - lr * _total(gb) if shared[l] else [bs[l][j] - lr * gb[j] for j in range(n_out)]
    if l > 0:
      w_back = new_ws[l] if update == "sequential" else ws[l]
      delta = [[_total([delta[b][j] * w_back[j][i] for j in range(n_out)])
                * act.derivative(traces[b][l - 1][0][i], traces[b][l - 1][1][i])
                for i in range(n_in)] for b in range(n_ex)]
  out = []
  for l in range(len(ws)):
    out += [v for row in new_ws[l] for v in row]
    out += [new_bs[l]] if shared[l] else list(new_bs[l])
  return tuple(out), E


# --- the loop, shared by both layouts ------------------------------------------


def _loop(step_fn, carry, like, steps, record_every):
  """Runs ``step_fn(carry) -> (carry, E)`` ``steps`` times, ``E`` shaped as ``like``, (n,).

  A nested scan: the inner one runs ``record_every`` updates and keeps the loss
  before the first, the outer one records it, so only the recorded losses are
  stored. Also tracks each member's first non-finite loss.

  Returns ``(carry, recorded (steps // record_every, n), diverged_step (n,))``.
  """

  def inner(c, i):
    carry, first, div, k = c
    carry, E = step_fn(carry)
    div = jnp.where((div < 0) & ~jnp.isfinite(E), k, div)
    return (carry, jnp.where(i == 0, E, first), div, k + 1), None

  def outer(c, _):
    carry, div, k = c
    (carry, first, div, k), _ = lax.scan(inner, (carry, jnp.zeros_like(like), div, k),
                                         jnp.arange(record_every))
    return (carry, div, k), first

  init = (carry, jnp.full_like(like, -1, jnp.int32), jnp.zeros((), jnp.int32))
  (carry, div, _), recorded = lax.scan(outer, init, None, length=steps // record_every)
  return carry, recorded, div


def _finish(final, E_final, recorded, div, steps, record_every):
  """Appends the final loss, flags non-finite results and puts NaN where a member diverged."""
  n = E_final.shape[0]
  params_ok = jnp.ones((n,), bool)
  for leaf in jax.tree_util.tree_leaves(final):
    params_ok &= jnp.all(jnp.isfinite(leaf.reshape(n, -1)), axis=1)
  div = jnp.where((div < 0) & ~(jnp.isfinite(E_final) & params_ok), steps, div)
  diverged = div >= 0
  losses = jnp.concatenate([recorded.T, E_final[:, None]], axis=1)
  at = jnp.arange(losses.shape[1]) * record_every
  losses = jnp.where(diverged[:, None] & (at[None, :] >= div[:, None]), jnp.nan, losses)
  final = jax.tree_util.tree_map(
      lambda a: jnp.where(diverged.reshape((n,) + (1,) * (a.ndim - 1)), jnp.nan, a), final)
  return final, losses, diverged, div


def _train_last(params, x, y, lr, *, steps, record_every, update, act, mask, reduction):
  """The "last" layout for one device's members: one (n,) vector per scalar parameter."""
  x2, y2 = jnp.atleast_2d(x), jnp.atleast_2d(y)
  scale = 1.0 / x2.shape[0] if (reduction == "mean" and x.ndim == 2) else 1.0
  sizes = (params[0].w.shape[2],) + tuple(layer.w.shape[1] for layer in params)
  shared = tuple(layer.b.ndim == 1 for layer in params)
  opts = dict(sizes=sizes, shared=shared, act=act, scale=scale)

  step = lambda v: _unrolled_step(v, x2, y2, lr, update=update, mask=mask, **opts)
  vecs = _flatten(params)
  vecs, recorded, div = _loop(step, vecs, vecs[0], steps, record_every)
  E_final = _unrolled_loss(vecs, x2, y2, **opts)
  return _finish(_restack(vecs, sizes, shared), E_final, recorded, div, steps, record_every)


def _train_first(params, x, y, lr, *, steps, record_every, update, act, mask, reduction):
  """The "first" layout: ``jax.vmap`` of the one-network step."""

  def one(p, lr):
    if update == "sequential":
      E, p = _sequential_step(p, x, y, lr, act, reduction, mask)
      return p, E
    E, g = jax.value_and_grad(_loss)(p, x, y, act, reduction)
    return tuple(Layer(layer.w - lr * gl.w if m[0] else layer.w, layer.b - lr * gl.b if m[1] else layer.b)
                 for layer, gl, m in zip(p, g, mask)), E

  step = lambda p: jax.vmap(one, in_axes=(0, 0 if lr.ndim else None))(p, lr)
  final, recorded, div = _loop(step, params, params[0].w[:, 0, 0], steps, record_every)
  E_final = jax.vmap(lambda p: _loss(p, x, y, act, reduction))(final)
  return _finish(final, E_final, recorded, div, steps, record_every)


# --- the public entry points ------------------------------------------------------


def _population_size(params):
  """``(n, sizes)``: the leading axis every leaf of ``params`` shares (>= 1) and the layer sizes."""
  if (isinstance(params, (tuple, list)) and params and isinstance(params[0], Layer)
      and len(np.shape(params[0].w)) != 3):
    raise ValueError(f"params: expected a population, every w of shape (n, n_out, n_in) with the "
                     f"population axis first (see jbp.init_many), got params[0].w of shape "
                     f"{tuple(np.shape(params[0].w))}")
  if not (isinstance(params, (tuple, list)) and params and isinstance(params[0], Layer)):
    _checks.check_params(params)  # raises the usual message
  n = np.shape(params[0].w)[0]
  if n < 1:
    raise ValueError(f"params: expected a population of n >= 1 members, got a leading axis of size {n}")
  return n, _checks.check_params(params, leading=(n,))


def _resolve_layout(layout, sizes, x, platform="cpu") -> str:
  _checks.check_choice("layout", layout, LAYOUTS)
  if layout != "auto":
    return layout
  if platform != "cpu":
    # On an H200 the vmapped one-network step was faster: 8.6e9 against 6.6e9 network-steps/s
    # at n = 100,000 (benchmarks/results/h200-2026-11-27). The population-last layout is for
    # CPUs, where vmap of tiny matrix products leaves the vector units idle.
    return "first"
  batch = np.shape(x)[0] if len(np.shape(x)) == 2 else 1
  products = batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
  return "last" if products <= UNROLL_LIMIT else "first"


def _mesh(devices):
  if devices is None:
    devices = jax.devices()
  devices = list(devices)
  if not devices or not all(isinstance(d, jax.Device) for d in devices):
    raise ValueError(f"devices: expected None or a non-empty sequence of jax.Device, got {devices!r}")
  return Mesh(np.array(devices), (_AXIS,))


def train_many(params, x, y, *, steps, learning_rate, update="simultaneous", record_every=1,
               record="all", activation="sigmoid", trainable="weights", reduction="sum",
               layout="auto", devices=None) -> Population:
  """Trains a population of networks on the same data, every member in one compiled program.

  Member ``i`` is trained exactly as ``jbp.train(member_i, x, y, ...)`` would train
  it (plain SGD, either update order) with its own learning rate; members never
  exchange data, so no member can change another's numbers. The population is
  split over ``devices`` (all of JAX's devices by default) along its first axis;
  a population size that the device count does not divide is padded and trimmed.

  Args:
    params: a population: a tuple of :class:`jbp.Layer` whose leaves all carry the
      same leading axis ``n >= 1`` (``w`` of shape ``(n, n_out, n_in)``, ``b`` of
      shape ``(n,)`` or ``(n, n_out)``), e.g. from :func:`jbp.init_many`.
    x: shape ``(n_in,)`` or ``(batch, n_in)``, shared by every member (full batch).
    y: shape ``(n_out,)`` or ``(batch, n_out)``.
    steps: number of updates, an integer >= 1.
    learning_rate: a positive scalar, or shape ``(n,)``: one rate a member.
    update: ``"simultaneous"`` or ``"sequential"``, as in :func:`jbp.train`.
    record_every: record the loss every this many updates; must divide ``steps``.
      The thinning happens on the device (a nested scan), so memory holds only
      the recorded losses.
    record: ``"all"`` (every ``record_every`` updates) or ``"final"``: only the
      losses before and after training, shape ``(n, 2)``.
    activation: as in :func:`jbp.forward`.
    trainable: as in :func:`jbp.train`.
    reduction: as in :func:`jbp.loss`.
    layout: ``"auto"`` (the default), ``"last"`` or ``"first"``: how the compiled
      step lays the population out (see the module notes). ``"auto"`` unrolls
      small networks (at most 512 weight-times-example products a step) on CPUs,
      and uses ``"first"`` (vmap of the one-network step) on GPUs and TPUs, where it
      measured faster.
    devices: the devices to split the population over; ``None`` is ``jax.devices()``.

  Returns:
    a :class:`Population` ``(params, losses, diverged, diverged_step)``, every
    array with the population axis first; ``losses`` has shape
    ``(n, steps // record_every + 1)`` (``(n, 2)`` for ``record="final"``).

  >>> import jax, jbp
  >>> ex = jbp.worked_example()
  >>> pop = jbp.init_many(jax.random.key(0), 100, (2, 2, 2), method="uniform", shared_bias=True)
  >>> res = jbp.train_many(pop, ex.inputs, ex.targets, steps=1000, learning_rate=0.5, record_every=100)
  >>> res.losses.shape, res.params[0].w.shape, bool(res.diverged.any())
  ((100, 11), (100, 2, 2), False)
  """
  n, sizes = _population_size(params)
  _checks.check_data(x, y, sizes)
  steps = _checks.check_int("steps", steps)
  _checks.check_choice("record", record, RECORDS)
  if record == "final":
    if record_every != 1:
      raise ValueError(f"record_every: expected 1 (the default) with record='final', which keeps only "
                       f"the first and last losses, got {record_every!r}")
    record_every = steps
  record_every = _checks.check_record_every(record_every, steps)
  _checks.check_choice("update", update, UPDATES)
  _checks.check_choice("reduction", reduction, REDUCTIONS)
  act = resolve_activation(activation)
  mask = trainable_mask(tuple(Layer(*l) for l in params), trainable)
  lr_shape = tuple(np.shape(learning_rate)) if learning_rate is not None else ()
  if lr_shape not in ((), (n,)):
    raise ValueError(f"learning_rate: expected a scalar or shape ({n},), one rate for each of the {n} "
                     f"members, got shape {lr_shape}")
  _checks.check_learning_rate(learning_rate, shape=lr_shape)
  mesh = _mesh(devices)
  layout = _resolve_layout(layout, sizes, x, mesh.devices.flat[0].platform)
  dtype = jnp.result_type(params[0].w)
  # A scalar rate stays a scalar (a traced one: a new value compiles nothing); the
  # compiled step then reads one number instead of a vector of n.
  lr = jnp.asarray(learning_rate, dtype)
  x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
  params = tuple(Layer(jnp.asarray(l.w), jnp.asarray(l.b)) for l in params)
  if jax.process_count() > 1:
    # Host-local inputs (the same on every process) become global, replicated arrays.
    rep = NamedSharding(mesh, P())
    params, x, y, lr = jax.device_put((params, x, y, lr), rep)
  final, losses, diverged, div = _train_many(
      params, x, y, lr, steps=steps, record_every=record_every, update=update, act=act, mask=mask,
      reduction=reduction, layout=layout, mesh=mesh)
  return Population(final, losses, diverged, div)


@functools.partial(jax.jit, static_argnames=("steps", "record_every", "update", "act", "mask",
                                             "reduction", "layout", "mesh"))
def _train_many(params, x, y, lr, *, steps, record_every, update, act, mask, reduction, layout, mesh):
  n = params[0].w.shape[0]
  fn = functools.partial(_train_last if layout == "last" else _train_first, steps=steps,
                         record_every=record_every, update=update, act=act, mask=mask,
                         reduction=reduction)
  d = mesh.size
  if d == 1:
    return fn(params, x, y, lr)
  pad = -n % d
  if pad:  # repeat the last member; its copies are trimmed below
    params, lr = jax.tree_util.tree_map(
        lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]) if a.ndim else a, (params, lr))
  specs = (P(_AXIS), P(), P(), P(_AXIS) if lr.ndim else P())
  out = jax.shard_map(fn, mesh=mesh, in_specs=specs, out_specs=P(_AXIS))(params, x, y, lr)
  return jax.tree_util.tree_map(lambda a: a[:n], out) if pad else out


def sweep(params, x, y, *, learning_rates, steps, **kwargs) -> Population:
  """Every member of a population trained with every learning rate, in one call.

  Args:
    params: a population of ``n`` networks (leading axis ``n``), e.g. from
      :func:`jbp.init_many`.
    x, y: the data, as in :func:`train_many`.
    learning_rates: shape ``(m,)``, positive.
    steps: number of updates.
    **kwargs: any other argument of :func:`train_many` (``update``,
      ``record_every``, ``record``, ``activation``, ...).

  Returns:
    a :class:`Population` whose arrays have two leading axes ``(n, m)``: entry
    ``[i, j]`` is member ``i`` trained with ``learning_rates[j]``; ``losses`` has
    shape ``(n, m, steps // record_every + 1)``.

  >>> import jax, jbp
  >>> ex = jbp.worked_example()
  >>> pop = jbp.init_many(jax.random.key(0), 10, (2, 2, 2), method="uniform", shared_bias=True)
  >>> res = jbp.sweep(pop, ex.inputs, ex.targets, learning_rates=[0.1, 0.5, 2.0], steps=100,
  ...                 record="final")
  >>> res.losses.shape
  (10, 3, 2)
  """
  n, _ = _population_size(params)
  shape = tuple(np.shape(learning_rates)) if learning_rates is not None else None
  if shape is None or len(shape) != 1 or shape[0] < 1:
    raise ValueError(f"learning_rates: expected a 1-d array of m >= 1 positive rates, got "
                     f"{'None' if shape is None else f'shape {shape}'}")
  _checks.check_learning_rate(learning_rates, name="learning_rates", shape=shape)
  m = shape[0]
  if "learning_rate" in kwargs:
    raise TypeError("learning_rate: not an argument of sweep; pass learning_rates=[...]")
  dtype = jnp.result_type(params[0].w)
  grid = jax.tree_util.tree_map(lambda a: jnp.repeat(jnp.asarray(a), m, axis=0), tuple(params))
  grid = tuple(Layer(*l) for l in grid)
  lrs = jnp.tile(jnp.asarray(learning_rates, dtype), n)
  res = train_many(grid, x, y, steps=steps, learning_rate=lrs, **kwargs)
  return Population(*jax.tree_util.tree_map(lambda a: a.reshape((n, m) + a.shape[1:]), tuple(res)))
