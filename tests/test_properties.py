"""Properties that hold for every network, checked on random ones with hypothesis.

Each example draws a network of 1 to 4 layers with widths 1 to 8, a batch (none, or 1 to 4
examples), scalar or per-neuron biases, an activation, a dtype and an update order. The
properties:

1. ``jbp.backprop`` equals ``jax.grad(jbp.loss)``: to 1e-12 in float64 (the same sums in
   another order: a few hundred ulps of room), to 2e-5 relative to the gradient's scale in
   float32 (float32's eps is 1.2e-7; sums of up to 8 terms over 4 layers and products of
   derivatives lose a few bits more).
2. Training is a pure function of its state: ``train(steps=a+b)`` equals ``train(steps=a)``
   followed by ``train(steps=b)`` on its result, params and losses (plain SGD carries no other
   state), to 1e-12 in float64 and float32 rounding in float32.
3. A member of ``jax.vmap(train)`` equals its own single run (same tolerances).
4. The loss history is finite and non-negative for a bounded learning rate on bounded data
   (checked inside property 2); where a rate makes it blow up, ``jbp.train_many`` reports the
   member as diverged (tests/test_population.py).

Examples are bounded (hypothesis ``max_examples``) and derandomized so that CI runs the same
cases every time and finishes within its time budget.
"""

import jax
import jax.numpy as jnp
import numpy as np
from conftest import random_data, random_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jbp

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow])

TOL = {"float64": 1e-12, "float32": 2e-5}


@st.composite
def networks(draw):
  """(params, x, y, activation, dtype name, update order)."""
  sizes = draw(st.lists(st.integers(1, 8), min_size=2, max_size=5))
  batch = draw(st.one_of(st.none(), st.integers(1, 4)))
  shared_bias = draw(st.booleans())
  activation = draw(st.sampled_from(["sigmoid", "tanh", "relu"]))
  dtype = draw(st.sampled_from(["float32", "float64"]))
  update = draw(st.sampled_from(jbp.UPDATES))
  seed = draw(st.integers(0, 2**31 - 1))
  return sizes, batch, shared_bias, activation, dtype, update, seed


def build(sizes, batch, shared_bias, dtype, seed):
  """Random params (nonzero biases, so bias gradients are exercised), inputs and targets."""
  params = random_params(seed, sizes, shared_bias=shared_bias, dtype=dtype, scale=0.7)
  xs = (sizes[0],) if batch is None else (batch, sizes[0])
  ys = (sizes[-1],) if batch is None else (batch, sizes[-1])
  return (params, *random_data(seed + 1, xs, ys, dtype))


def assert_close(a, b, tol):
  for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    scale = 1.0 + float(np.max(np.abs(v), initial=0.0))
    np.testing.assert_allclose(u, v, rtol=tol, atol=tol * scale)


@SETTINGS
@given(networks())
def test_backprop_equals_jax_grad(net):
  sizes, batch, shared_bias, activation, dtype, _, seed = net
  with jax.enable_x64(dtype == "float64"):
    params, x, y = build(sizes, batch, shared_bias, dtype, seed)
    got = jbp.backprop(params, x, y, activation=activation)
    want = jax.grad(jbp.loss)(params, x, y, activation=activation)
    assert got[0].w.dtype == jnp.dtype(dtype)
    assert_close(got, want, TOL[dtype])


# Each example compiles three programs (a, b and a + b steps): a few examples cover the orders,
# dtypes and shapes without making this the suite's slowest test.
@settings(SETTINGS, max_examples=4)
@given(networks(), st.integers(1, 6), st.integers(1, 6))
def test_training_resumes_exactly(net, a, b):
  sizes, batch, shared_bias, activation, dtype, update, seed = net
  with jax.enable_x64(dtype == "float64"):
    params, x, y = build(sizes, batch, shared_bias, dtype, seed)
    kw = dict(learning_rate=0.1, update=update, activation=activation, trainable="all")
    p_ab, l_ab = jbp.train(params, x, y, steps=a + b, **kw)
    p_a, l_a = jbp.train(params, x, y, steps=a, **kw)
    p_b, l_b = jbp.train(p_a, x, y, steps=b, **kw)
    # Property 4: a bounded rate (0.1) on bounded data keeps every recorded loss finite.
    assert bool(jnp.all(jnp.isfinite(l_ab))) and bool(jnp.all(l_ab >= 0)), l_ab
    assert_close(p_b, p_ab, TOL[dtype])
    assert_close(l_a, l_ab[:a + 1], TOL[dtype])
    assert_close(l_b, l_ab[a:], TOL[dtype])


@settings(SETTINGS, max_examples=4)
@given(networks(), st.integers(2, 4))
def test_vmap_member_equals_single_run(net, n):
  sizes, batch, shared_bias, activation, dtype, update, seed = net
  with jax.enable_x64(dtype == "float64"):
    members = [build(sizes, batch, shared_bias, dtype, seed + i)[0] for i in range(n)]
    _, x, y = build(sizes, batch, shared_bias, dtype, seed)
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *members)

    def one(p):
      return jbp.train(p, x, y, steps=5, learning_rate=0.2, update=update, activation=activation)

    p_all, l_all = jax.vmap(one)(stacked)
    for i, member in enumerate(members):
      p_i, l_i = one(member)
      assert_close(l_all[i], l_i, TOL[dtype])
      assert_close(jax.tree_util.tree_map(lambda a, i=i: a[i], p_all), p_i, TOL[dtype])
