"""Populations: many independent networks trained in one compiled program.

Every public array keeps the population axis first. :func:`train_many` is
``jax.vmap`` of :func:`jbp.train`'s program (the same step, the same loop); in the
unrolled form each weight becomes a vector over the members. On a CPU a population is
split over the cores, one thread a share (:func:`parts`), and each share is trained
in cache-sized blocks (:func:`block_size`), each block through all its steps; every
population is split over the devices of a :class:`jax.sharding.Mesh`. Members never
exchange data, so none of these changes any number.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from optax import GradientTransformation

from jbp import _checks
from jbp._activation import ActivationLike
from jbp._layer import Layer
from jbp._network import FORMS, merge, split
from jbp._optimizer import Optimizer
from jbp._options import make_options
from jbp._train import run_training

__all__ = ["Population", "train_many", "sweep", "FORMS", "RECORDS"]

RECORDS = ("all", "final")
"""What ``train_many``'s ``record=`` keeps: every ``record_every`` updates, or the first and last loss.

>>> import jbp
>>> jbp.RECORDS
('all', 'final')
"""
# The bytes a block of members may take on a CPU: a block's weights, gradients and activations
# stay in a core's cache through all its steps (benchmarks/README.md, "Populations": at n = 100,000
# on 2 cores, blocks of 4 MiB ran 1.3x faster than blocks of 16 MiB, and at n = 1,000,000 blocks ran
# 1.7x faster than one pass over all).
CACHE_BYTES = 4 * 2**20
# The fewest members a thread trains: XLA's CPU backend runs each loop of a small program on one core,
# so a population is split over the cores in threads (see parts()), but not into shares so small
# that a thread's dispatch costs more than its share.
MIN_SHARE = 1024
# The least work (members times steps) split over the cores: below it, cutting the shares, compiling
# from the caches and joining the results (about 2 ms) would cost more than the cores save.
MIN_WORK = 2**20
# Steps an iteration of a population's loop on a CPU, where train_many's unroll is None.
POPULATION_UNROLL = 2
# XLA's options for a population's program on a CPU: vectors of 512 bits where the CPU has them
# (AVX-512; the C loop of benchmarks/population.py uses them too), where XLA's default is 256. Every
# operation of a step is a loop over contiguous members, so twice the members an instruction: 1.18x
# to 1.24x faster at n = 10,000 to 1,000,000 on 2 cores, the same numbers to the bit. Set for this
# program only; a CPU without 512-bit vectors keeps its widest.
CPU_OPTIONS = {"xla_cpu_prefer_vector_width": 512}
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

  >>> import jax, jbp
  >>> ex = jbp.worked_example()
  >>> pop = jbp.init_many(jax.random.key(0), 3, (2, 2, 2))
  >>> res = jbp.train_many(pop, ex.inputs, ex.targets, steps=10, learning_rate=0.5, record="final")
  >>> res.losses.shape, res.diverged.tolist(), res.diverged_step.tolist()
  ((3, 2), [False, False, False], [-1, -1, -1])
  """

  params: tuple
  losses: jax.Array
  diverged: jax.Array
  diverged_step: jax.Array


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


def _mesh(devices):
  if devices is None:
    devices = jax.devices()
  devices = list(devices)
  if not devices or not all(isinstance(d, jax.Device) for d in devices):
    raise ValueError(f"devices: expected None or a non-empty sequence of jax.Device, got {devices!r}")
  return Mesh(np.array(devices), (_AXIS,))


def train_many(params: tuple[Layer, ...], x: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *, steps: int,
               learning_rate: jax.typing.ArrayLike | None = None, update: str = "simultaneous",
               record_every: int = 1, record: str = "all", activation: ActivationLike = "sigmoid",
               optimizer: Optimizer | GradientTransformation | None = None,
               trainable: str | tuple[Layer, ...] = "weights", reduction: str = "sum", form: str = "auto",
               unroll: int | None = None, devices: Sequence[Any] | None = None) -> Population:
  """Trains a population of networks on the same data, every member in one compiled program.

  Member ``i`` is trained exactly as ``jbp.train(member_i, x, y, ...)`` would train
  it, with its own learning rate if given one; members never exchange data, so no
  member can change another's numbers. The population is split over ``devices``
  (all of JAX's devices by default) along its first axis; a population size that
  the device count does not divide is padded and trimmed.

  Args:
    params: a population: a tuple (or list) of :class:`jbp.Layer` whose leaves all
      carry the same leading axis ``n >= 1`` (``w`` of shape ``(n, n_out, n_in)``,
      ``b`` of shape ``(n,)`` or ``(n, n_out)``), e.g. from :func:`jbp.init_many`,
      on any device. Finite, but for members NaN in every leaf (a diverged
      member as ``train_many`` returns it, which is marked diverged again).
    x: shape ``(n_in,)`` or ``(batch, n_in)``, shared by every member (full batch).
    y: shape ``(n_out,)`` or ``(batch, n_out)``.
    steps: number of updates, an integer >= 1.
    learning_rate: for plain SGD, a positive scalar, or shape ``(n,)``: one rate a member.
    update: ``"simultaneous"`` or ``"sequential"``, as in :func:`jbp.train`.
    record_every: record the loss every this many updates; must divide ``steps``.
      The thinning happens on the device (a nested loop), so memory holds only
      the recorded losses.
    record: ``"all"`` (every ``record_every`` updates) or ``"final"``: only the
      losses before and after training, shape ``(n, 2)``.
    activation: as in :func:`jbp.forward`.
    optimizer: as in :func:`jbp.train`, shared by every member (simultaneous order only).
    trainable: as in :func:`jbp.train`.
    reduction: as in :func:`jbp.loss`.
    form: as in :func:`jbp.train`; in the unrolled form each weight is a vector over
      the members.
    unroll: as in :func:`jbp.train`; ``None`` (the default) is 2 on a CPU, where two steps an
      iteration of the loop let XLA fuse across them over a block of members (1.12x at n =
      100,000, ``benchmarks/population.py``), and 1 elsewhere. The numbers agree to rounding.
    devices: the devices (``jax.Device``) to split the population over; ``None`` is ``jax.devices()``.
      The arrays are placed there whatever device they are on.

  Returns:
    a :class:`Population` ``(params, losses, diverged, diverged_step)``, every
    array with the population axis first; ``losses`` has shape
    ``(n, steps // record_every + 1)`` (``(n, 2)`` for ``record="final"``).

  Raises:
    TypeError, ValueError: a bad argument, named, before anything is compiled, as
      :func:`jbp.train` raises it; a member of ``params`` with NaN or an infinity
      in some leaves but not NaN in all.

  >>> import jax, jbp
  >>> ex = jbp.worked_example()
  >>> pop = jbp.init_many(jax.random.key(0), 100, (2, 2, 2), method="uniform", shared_bias=True)
  >>> res = jbp.train_many(pop, ex.inputs, ex.targets, steps=1000, learning_rate=0.5, record_every=100)
  >>> res.losses.shape, res.params[0].w.shape, bool(res.diverged.any())
  ((100, 11), (100, 2, 2), False)
  """
  n, sizes = _population_size(params)
  steps = _checks.check_int("steps", steps)
  _checks.check_choice("record", record, RECORDS)
  if record == "final":
    if record_every != 1:
      raise ValueError(f"record_every: expected 1 (the default) with record='final', which keeps only "
                       f"the first and last losses, got {record_every!r}")
    record_every = steps
  lr_shape = tuple(np.shape(learning_rate)) if learning_rate is not None else ()
  if lr_shape not in ((), (n,)):
    raise ValueError(f"learning_rate: expected a scalar or shape ({n},), one rate for each of the {n} "
                     f"members, got shape {lr_shape}")
  mesh = _mesh(devices)
  platform = mesh.devices.flat[0].platform
  if unroll is None:
    unroll = POPULATION_UNROLL if platform == "cpu" else 1
  opts, values, dtype = make_options(
      params, x, y, steps=steps, learning_rate=learning_rate, update=update, record_every=record_every,
      activation=activation, optimizer=optimizer, trainable=trainable, reduction=reduction, form=form,
      unroll=unroll, sizes=sizes, watch=True, lr_shape=lr_shape, platform=platform, population=True)
  # A scalar rate stays a scalar (a new value compiles nothing, and the compiled step reads
  # one number instead of a vector of n); only a rate a member is split with the members.
  axes = tuple(0 if np.ndim(v) else None for v in values)
  values = tuple(jnp.asarray(v, dtype) for v in values)
  x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
  params = tuple(Layer(jnp.asarray(l.w), jnp.asarray(l.b)) for l in params)
  if jax.process_count() > 1:
    # Host-local inputs (the same on every process) become global, replicated arrays.
    rep = NamedSharding(mesh, P())
    params, x, y, values = jax.device_put((params, x, y, values), rep)
  else:
    params, x, y, values = _place(mesh, n, axes, params, x, y, values)
  concrete = all(_checks.is_concrete(a) for a in jax.tree_util.tree_leaves((params, x, y, values)))
  k = parts(n) if platform == "cpu" and mesh.size == 1 and concrete and n * steps >= MIN_WORK else 1
  if k > 1:
    return Population(*_on_cores(params, x, y, values, opts=opts, axes=axes, mesh=mesh, sizes=sizes, parts=k))
  block = block_size(n // mesh.size, sizes, x, dtype) if platform == "cpu" else None
  program = _cpu_program if platform == "cpu" else _program
  return Population(*program(params, x, y, values, opts=opts, axes=axes, mesh=mesh, block=block))


def cores() -> int:
  """The CPU cores this process may run on (its affinity where the OS tells it)."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # not Linux
    return os.cpu_count() or 1


def parts(n: int) -> int:
  """Threads a population of ``n`` members is trained in on a CPU: one a core, each of at least
  :data:`MIN_SHARE` members.

  XLA's CPU backend splits a loop over the cores only when it writes 256 KiB or more, so a block of
  cache size runs on one core; one program a thread, on equal shares, keeps every core busy
  (``benchmarks/population.py``: 1.9x at n = 10,000 on 2 cores, the same numbers to the bit).
  """
  return max(1, min(cores(), n // MIN_SHARE))


def _on_cores(params, x, y, values, *, opts, axes, mesh, sizes, parts):
  """The CPU's program on ``parts`` equal shares of the members at once, one thread each, joined.

  Every share has the same size (the last one moved back to end at the last member, so it redoes a
  few members, with the same numbers), so the program compiles once for all of them.
  """
  n = jax.tree_util.tree_leaves(params)[0].shape[0]
  size = -(-n // parts)
  starts = [min(i * size, n - size) for i in range(parts)]
  block = block_size(size, sizes, x, values[0].dtype if values else x.dtype)

  # Everything that traces runs here, in the caller's thread, under its JAX settings (64-bit mode, the
  # default device, promotion rules are set a thread): the shares are cut, and the program compiled
  # (from JAX's caches after the first call); the threads only run the compiled program.
  def cut(start):
    take = lambda a: a[start:start + size]
    return (jax.tree_util.tree_map(take, params), x, y,
            tuple(take(v) if a_ax == 0 else v for v, a_ax in zip(values, axes)))

  shares = [cut(start) for start in starts]
  program = _cpu_program.lower(*shares[0], opts=opts, axes=axes, mesh=mesh, block=block).compile()
  # XLA's CPU client queues an asynchronous run behind the one enqueued before it, unless both reach
  # it at the same moment; so the threads wait for each other and call at once. Without the barrier,
  # 8 of 40 calls at n = 10,000 ran one share after the other on one core; with it, 0 of 120.
  together = threading.Barrier(parts)

  def run(args):
    together.wait()
    return program(*args)

  with ThreadPoolExecutor(parts) as pool:
    results = list(pool.map(run, shares))
  # of each share, the members no earlier share covered
  skips = [0] + [starts[i - 1] + size - starts[i] for i in range(1, parts)]
  pieces = [jax.tree_util.tree_map(lambda a, skip=skip: a[skip:], r) for skip, r in zip(skips, results)]
  return jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *pieces)


def _place(mesh, n, axes, params, x, y, values):
  """The inputs on the mesh's devices, wherever the caller put them (as :func:`jbp.train`, which takes
  arrays on any device): the members split along the population axis when the devices divide ``n``
  (else replicated, for the program pads them), the data and shared values replicated. An array
  placed so already is not copied; on one device, one that is there already is left as it is
  (uncommitted, as JAX's default placement leaves it, so that the result mixes with other arrays).
  """
  if mesh.size == 1:
    device = mesh.devices.flat[0]
    move = lambda a: jax.device_put(a, device) if _checks.is_concrete(a) and a.devices() != {device} else a
    return jax.tree_util.tree_map(move, (params, x, y, values))
  members = NamedSharding(mesh, P(_AXIS) if n % mesh.size == 0 else P())
  rep = NamedSharding(mesh, P())
  values = tuple(jax.device_put(v, members if a_ax == 0 else rep) for v, a_ax in zip(values, axes))
  return jax.device_put(params, members), *jax.device_put((x, y), rep), values


def _finish(params, losses, bad, steps, record_every):
  """One member's result, its divergence flagged: NaN params, and NaN losses from the divergence on.

  ``bad`` is the first step whose loss was not finite (-1 if none); a member whose
  final loss or params are not finite diverged at ``steps``.
  """
  ok = jnp.isfinite(losses[-1])
  for leaf in jax.tree_util.tree_leaves(params):
    ok &= jnp.all(jnp.isfinite(leaf))
  step = jnp.where((bad < 0) & ~ok, steps, bad)
  diverged = step >= 0
  at = jnp.arange(losses.shape[0], dtype=jnp.int32) * record_every
  losses = jnp.where(diverged & (at >= step), jnp.nan, losses)
  params = jax.tree_util.tree_map(lambda a: jnp.where(diverged, jnp.nan, a), params)
  return params, losses, diverged, step


def block_size(n, sizes, x, dtype):
  """Members a block on a CPU, for ``n`` members a device: about :data:`CACHE_BYTES` of work a block.

  A member's step touches its params, their gradients and (per example) each neuron's net and
  output, a few times each; the blocks are made equal, so the last one redoes few members.
  """
  n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
  batch = np.shape(x)[0] if np.ndim(x) == 2 else 1
  per_member = 4 * np.dtype(dtype).itemsize * (n_params + batch * sum(sizes[1:]))
  most = max(1024, CACHE_BYTES // per_member)
  return -(-n // -(-n // most))  # n split into ceil(n / most) equal blocks


def _in_blocks(fn, members, size):
  """``fn`` over the leading axis of ``members``, ``size`` members at a time, in one loop.

  Each block runs ``fn`` whole (all its steps), so its data stay in the cache. The
  last block is moved back to end at the last member (it may redo a few members,
  computing the same numbers), so no member is copied or padded.
  """
  n = jax.tree_util.tree_leaves(members)[0].shape[0]
  if n <= size:
    return fn(members)
  take = lambda a, start: lax.dynamic_slice_in_dim(a, start, size)
  shapes = jax.eval_shape(fn, jax.tree_util.tree_map(lambda a: take(a, 0), members))
  out = jax.tree_util.tree_map(lambda s: jnp.zeros((n,) + s.shape[1:], s.dtype), shapes)

  def block(i, out):
    start = jnp.minimum(i * size, n - size)
    res = fn(jax.tree_util.tree_map(lambda a: take(a, start), members))
    return jax.tree_util.tree_map(lambda o, r: lax.dynamic_update_slice_in_dim(o, r, start, 0), out, res)

  return lax.fori_loop(0, -(-n // size), block, out)


def _train_many(params, x, y, values, *, opts, axes, mesh, block):
  """The population's program: the members in blocks on a CPU, and shared out over ``mesh``."""
  n = params[0].w.shape[0]
  # In the unrolled form each weight becomes its own vector over the block's members
  # (split, and merged back, while the block is in the cache), so every operation of a
  # step is a loop over contiguous members.
  unrolled = opts.form == "unrolled"

  def member(p, v, x, y):
    p, _, losses, bad = run_training(p, None, x, y, v, opts)
    return _finish(p, losses, bad, opts.steps, opts.record_every)

  def device(p, v, x, y):
    shared = [a for a, a_ax in zip(v, axes) if a_ax is None]

    def fn(args):  # a block of members, with their own values
      p, own = args
      own, common = iter(own), iter(shared)
      v = tuple(next(own) if a_ax == 0 else next(common) for a_ax in axes)
      p, losses, diverged, step = jax.vmap(member, in_axes=(0, axes, None, None))(
          split(p) if unrolled else p, v, x, y)
      return (merge(p) if unrolled else p), losses, diverged, step

    own = tuple(a for a, a_ax in zip(v, axes) if a_ax == 0)
    return _in_blocks(fn, (p, own), block or jax.tree_util.tree_leaves(p)[0].shape[0])

  d = mesh.size
  if d == 1:
    return device(params, values, x, y)
  pad = -n % d
  if pad:  # repeat the last member; its copies are trimmed below
    grow = lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)])
    params = jax.tree_util.tree_map(grow, params)
    values = tuple(grow(v) if a_ax == 0 else v for v, a_ax in zip(values, axes))
  specs = (P(_AXIS), tuple(P(_AXIS) if a_ax == 0 else P() for a_ax in axes), P(), P())
  # Members are independent, so every value in the program is per-device: no replication to check.
  out = jax.shard_map(device, mesh=mesh, in_specs=specs, out_specs=P(_AXIS), check_vma=False)(
      params, values, x, y)
  return jax.tree_util.tree_map(lambda a: a[:n], out) if pad else out


_STATIC = ("opts", "axes", "mesh", "block")
_program = jax.jit(_train_many, static_argnames=_STATIC)
_cpu_program = jax.jit(_train_many, static_argnames=_STATIC, compiler_options=CPU_OPTIONS)


def sweep(params: tuple[Layer, ...], x: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *,
          learning_rates: jax.typing.ArrayLike, steps: int, **kwargs: Any) -> Population:
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

  Raises:
    TypeError, ValueError: a bad argument (as in :func:`train_many`), or
      ``learning_rates`` not a 1-d array of positive rates finite in the params'
      dtype, named.

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
  dtype = jnp.result_type(params[0].w)
  _checks.check_learning_rate(learning_rates, name="learning_rates", shape=shape, dtype=dtype)
  m = shape[0]
  if "learning_rate" in kwargs:
    raise TypeError("learning_rate: not an argument of sweep; pass learning_rates=[...]")
  grid = jax.tree_util.tree_map(lambda a: jnp.repeat(jnp.asarray(a), m, axis=0), tuple(params))
  grid = tuple(Layer(*l) for l in grid)
  lrs = jnp.tile(jnp.asarray(learning_rates, dtype), n)
  res = train_many(grid, x, y, steps=steps, learning_rate=lrs, **kwargs)
  return Population(*jax.tree_util.tree_map(lambda a: a.reshape((n, m) + a.shape[1:]), tuple(res)))
