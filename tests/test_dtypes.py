"""Dtypes: float16, bfloat16, float32 and float64 each train in their own dtype and agree with float64 to
their own rounding; data of another dtype is cast to the params'; extreme inputs saturate, never NaN.
"""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jbp


def test_float32_matches_float64_to_float32_rounding(ex64):
  _, l64 = jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=1000, learning_rate=0.5,
                     record_every=1000, update="sequential")
  ex32 = jbp.worked_example(jnp.float32)
  _, l32 = jbp.train(ex32.params, ex32.inputs, ex32.targets, steps=1000, learning_rate=0.5,
                     record_every=1000, update="sequential")
  assert l32.dtype == jnp.float32
  # float32 rounding over 1,000 steps of a well-conditioned run: a few parts in 1e6.
  np.testing.assert_allclose(l32, l64, rtol=1e-4)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_precision_is_supported_and_stays_in_its_dtype(dtype):
  ex = jbp.worked_example(dtype)
  params, losses = jbp.train(ex.params, ex.inputs, ex.targets, steps=1000, learning_rate=0.5,
                             update="sequential", record_every=100)
  assert losses.dtype == dtype and params[0].w.dtype == dtype
  assert bool(jnp.all(jnp.isfinite(losses)))
  # It learns, then stalls where w - lr * g rounds back to w: the loss ends far above float32's.
  ex32 = jbp.worked_example(jnp.float32)
  _, l32 = jbp.train(ex32.params, ex32.inputs, ex32.targets, steps=1000, learning_rate=0.5,
                     update="sequential", record_every=100)
  assert float(losses[-1]) < 0.1 * float(losses[0])
  assert float(losses[-1]) > float(l32[-1])
  # The first steps agree with float32 to the dtype's precision (bfloat16: 8 bits, ~0.4%).
  np.testing.assert_allclose(float(losses[0]), float(l32[0]), rtol=1e-2)


def test_huge_inputs_saturate_without_nan():
  ex = jbp.worked_example()
  for x in (jnp.array([1e4, -1e4]), jnp.array([1e30, 1e30]), jnp.array([-3e38, 3e38])):
    out = jbp.forward(ex.params, x)
    grads = jbp.backprop(ex.params, x, ex.targets)
    assert bool(jnp.all(jnp.isfinite(out))) and bool(jnp.all((out >= 0) & (out <= 1)))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree_util.tree_leaves(grads))
    # A saturated hidden layer passes (almost) no gradient to its weights.
    assert float(jnp.max(jnp.abs(grads[0].w))) < 1e-6


def test_float64_numpy_data_trains_in_the_params_float32():
  # load_csv gives float64 NumPy arrays; training casts them to the params' dtype.
  ex = jbp.worked_example()
  _, losses = jbp.train(ex.params, np.asarray([0.05, 0.1]), np.asarray([0.01, 0.99]), steps=2,
                        learning_rate=0.5)
  assert losses.dtype == jnp.float32
