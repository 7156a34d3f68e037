"""Gradients: the hand-derived delta rule (``jbp.backprop``) against jax.grad, finite differences and
PyTorch's float64 autograd; training differentiates the forward pass and never runs the hand rule.

The delta rule is the reference every training path is compared with: one step of either update
order equals it, in either form, and a wrong hand-written derivative changes ``jbp.backprop`` and no
training result.

Tolerances: jbp.backprop, jax.grad, PyTorch and jbp.train compute the same sums in a different order,
so in float64 they agree to rounding; 1e-12 (absolute plus relative) leaves a few hundred ulps of room
for the deepest networks here. Finite differences use JAX's own check_grads defaults for float64.
"""


import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import assert_trees_close, random_data, random_params
from jax.test_util import check_grads

import jbp
from jbp._backprop import delta_rule

SHAPES = [(2, 2, 2), (3, 5, 4, 2), (1, 1), (4, 8, 8, 8, 3)]
ACTIVATIONS = ["sigmoid", "tanh", "relu", jnp.sin]


def test_backprop_equals_jax_grad_on_the_worked_example(ex64):
  got = jbp.backprop(ex64.params, ex64.inputs, ex64.targets)
  want = jax.grad(jbp.loss)(ex64.params, ex64.inputs, ex64.targets)
  assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
  assert_trees_close(got, want, 1e-12)


def random_problem(sizes, shared_bias, batch):
  seed = sum(sizes) + 7 * len(sizes)
  params = random_params(seed, sizes, shared_bias=shared_bias)
  xs = (sizes[0],) if batch is None else (batch, sizes[0])
  ys = (sizes[-1],) if batch is None else (batch, sizes[-1])
  return (params, *random_data(seed + 1, xs, ys))


@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("shared_bias", [True, False], ids=["scalar-bias", "vector-bias"])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=["sigmoid", "tanh", "relu", "callable-sin"])
def test_backprop_equals_jax_grad_on_random_networks(x64, sizes, shared_bias, activation):
  params, x, y = random_problem(sizes, shared_bias, None)
  got = jbp.backprop(params, x, y, activation=activation)
  want = jax.grad(jbp.loss)(params, x, y, activation=activation)
  assert_trees_close(got, want, 1e-12)
  assert got[0].b.shape == params[0].b.shape


@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_backprop_equals_jax_grad_on_a_batch(x64, sizes, reduction):
  for shared_bias, activation in ((True, "tanh"), (False, "sigmoid")):
    params, x, y = random_problem(sizes, shared_bias, 3)
    got = jbp.backprop(params, x, y, activation=activation, reduction=reduction)
    want = jax.grad(jbp.loss)(params, x, y, activation=activation, reduction=reduction)
    assert_trees_close(got, want, 1e-12)


def test_backprop_runs_under_jit_and_vmap(ex64):
  got = jax.jit(jbp.backprop)(ex64.params, ex64.inputs, ex64.targets)
  assert_trees_close(got, jbp.backprop(ex64.params, ex64.inputs, ex64.targets), 1e-15)
  xs = jnp.stack([ex64.inputs, 2 * ex64.inputs])
  per_example = jax.vmap(jbp.backprop, in_axes=(None, 0, None))(ex64.params, xs, ex64.targets)
  batch = jbp.backprop(ex64.params, xs, jnp.stack([ex64.targets] * 2))
  summed = jax.tree_util.tree_map(lambda g: g.sum(0), per_example)
  assert_trees_close(summed, batch, 1e-12)


@pytest.mark.parametrize("sizes", [(2, 2, 2), (3, 5, 4, 2), (4, 8, 3)])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_gradients_agree_with_finite_differences(x64, sizes, activation):
  params = random_params(len(sizes), sizes)
  x, y = random_data(len(sizes) + 1, (sizes[0],), (sizes[-1],))

  def f(p):
    return jbp.loss(p, x, y, activation=activation)

  check_grads(f, (params,), order=2, modes=["rev"])

  # The delta rule itself, as a custom VJP, passes the same finite-difference check.
  @jax.custom_vjp
  def g(p):
    return f(p)

  g.defvjp(lambda p: (f(p), p),
           lambda p, ct: (jax.tree_util.tree_map(lambda t: ct * t,
                                                 jbp.backprop(p, x, y, activation=activation)),))
  check_grads(g, (params,), order=1, modes=["rev"])


def test_float32_backprop_equals_jax_grad_to_float32_rounding():
  ex = jbp.worked_example()
  got = jbp.backprop(ex.params, ex.inputs, ex.targets)
  want = jax.grad(jbp.loss)(ex.params, ex.inputs, ex.targets)
  assert got[0].w.dtype == jnp.float32
  assert_trees_close(got, want, 1e-6)


TOL = 1e-12


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


@pytest.mark.parametrize("sizes", [(2, 2, 2), (3, 5, 4, 2), (1, 1), (4, 8, 8, 8, 3)])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("shared_bias", [True, False])
def test_backprop_agrees_with_pytorch_float64_autograd(x64, sizes, activation, shared_bias):
  torch = pytest.importorskip("torch")
  key = jax.random.key(sum(sizes))
  kp, kx, ky = jax.random.split(key, 3)
  params = jbp.init_params(kp, sizes, shared_bias=shared_bias, dtype=jnp.float64)
  params = tuple(jbp.Layer(p.w, p.b + 0.1) for p in params)
  x = jax.random.normal(kx, (3, sizes[0]), jnp.float64)
  y = jax.random.uniform(ky, (3, sizes[-1]), jnp.float64)
  got = jbp.backprop(params, x, y, activation=activation)

  f = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]
  tp = [(torch.tensor(np.asarray(p.w), requires_grad=True),
         torch.tensor(np.asarray(p.b), requires_grad=True)) for p in params]
  a = torch.tensor(np.asarray(x))
  for w, b in tp:
    a = f(a @ w.T + b)
  E = 0.5 * ((torch.tensor(np.asarray(y)) - a) ** 2).sum()
  E.backward()
  # Same float64 arithmetic in another library: agreement to rounding, 1e-12.
  for g, (w, b) in zip(got, tp):
    np.testing.assert_allclose(g.w, w.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.b, b.grad.numpy(), rtol=1e-12, atol=1e-12)
