"""Autodiff is the engine: every training path differentiates the forward pass, in either form.

The hand-derived delta rule (``jbp.backprop``) is the reference these tests compare with; it
never runs on a training path. Tolerances: float64, the same quantities computed in another
order (unrolled sums or matrix products, autodiff or the hand rule), so they agree to
rounding; 1e-12 (relative plus absolute) leaves hundreds of ulps of room after tens of steps.
"""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import random_data, random_params

import jbp
from jbp import _options, _population, _train
from jbp._backprop import delta_rule

TOL = 1e-12


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


CASES = [  # sizes, shared bias, activation, batch, reduction
    ((2, 2, 2), True, "sigmoid", None, "sum"),
    ((3, 5, 4, 2), False, "tanh", 3, "mean"),
    ((3, 5, 4, 2), True, "relu", 3, "sum"),
    ((1, 1), False, "identity", None, "sum"),
    ((3, 6, 6, 2), False, jnp.sin, 2, "mean"),
    ((2, 16, 1), True, "sigmoid", 5, "sum"),
]


def sgd_layer(lr):
  return lambda l, layer, g: jbp.Layer(layer.w - lr * g.w, layer.b - lr * g.b)


@pytest.mark.parametrize("sizes, shared_bias, activation, batch, reduction", CASES)
@pytest.mark.parametrize("form", ["unrolled", "matmul"])
def test_one_step_of_either_order_equals_the_hand_derived_rule(x64, sizes, shared_bias, activation, batch,
                                                               reduction, form):
  params = random_params(len(sizes) + sum(sizes), sizes, shared_bias=shared_bias)
  x, y = data(1, sizes, batch)
  act = jbp._activation.resolve_activation(activation)
  kw = dict(steps=1, learning_rate=0.3, activation=activation, reduction=reduction, trainable="all",
            form=form)
  # The simultaneous order: every gradient at the same params, by the delta rule.
  grads = jbp.backprop(params, x, y, activation=activation, reduction=reduction)
  got, losses = jbp.train(params, x, y, update="simultaneous", **kw)
  assert_trees_close(got, jax.tree_util.tree_map(lambda p, g: p - 0.3 * g, params, grads))
  # The sequential order: the delta rule updating each layer as soon as its gradient is known.
  E, _, want = jax.jit(lambda p: delta_rule(p, x, y, act, reduction, step=sgd_layer(0.3)))(params)
  got, losses = jbp.train(params, x, y, update="sequential", **kw)
  assert_trees_close(got, want)
  np.testing.assert_allclose(losses[0], E, rtol=TOL)
  if len(sizes) > 2:  # the orders differ where a later layer feeds back
    assert not np.allclose(got[0].w, params[0].w - 0.3 * grads[0].w, rtol=1e-9, atol=0)


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


def wrong_sigmoid():
  """The sigmoid with a deliberately wrong hand-written derivative (twice the right one)."""
  return jbp.Activation("sigmoid", jax.nn.sigmoid, lambda net, out: 2 * out * (1 - out))


@pytest.mark.standard_dtype_promotion
def test_a_wrong_hand_derivative_changes_backprop_and_no_training_result(ex64):
  ex, good, bad = ex64, jbp.ACTIVATIONS["sigmoid"], wrong_sigmoid()
  args = (ex.params, ex.inputs, ex.targets)
  g_good = jbp.backprop(*args, activation=good)
  g_bad = jbp.backprop(*args, activation=bad)
  assert not np.allclose(g_good[0].w, g_bad[0].w)  # the hand rule uses the derivative...
  pop = jbp.init_many(jax.random.key(3), 5, (2, 2, 2), method="uniform", shared_bias=True,
                      dtype=jnp.float64)
  for update in jbp.UPDATES:  # ...training never does: the same numbers, to the last bit
    for form in ("unrolled", "matmul"):
      kw = dict(steps=30, learning_rate=0.5, update=update, form=form, record_every=10)
      want, got = (jbp.train(*args, activation=a, **kw) for a in (good, bad))
      for u, v in zip(jax.tree_util.tree_leaves(want), jax.tree_util.tree_leaves(got)):
        np.testing.assert_array_equal(u, v)
      want, got = (jbp.train_many(pop, ex.inputs, ex.targets, activation=a, **kw) for a in (good, bad))
      for u, v in zip(jax.tree_util.tree_leaves(want), jax.tree_util.tree_leaves(got)):
        np.testing.assert_array_equal(u, v)
    want, got = (jbp.train_chunked(*args, steps=30, chunk_steps=10, activation=a, learning_rate=0.5,
                                   update=update) for a in (good, bad))
    np.testing.assert_array_equal(want.losses, got.losses)
  adam = jbp.Optimizer(optax.adam, learning_rate=0.05)
  want, got = (jbp.train(*args, steps=30, activation=a, optimizer=adam) for a in (good, bad))
  np.testing.assert_array_equal(want[1], got[1])


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
        _population._train_many, pop, ex.inputs, ex.targets, tuple(jnp.asarray(v) for v in values),
        opts=opts, axes=(None,), mesh=mesh, block=4)  # 8 members in blocks of 4: the block loop too
  for key in [("train", u) for u in jbp.UPDATES] + [("train_many",)]:
    assert sizes[key + (10,)] == sizes[key + (10_000,)], sizes
  # The check can fail: a loop unrolled in Python grows with the steps.
  unrolled = lambda n: jax.jit(lambda w: [w := jnp.sin(w) for _ in range(n)][-1])
  assert lowered_lines(unrolled(10), 1.0) < lowered_lines(unrolled(20), 1.0)


@pytest.mark.standard_dtype_promotion
def test_a_new_optimizer_value_compiles_nothing(ex64, caplog):
  args = (ex64.params, ex64.inputs, ex64.targets)
  first = jbp.train(*args, steps=20, optimizer=jbp.Optimizer(optax.adam, learning_rate=0.01, b1=0.9))
  with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
    caplog.clear()
    for lr, b1 in [(0.02, 0.9), (0.05, 0.8), (0.1, 0.5)]:  # a sweep of Adam's hyperparameters
      jbp.train(*args, steps=20, optimizer=jbp.Optimizer(optax.adam, learning_rate=lr, b1=b1))
  compiles = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
  assert compiles == []
  # The same numbers as optax's own object...
  direct = jbp.train(*args, steps=20, optimizer=optax.adam(0.01, b1=0.9))
  np.testing.assert_allclose(first[1], direct[1], rtol=TOL)
  # ...which compiles anew for each object: the guard above can fail.
  with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
    caplog.clear()
    jbp.train(*args, steps=20, optimizer=optax.adam(0.01, b1=0.9))
  assert any("Compiling" in r.getMessage() and "train_program" in r.getMessage() for r in caplog.records)


def test_optimizers_in_train_many_and_chunks_follow_train(ex64):
  args = (ex64.inputs, ex64.targets)
  pop = jbp.init_many(jax.random.key(1), 6, (2, 2, 2), dtype=jnp.float64)
  opt = jbp.Optimizer(optax.sgd, learning_rate=0.3, momentum=0.9)
  res = jbp.train_many(pop, *args, steps=40, optimizer=opt, record_every=10)
  want_p, want_l = jax.vmap(lambda p: jbp.train(p, *args, steps=40, optimizer=opt, record_every=10))(pop)
  np.testing.assert_allclose(res.losses, want_l, rtol=TOL)
  assert_trees_close(res.params, want_p)
  chunked = jbp.train_chunked(ex64.params, *args, steps=40, chunk_steps=15, optimizer=opt)
  whole = jbp.train(ex64.params, *args, steps=40, optimizer=opt)
  np.testing.assert_array_equal(chunked.losses, whole[1])  # momentum carried across chunks


@pytest.mark.parametrize("bad, match", [
    (lambda: jbp.Optimizer("adam"), r"factory: expected an optax optimizer factory"),
    (lambda: jbp.Optimizer(optax.adam, learning_rate=0.1, mask=[True]),
     r"mask: expected a float or a hashable value, got list"),
])
def test_optimizer_records_are_checked(bad, match):
  with pytest.raises(TypeError, match=match):
    bad()


def test_optimizer_hyperparameters_must_be_finite(ex64):
  with pytest.raises(ValueError, match=r"learning_rate: expected a finite number, got nan"):
    jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=2,
              optimizer=jbp.Optimizer(optax.adam, learning_rate=float("nan")))


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


def test_repeated_calls_are_still_checked(ex64):
  run = lambda **kw: jbp.train(ex64.params, kw.pop("x", ex64.inputs), ex64.targets,  # noqa: E731
                               **{"steps": 4, "learning_rate": 0.5, **kw})
  run()
  for kw, err, match in [
      (dict(learning_rate=-0.5), ValueError, "learning_rate: expected a positive"),
      (dict(learning_rate=float("nan")), ValueError, "learning_rate"),
      (dict(steps=True), TypeError, "steps: expected an integer"),
      (dict(steps=4.0), TypeError, "steps: expected an integer"),
      (dict(record_every=3), ValueError, "record_every: expected a divisor"),
      (dict(update="backwards"), ValueError, "update: expected one of"),
      (dict(form="diagonal"), ValueError, "form: expected one of"),
      (dict(x=jnp.ones(3)), ValueError, "x: expected shape"),
      (dict(x=[1.0, "a"]), TypeError, "x: expected an array of real numbers"),
  ]:
    with pytest.raises(err, match=match):
      run(**kw)
  # A learning rate given as a 0-d array or a NumPy scalar trains as the Python float does.
  for lr in (jnp.asarray(0.5), np.float64(0.5)):
    np.testing.assert_array_equal(run(learning_rate=lr)[1], run()[1])


def test_a_first_call_under_jit_leaves_nothing_traced_behind(ex64):
  def run(p):
    return jbp.train(p, ex64.inputs, ex64.targets, steps=4, learning_rate=0.4321, record_every=2)

  inside = jax.jit(run)(ex64.params)  # the first call with this rate, under an outer jit
  outside = run(ex64.params)  # would raise UnexpectedTracerError if a tracer had been kept
  assert_trees_close(inside, outside)
