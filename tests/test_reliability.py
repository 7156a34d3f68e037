"""Determinism, an independent reference (PyTorch), and numerical edge cases."""

import hashlib
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jbp

# One script, run in this process and in fresh ones: init from a key, train, hash the bytes.
RUN = """
import hashlib, jax, jax.numpy as jnp, numpy as np, jbp
def digest():
  ex = jbp.worked_example()
  params = jbp.init_params(jax.random.key(1234), (2, 6, 3, 2), method="uniform")
  out = []
  for update in jbp.UPDATES:
    p, losses = jbp.train(params, ex.inputs, ex.targets, steps=500, learning_rate=0.5,
                          update=update, trainable="all", record_every=10)
    out += [np.asarray(a) for a in jax.tree_util.tree_leaves((p, losses))]
  h = hashlib.sha256()
  for a in out:
    h.update(a.dtype.str.encode()); h.update(str(a.shape).encode()); h.update(a.tobytes())
  return h.hexdigest()
"""


def _digest_here():
  scope = {}
  exec(RUN, scope)  # noqa: S102 - our own constant code
  return scope["digest"]()


def test_same_key_same_bits_across_repeated_runs():
  assert _digest_here() == _digest_here()


def test_same_key_same_bits_across_processes():
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  digests = []
  for _ in range(2):
    r = subprocess.run([sys.executable, "-c", RUN + "\nprint(digest())"], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    digests.append(r.stdout.strip())
  assert digests[0] == digests[1] == _digest_here()


def test_a_different_key_gives_different_params():
  a = jbp.init_params(jax.random.key(1), (2, 3, 2))
  b = jbp.init_params(jax.random.key(2), (2, 3, 2))
  assert hashlib.sha256(np.asarray(a[0].w).tobytes()).digest() != \
      hashlib.sha256(np.asarray(b[0].w).tobytes()).digest()


# --- An independent reference: PyTorch float64 autograd ------------------------------------

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


# --- Numerical edge cases ----------------------------------------------------------------

def test_huge_inputs_saturate_without_nan():
  ex = jbp.worked_example()
  for x in (jnp.array([1e4, -1e4]), jnp.array([1e30, 1e30]), jnp.array([-3e38, 3e38])):
    out = jbp.forward(ex.params, x)
    grads = jbp.backprop(ex.params, x, ex.targets)
    assert bool(jnp.all(jnp.isfinite(out))) and bool(jnp.all((out >= 0) & (out <= 1)))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree_util.tree_leaves(grads))
    # A saturated hidden layer passes (almost) no gradient to its weights.
    assert float(jnp.max(jnp.abs(grads[0].w))) < 1e-6




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
