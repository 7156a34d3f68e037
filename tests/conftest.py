"""Shared fixtures. Tests that need float64 turn it on for themselves only."""

import jax
import jax.numpy as jnp
import pytest

import jbp


@pytest.fixture
def x64():
  """64-bit mode for the duration of one test, restored afterwards."""
  with jax.enable_x64(True):
    yield


@pytest.fixture
def ex64(x64):
  """The worked example in float64."""
  return jbp.worked_example(jnp.float64)


def random_params(key, sizes, *, shared_bias=False, dtype=jnp.float64, scale=1.0):
  """Random params with nonzero biases (so bias gradients are exercised)."""
  params = []
  for k, n_in, n_out in zip(jax.random.split(key, len(sizes) - 1), sizes[:-1], sizes[1:]):
    kw, kb = jax.random.split(k)
    b = jax.random.normal(kb, () if shared_bias else (n_out,), dtype) * 0.5
    params.append(jbp.Layer(jax.random.normal(kw, (n_out, n_in), dtype) * scale, b))
  return tuple(params)
