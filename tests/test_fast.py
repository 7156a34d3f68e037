"""The fused plain-SGD step (jbp/_fast.py) against jbp.backprop and the general training loop.

Tolerances: in float64 the fused step computes the same sums as jbp.backprop in another
order (unrolled instead of matrix products), so they agree to rounding; 1e-12 (relative
plus absolute) leaves hundreds of ulps of room, also after tens of steps.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import random_data, random_params

import jbp
from jbp import _fast, _train
from jbp._backprop import _delta_rule

TOL = 1e-12
SIGMOID = jbp.ACTIVATIONS["sigmoid"]


def assert_trees_close(a, b, tol=TOL):
  la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
  assert len(la) == len(lb)
  for u, v in zip(la, lb):
    assert jnp.shape(u) == jnp.shape(v)
    np.testing.assert_allclose(u, v, rtol=tol, atol=tol)


def data(seed, sizes, batch):
  xs = (sizes[0],) if batch is None else (batch, sizes[0])
  ys = (sizes[-1],) if batch is None else (batch, sizes[-1])
  return random_data(seed, xs, ys)


def fused(params, x, y, lr, act, reduction, mask, sequential):
  x2, y2 = jnp.atleast_2d(x), jnp.atleast_2d(y)
  scale = 1.0 / x2.shape[0] if (reduction == "mean" and x.ndim == 2) else 1.0
  return _fast._delta_rule(params, x2, y2, lr, act, scale, mask, sequential)


CASES = [  # sizes, shared bias, activation, batch, reduction
    ((2, 2, 2), True, "sigmoid", None, "sum"),
    ((3, 5, 4, 2), False, "tanh", 3, "mean"),
    ((3, 5, 4, 2), True, "relu", 3, "sum"),
    ((1, 1), False, "identity", None, "sum"),
    ((3, 6, 6, 2), False, jnp.sin, 2, "mean"),
    ((2, 16, 1), True, "sigmoid", 5, "sum"),
]


@pytest.mark.parametrize("sizes, shared_bias, activation, batch, reduction", CASES)
def test_fused_delta_rule_equals_backprop_and_the_sequential_step(x64, sizes, shared_bias, activation,
                                                                  batch, reduction):
  params = random_params(len(sizes) + sum(sizes), sizes, shared_bias=shared_bias)
  x, y = data(1, sizes, batch)
  act = jbp._activation.resolve_activation(activation)
  mask = tuple((True, True) for _ in sizes[1:])
  run = jax.jit(fused, static_argnums=(4, 5, 6, 7))
  grads, new_sim = run(params, x, y, 0.3, act, reduction, mask, False)
  assert_trees_close(grads, jbp.backprop(params, x, y, activation=activation, reduction=reduction))
  want_sim = jax.tree_util.tree_map(lambda p, g: p - 0.3 * g, params, grads)
  assert_trees_close(new_sim, want_sim)
  # The sequential order: the general delta rule with an update applied layer by layer.
  step = lambda l, layer, g: jbp.Layer(layer.w - 0.3 * g.w, layer.b - 0.3 * g.b)
  reference = jax.jit(lambda p, x, y: _delta_rule(p, x, y, act, reduction, step=step))
  _, want_g, want_seq = reference(params, x, y)
  got_g, got_seq = run(params, x, y, 0.3, act, reduction, mask, True)
  assert_trees_close(got_seq, want_seq)
  assert_trees_close(got_g, want_g)
  if len(sizes) > 2:  # the orders differ where a later layer feeds back
    assert not np.allclose(got_seq[0].w, new_sim[0].w, rtol=1e-9, atol=0)


def general_and_fast(params, x, y, lr, **kw):
  """(fast, general): ``_fast.train_sgd`` and ``jbp._train._general`` plus its final loss, jitted."""
  options = dict(act=SIGMOID, reduction="sum", **kw)
  update = options.pop("update")

  def general(params, x, y, lr):
    final, recorded = _train._general(params, x, y, lr, optimizer=None, update=update, **options)
    return final, jnp.concatenate([recorded, jbp.loss(final, x, y)[None]])

  def fast(params, x, y, lr):
    return _fast.train_sgd(params, x, y, lr, sequential=update == "sequential", **options)

  return jax.jit(fast)(params, x, y, lr), jax.jit(general)(params, x, y, lr)


@pytest.mark.parametrize("update", jbp.UPDATES)
@pytest.mark.parametrize("steps, record_every", [(20, 5), (21, 7), (3, 1)])
def test_fused_training_equals_the_general_loop(x64, update, steps, record_every):
  params = random_params(5, (3, 4, 2), shared_bias=False, scale=0.7)
  x, y = data(2, (3, 4, 2), 4)
  for mask in [((True, False), (True, False)), ((True, True), (False, True))]:
    got, want = general_and_fast(params, x, y, jnp.asarray(0.4), steps=steps, record_every=record_every,
                                 update=update, mask=mask)
    assert got[1].shape == (steps // record_every + 1,)
    assert_trees_close(got, want)


def test_a_wide_network_takes_the_general_path_and_agrees(x64):
  sizes = (2, _fast.MAX_WIDTH + 1, 1)
  assert not _fast.supported(sizes, None) and _fast.supported((2, _fast.MAX_WIDTH, 1), None)
  assert not _fast.supported((2, 2, 2), _fast.MAX_BATCH + 1)
  params = random_params(7, sizes, shared_bias=True, scale=0.5)
  x, y = jnp.array([0.3, -0.2]), jnp.array([0.7])
  for update in jbp.UPDATES:
    got = jbp.train(params, x, y, steps=12, learning_rate=0.5, update=update, record_every=4)
    fast, _ = general_and_fast(params, x, y, jnp.asarray(0.5), steps=12, record_every=4,
                               update=update, mask=((True, False), (True, False)))
    assert_trees_close(got, fast)


def test_nothing_trainable_leaves_params_as_they_are(ex64):
  frozen = (jbp.Layer(w=False, b=False),) * 2
  p, losses = jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=6, learning_rate=0.5,
                        trainable=frozen, record_every=2)
  assert_trees_close(p, ex64.params, 0)
  np.testing.assert_array_equal(losses, np.full(4, float(losses[0])))


def test_float32_matches_float64_to_float32_rounding(ex64):
  _, l64 = jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=1000, learning_rate=0.5,
                     record_every=1000, update="sequential")
  ex32 = jbp.worked_example(jnp.float32)
  _, l32 = jbp.train(ex32.params, ex32.inputs, ex32.targets, steps=1000, learning_rate=0.5,
                     record_every=1000, update="sequential")
  assert l32.dtype == jnp.float32
  # float32 rounding over 1,000 steps of a well-conditioned run: a few parts in 1e6.
  np.testing.assert_allclose(l32, l64, rtol=1e-4)


def loop_kernels(compiled_text):
  """Instructions run each iteration of the innermost while loop, as (count, steps an iteration)."""
  comps = {c.split(" ", 1)[0][1:]: c for c in re.split(r"\n(?=%|ENTRY)", compiled_text)}
  bodies = re.findall(r"body=%([\w.\-]+)", compiled_text)
  counts = []
  for b in bodies:
    ops = re.findall(r"^\s*(?:ROOT )?%\S+ = \S+ (\w[\w\-]*)\(", comps[b], re.M)
    counts.append(len([o for o in ops if o not in ("parameter", "get-tuple-element", "tuple",
                                                    "constant", "bitcast", "while")]))
  return counts


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA:CPU's fusion decisions")
def test_the_fused_loop_runs_fewer_kernels_a_step():
  ex = jbp.worked_example()
  lr = jnp.asarray(0.5)
  options = dict(steps=1000, record_every=1000, act=SIGMOID, optimizer=None, reduction="sum",
                 mask=((True, False), (True, False)))
  for update in jbp.UPDATES:
    fast = _train._train.lower(ex.params, ex.inputs, ex.targets, lr, update=update, **options)
    general = jax.jit(_train._general, static_argnames=tuple(options) + ("update",)).lower(
        ex.params, ex.inputs, ex.targets, lr, update=update, **options)
    # The fused loop runs two steps an iteration: its kernels a step are half its body's.
    fast_per_step = min(loop_kernels(fast.compile().as_text())) / 2
    general_per_step = max(loop_kernels(general.compile().as_text()))
    assert fast_per_step <= 4 < 8 <= general_per_step, (update, fast_per_step, general_per_step)


def test_repeated_calls_are_still_checked(ex64):
  run = lambda **kw: jbp.train(ex64.params, kw.pop("x", ex64.inputs), ex64.targets,  # noqa: E731
                               **{"steps": 4, "learning_rate": 0.5, **kw})
  run()  # the checks pass and are remembered for this signature
  for kw, err, match in [
      (dict(learning_rate=-0.5), ValueError, "learning_rate: expected a positive"),
      (dict(learning_rate=float("nan")), ValueError, "learning_rate"),
      (dict(steps=True), TypeError, "steps: expected an integer"),
      (dict(steps=4.0), TypeError, "steps: expected an integer"),
      (dict(record_every=3), ValueError, "record_every: expected a divisor"),
      (dict(update="backwards"), ValueError, "update: expected one of"),
      (dict(x=jnp.ones(3)), ValueError, "x: expected shape"),
      (dict(x=[1.0, "a"]), TypeError, "x: expected an array of real numbers"),
  ]:
    with pytest.raises(err, match=match):
      run(**kw)
  # A learning rate given as a 0-d array takes the full check, and works.
  np.testing.assert_allclose(run(learning_rate=jnp.asarray(0.5))[1], run()[1], rtol=0)


def test_a_first_call_under_jit_leaves_nothing_traced_behind(ex64):
  def run(p):
    return jbp.train(p, ex64.inputs, ex64.targets, steps=4, learning_rate=0.4321, record_every=2)

  inside = jax.jit(run)(ex64.params)  # the first call with this rate, under an outer jit
  outside = run(ex64.params)  # would raise UnexpectedTracerError if a tracer had been kept
  assert_trees_close(inside, outside)
