"""The hand-derived delta rule against jax.grad and against finite differences.

Tolerances: jbp.backprop and jax.grad compute the same sums in a different order,
so in float64 they agree to rounding; 1e-12 (absolute plus relative) leaves a few
hundred ulps of room for the deepest networks here. Finite differences use JAX's
own check_grads defaults for float64.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import random_data, random_params
from jax.test_util import check_grads

import jbp

SHAPES = [(2, 2, 2), (3, 5, 4, 2), (1, 1), (4, 8, 8, 8, 3)]
ACTIVATIONS = ["sigmoid", "tanh", "relu", jnp.sin]


def assert_trees_close(a, b, tol):
  for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_allclose(u, v, rtol=tol, atol=tol)


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
