"""Shared fixtures, and how pytest-xdist shares out the tests. Tests that need float64 turn it on for
themselves only."""

import os
import shutil
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jbp

# Modules whose tests share an expensive module-scoped fixture (a batch of command lines run in one
# subprocess, the strict docs build, a browser, a whole ensemble run, explain records) or compile the same
# programs (determinism). Under xdist's load balancing each worker that runs one of their tests would
# make the fixture, or compile the programs, again; their tests go to one worker instead.
ONE_WORKER = ("test_cli_commands.py", "test_cli_pictures.py", "test_docs.py", "test_pages_browser.py",
              "test_pictures.py", "test_stopping.py", "test_determinism.py")


def pytest_configure(config):
  """One compilation cache for the whole run, on disk: the workers and the command lines the tests
  start compile each program once between them, not once a process. Set here, in the process that
  starts the workers, so that they and every subprocess inherit it."""
  if hasattr(config, "workerinput") or "JAX_COMPILATION_CACHE_DIR" in os.environ:
    return
  folder = tempfile.mkdtemp(prefix="jbp-tests-compiled-")
  config.jbp_compiled = folder
  os.environ.update(JAX_COMPILATION_CACHE_DIR=folder, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                    JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
  jax.config.update("jax_compilation_cache_dir", folder)  # this process too, when it runs the tests
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
  folder = getattr(config, "jbp_compiled", None)
  if folder:
    shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
  """xdist's ``load`` (what ``-n`` gives), with the tests of each module in ``ONE_WORKER`` kept together.

  The other tests are shared out one by one, as ``load`` does; a ``--dist`` asked for is left alone.
  """
  if config.getvalue("dist") != "load":
    return None
  from xdist.scheduler import LoadScopeScheduling

  class Scheduler(LoadScopeScheduling):
    def _split_scope(self, nodeid):
      module = nodeid.split("::", 1)[0]
      return module if module.endswith(ONE_WORKER) else nodeid

  return Scheduler(config, log)


@pytest.fixture(autouse=True)
def strict_promotion(request):
  """Strict promotion, as Equinox's tests run: an implicit broadcast of arrays of different ranks
  (say ``(batch, n) + (n,)``) or an implicit mix of dtypes anywhere in jbp is an error.

  A test marked ``standard_dtype_promotion`` runs optax code that mixes Python floats with
  integer step counts (Adam's bias correction), which strict dtype promotion refuses; rank
  promotion stays strict there too.
  """
  dtypes = "standard" if request.node.get_closest_marker("standard_dtype_promotion") else "strict"
  with jax.numpy_rank_promotion("raise"), jax.numpy_dtype_promotion(dtypes):
    yield


@pytest.fixture
def x64():
  """64-bit mode for the duration of one test, restored afterwards."""
  with jax.enable_x64(True):
    yield


@pytest.fixture
def ex64(x64):
  """The worked example in float64."""
  return jbp.worked_example(jnp.float64)


def random_params(seed, sizes, *, shared_bias=False, dtype=jnp.float64, scale=1.0):
  """Random params with nonzero biases (so bias gradients are exercised).

  The numbers come from NumPy (``seed`` is an int), which costs no compilation: eager
  jax.random compiles a kernel for every new shape.
  """
  rng = np.random.default_rng(seed)
  params = []
  for n_in, n_out in zip(sizes[:-1], sizes[1:]):
    w = rng.standard_normal((n_out, n_in)) * scale
    b = rng.standard_normal(() if shared_bias else (n_out,)) * 0.5
    params.append(jbp.Layer(jnp.asarray(w, dtype), jnp.asarray(b, dtype)))
  return tuple(params)


def random_data(seed, xs, ys, dtype=jnp.float64):
  """Inputs ~ N(0, 1) of shape xs and targets ~ U[0, 1) of shape ys, from NumPy."""
  rng = np.random.default_rng(seed)
  return jnp.asarray(rng.standard_normal(xs), dtype), jnp.asarray(rng.uniform(size=ys), dtype)


def assert_trees_close(a, b, tol=1e-12):
  """The leaves of two pytrees: as many, of the same shapes, equal to ``tol`` (relative and absolute)."""
  la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
  assert len(la) == len(lb)
  for u, v in zip(la, lb):
    assert jnp.shape(u) == jnp.shape(v)
    np.testing.assert_allclose(u, v, rtol=tol, atol=tol)
