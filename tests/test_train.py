"""jbp.train: the compiled loop, its recording, its two forms and unrolling, vmap, freezing, recompilation.

Tolerances: float64, the same quantities computed in another order (a Python loop, unrolled sums or
matrix products), so they agree to rounding; 1e-12 (relative plus absolute) leaves hundreds of ulps of
room after tens of steps.
"""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_trees_close, random_data, random_params

import jbp
from jbp import _options, _population, _train


def data(seed, sizes, batch):
  xs = (sizes[0],) if batch is None else (batch, sizes[0])
  ys = (sizes[-1],) if batch is None else (batch, sizes[-1])
  return random_data(seed, xs, ys)


def run(ex, **kw):
  kw.setdefault("learning_rate", ex.learning_rate)
  return jbp.train(ex.params, ex.inputs, ex.targets, **kw)


def python_loop(params, x, y, lr, steps, update):
  """An independent reference: a Python loop of hand-written updates (weights only)."""
  losses = [float(jbp.loss(params, x, y))]
  for _ in range(steps):
    if update == "simultaneous":
      g = jax.grad(jbp.loss)(params, x, y)
      params = tuple(jbp.Layer(p.w - lr * gp.w, p.b) for p, gp in zip(params, g))
    else:  # output layer first, deltas through the updated weights
      params = list(params)
      outs = [x]
      for p in params:
        outs.append(jax.nn.sigmoid(p.w @ outs[-1] + p.b))
      delta = (outs[-1] - y) * outs[-1] * (1 - outs[-1])
      for l in reversed(range(len(params))):
        params[l] = jbp.Layer(params[l].w - lr * jnp.outer(delta, outs[l]), params[l].b)
        delta = (params[l].w.T @ delta) * outs[l] * (1 - outs[l])
      params = tuple(params)
    losses.append(float(jbp.loss(params, x, y)))
  return params, np.array(losses)


@pytest.mark.parametrize("update", jbp.UPDATES)
@pytest.mark.parametrize("sizes", [(2, 2, 2), (3, 4, 4, 2), (2, 3, 3, 3, 1)])
def test_train_equals_a_python_loop_of_updates(x64, update, sizes):
  params = random_params(3, sizes, shared_bias=True, scale=0.5)
  x = jnp.linspace(-1, 1, sizes[0])
  y = jnp.linspace(0.1, 0.9, sizes[-1])
  want_p, want_l = python_loop(params, x, y, 0.7, 25, update)
  got_p, got_l = jbp.train(params, x, y, steps=25, learning_rate=0.7, update=update)
  np.testing.assert_allclose(got_l, want_l, rtol=1e-12, atol=1e-14)
  for a, b in zip(jax.tree_util.tree_leaves(got_p), jax.tree_util.tree_leaves(want_p)):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_one_layer_sequential_is_simultaneous(x64):
  params = random_params(0, (3, 2))
  x, y = jnp.ones(3), jnp.array([0.2, 0.8])
  a = jbp.train(params, x, y, steps=50, learning_rate=0.3, update="sequential", trainable="all")
  b = jbp.train(params, x, y, steps=50, learning_rate=0.3, update="simultaneous", trainable="all")
  np.testing.assert_allclose(a[1], b[1], rtol=1e-13)


def test_losses_are_recorded_every_record_every_updates(ex64):
  _, every = run(ex64, steps=100)
  _, thin = run(ex64, steps=100, record_every=20)
  assert every.shape == (101,) and thin.shape == (6,)
  np.testing.assert_allclose(thin, every[::20], rtol=1e-13)
  _, final_only = run(ex64, steps=100, record_every=100)
  np.testing.assert_allclose(final_only, np.asarray(every)[[0, -1]], rtol=1e-13)
  assert float(every[0]) == float(jbp.loss(ex64.params, ex64.inputs, ex64.targets))


def test_vmap_over_1000_initializations_equals_single_runs(x64):
  ex = jbp.worked_example(jnp.float64)
  keys = jax.random.split(jax.random.key(42), 1000)
  stacked = jax.vmap(lambda k: jbp.init_params(k, (2, 2, 2), method="uniform", shared_bias=True,
                                               dtype=jnp.float64))(keys)

  def train_one(p):
    return jbp.train(p, ex.inputs, ex.targets, steps=200, learning_rate=0.5, record_every=50)

  params, losses = jax.jit(jax.vmap(train_one))(stacked)
  assert losses.shape == (1000, 5)
  for i in range(1000):
    member = jax.tree_util.tree_map(lambda a, i=i: a[i], stacked)
    p_i, l_i = train_one(member)
    np.testing.assert_allclose(losses[i], l_i, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(params[1].w[i], p_i[1].w, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("update", jbp.UPDATES)
def test_vmap_over_learning_rates_passed_as_an_array(ex64, update):
  lrs = jnp.array([0.1, 0.5, 2.0])
  _, losses = jax.vmap(lambda lr: run(ex64, steps=30, learning_rate=lr, update=update))(lrs)
  for i, lr in enumerate([0.1, 0.5, 2.0]):
    np.testing.assert_allclose(losses[i], run(ex64, steps=30, learning_rate=lr, update=update)[1],
                               rtol=1e-12)


def test_vmap_over_inputs(ex64):
  xs = jnp.stack([ex64.inputs, ex64.inputs[::-1]])
  _, losses = jax.vmap(lambda x: jbp.train(ex64.params, x, ex64.targets, steps=10,
                                           learning_rate=0.5))(xs)
  np.testing.assert_allclose(losses[1], jbp.train(ex64.params, ex64.inputs[::-1], ex64.targets,
                                                  steps=10, learning_rate=0.5)[1], rtol=1e-12)


def test_grad_of_final_loss_wrt_learning_rate_matches_finite_difference(ex64):
  def final(lr):
    return run(ex64, steps=20, learning_rate=lr)[1][-1]

  g = jax.grad(final)(0.5)
  h = 1e-6
  fd = (final(0.5 + h) - final(0.5 - h)) / (2 * h)
  np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_biases_are_frozen_by_default_and_train_when_asked(ex64):
  p, _ = run(ex64, steps=10)
  assert float(p[0].b) == 0.35 and float(p[1].b) == 0.60
  for update in jbp.UPDATES:
    p, l_all = run(ex64, steps=10, trainable="all", update=update)
    assert float(p[0].b) != 0.35 and float(p[1].b) != 0.60
  mask = (jbp.Layer(w=False, b=False), jbp.Layer(w=True, b=False))
  for update in jbp.UPDATES:
    p, _ = run(ex64, steps=10, trainable=mask, update=update)
    np.testing.assert_array_equal(p[0].w, ex64.params[0].w)
    assert not np.array_equal(p[1].w, ex64.params[1].w)


def test_a_second_call_compiles_nothing(ex64, caplog):
  run(ex64, steps=40, record_every=4)  # compile once
  with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
    caplog.clear()
    p, losses = run(ex64, steps=40, record_every=4)
    run(ex64, steps=40, record_every=4, learning_rate=0.25)  # a new rate: still no compile
    other = jbp.worked_example(jnp.float64)
    run(other, steps=40, record_every=4)  # same shapes, new arrays
  compiles = [r for r in caplog.records
              if "Compiling" in r.getMessage() and "train_program" in r.getMessage()]
  assert compiles == [], [r.getMessage() for r in compiles]
  # The check can fail: a new static option does compile, and is seen.
  with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
    caplog.clear()
    run(ex64, steps=41)
  assert any("Compiling" in r.getMessage() and "train_program" in r.getMessage() for r in caplog.records)


def test_train_runs_under_jit(ex64):
  f = jax.jit(lambda p: jbp.train(p, ex64.inputs, ex64.targets, steps=10, learning_rate=0.5))
  np.testing.assert_allclose(f(ex64.params)[1], run(ex64, steps=10)[1], rtol=1e-13)


def test_xor_is_a_full_batch_example():
  ex = jbp.xor()
  assert ex.inputs.shape == (4, 2) and ex.targets.shape == (4, 1)
  assert jbp.sizes_of(ex.params) == (2, 5, 1)
  _, losses = jbp.train(ex.params, ex.inputs, ex.targets, steps=100, learning_rate=0.5,
                        trainable="all")
  assert losses.shape == (101,) and float(losses[-1]) < float(losses[0])


def test_init_params_shapes_keys_and_methods():
  key = jax.random.key(0)
  p = jbp.init_params(key, (3, 5, 2))
  assert [l.w.shape for l in p] == [(5, 3), (2, 5)] and [l.b.shape for l in p] == [(5,), (2,)]
  assert float(jnp.max(jnp.abs(p[0].w))) <= np.sqrt(6 / 8)
  u = jbp.init_params(key, (2, 2, 2), method="uniform", shared_bias=True)
  assert u[0].b.shape == () and 0 <= float(jnp.min(u[0].w)) and float(jnp.max(u[0].w)) < 1
  # One key per layer: equal-shaped layers get different weights.
  assert not np.array_equal(u[0].w, u[1].w)
  np.testing.assert_array_equal(jbp.init_params(key, (3, 5, 2))[1].w, p[1].w)  # deterministic
  assert jbp.init_params(jax.random.PRNGKey(0), (2, 2))[0].w.shape == (2, 2)


@pytest.mark.parametrize("update", jbp.UPDATES)
@pytest.mark.parametrize("steps, record_every", [(21, 7), (3, 1)])
def test_the_two_forms_train_alike(x64, update, steps, record_every):
  params = random_params(5, (3, 4, 2), shared_bias=False, scale=0.7)
  x, y = data(2, (3, 4, 2), 4)
  for trainable in ["weights", (jbp.Layer(w=True, b=True), jbp.Layer(w=False, b=True))]:
    kw = dict(steps=steps, learning_rate=0.4, record_every=record_every, update=update, trainable=trainable)
    unrolled = jbp.train(params, x, y, form="unrolled", **kw)
    assert unrolled[1].shape == (steps // record_every + 1,)
    assert_trees_close(unrolled, jbp.train(params, x, y, form="matmul", **kw))


@pytest.mark.parametrize("update", jbp.UPDATES)
def test_unrolling_the_loop_changes_no_number(ex64, update):
  kw = dict(steps=21, learning_rate=0.5, record_every=7, update=update)  # 7 steps a record: 4 + 3
  want = jbp.train(ex64.params, ex64.inputs, ex64.targets, **kw)
  assert_trees_close(jbp.train(ex64.params, ex64.inputs, ex64.targets, unroll=4, **kw), want)
  pop = jbp.init_many(jax.random.key(2), 3, (2, 2, 2), dtype=jnp.float64)
  a, b = (jbp.train_many(pop, ex64.inputs, ex64.targets, unroll=u, **kw) for u in (1, 4))
  assert_trees_close(a, b)


def lowered_lines(fn, *args, **kw):
  return len(fn.lower(*args, **kw).as_text().splitlines())


def test_one_compiled_loop_whatever_the_number_of_steps(ex64):
  """The lowered program is the same size for 10 and 10,000 steps: no step is unrolled in Python.

  Lowering needs no backend-specific compiler, so this holds on CPU, GPU and TPU alike.
  """
  ex = ex64
  sizes = {}
  for steps in (10, 10_000):
    for update in jbp.UPDATES:
      opts, values, _ = _options.make_options(
          ex.params, ex.inputs, ex.targets, steps=steps, learning_rate=0.5, update=update,
          record_every=steps // 10, activation="sigmoid", optimizer=None, trainable="weights",
          reduction="sum", form="unrolled")
      sizes[("train", update, steps)] = lowered_lines(_train.train_program, ex.params, ex.inputs,
                                                      ex.targets, values, opts)
    pop = jbp.init_many(jax.random.key(0), 8, (2, 2, 2), dtype=jnp.float64)
    opts, values, _ = _options.make_options(
        pop, ex.inputs, ex.targets, steps=steps, learning_rate=0.5, update="sequential",
        record_every=steps // 10, activation="sigmoid", optimizer=None, trainable="weights",
        reduction="sum", form="unrolled", sizes=(2, 2, 2), watch=True)
    mesh = _population._mesh(None)
    sizes[("train_many", steps)] = lowered_lines(
        _population._cpu_program, pop, ex.inputs, ex.targets, tuple(jnp.asarray(v) for v in values),
        opts=opts, axes=(None,), mesh=mesh, block=4)  # 8 members in blocks of 4: the block loop too
  for key in [("train", u) for u in jbp.UPDATES] + [("train_many",)]:
    assert sizes[key + (10,)] == sizes[key + (10_000,)], sizes
  # The check can fail: a loop unrolled in Python grows with the steps.
  unrolled = lambda n: jax.jit(lambda w: [w := jnp.sin(w) for _ in range(n)][-1])
  assert lowered_lines(unrolled(10), 1.0) < lowered_lines(unrolled(20), 1.0)


def test_nothing_trainable_leaves_params_as_they_are(ex64):
  frozen = (jbp.Layer(w=False, b=False),) * 2
  p, losses = jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=6, learning_rate=0.5,
                        trainable=frozen, record_every=2)
  assert_trees_close(p, ex64.params, 0)
  np.testing.assert_array_equal(losses, np.full(4, float(losses[0])))
