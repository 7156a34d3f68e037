"""Optimizers: any optax optimizer, given as an object or as ``jbp.Optimizer(factory, **hyperparameters)``,
trains through jbp.train, train_many and train_chunked alike; a new hyperparameter value compiles nothing.

Tolerance: float64, the same quantities computed in another order, so they agree to rounding; 1e-12
(relative plus absolute) leaves hundreds of ulps of room after tens of steps.
"""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import assert_trees_close

import jbp

TOL = 1e-12


def run(ex, **kw):
  kw.setdefault("learning_rate", ex.learning_rate)
  return jbp.train(ex.params, ex.inputs, ex.targets, **kw)


@pytest.mark.standard_dtype_promotion
def test_any_optax_optimizer_trains_and_frozen_params_stay(ex64):
  opt = optax.adam(0.05)
  p, losses = jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=200, optimizer=opt)
  assert float(losses[-1]) < 1e-3 < float(losses[0])
  assert float(p[0].b) == 0.35  # frozen: optax.multi_transform gives it no update
  # optax.sgd through the optimizer path equals the learning-rate path.
  _, a = jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=50, optimizer=optax.sgd(0.5))
  _, b = run(ex64, steps=50)
  np.testing.assert_allclose(a, b, rtol=1e-13)


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
