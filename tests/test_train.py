"""jbp.train: the compiled loop, its recording, vmap, freezing, optimizers, recompilation."""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import random_params

import jbp


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


@pytest.mark.standard_dtype_promotion
def test_any_optax_optimizer(ex64):
  opt = optax.adam(0.05)
  p, losses = jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=200, optimizer=opt)
  assert float(losses[-1]) < 1e-3 < float(losses[0])
  assert float(p[0].b) == 0.35  # frozen: optax.multi_transform gives it no update
  # optax.sgd through the optimizer path equals the learning-rate path.
  _, a = jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=50, optimizer=optax.sgd(0.5))
  _, b = run(ex64, steps=50)
  np.testing.assert_allclose(a, b, rtol=1e-13)


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
