"""jbp.train_chunked: a run in compiled chunks equals one uninterrupted jbp.train, bit for bit.

The same compiled chunk serves every chunk of a run (its steps are static); a callback sees each chunk
end; an interrupt keeps the completed chunks; an optimizer's state is carried across chunks; what train
refuses, and a chunk that splits a record, are refused.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jbp
from jbp import _progress


@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
def test_chunked_equals_uninterrupted_bit_for_bit(ex64, update, monkeypatch):
  kw = dict(learning_rate=0.5, update=update)
  want_p, want_l = jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=600, record_every=20, **kw)
  calls = []
  real_run = _progress.run_program  # the compiled training program, called once a chunk
  monkeypatch.setattr(_progress, "run_program", lambda *a: calls.append(a[-1].steps) or real_run(*a))
  seen = []
  run = jbp.train_chunked(ex64.params, ex64.inputs, ex64.targets, steps=600, chunk_steps=140, record_every=20,
                          callback=lambda done, loss: seen.append(done), **kw)
  # The same compiled chunk each time (steps is static), plus one shorter last chunk.
  assert calls == [140, 140, 140, 140, 40]
  assert seen == [140, 280, 420, 560, 600]
  assert run.steps_done == 600 and not run.interrupted
  np.testing.assert_array_equal(run.losses, want_l)
  for a, b in zip(jax.tree_util.tree_leaves(run.params), jax.tree_util.tree_leaves(want_p)):
    np.testing.assert_array_equal(a, b)


def test_interrupt_keeps_the_completed_chunks(ex64):
  def stop_at_third(done, loss):
    if done == 300:
      raise KeyboardInterrupt

  run = jbp.train_chunked(ex64.params, ex64.inputs, ex64.targets, steps=1000, chunk_steps=100,
                          record_every=10, learning_rate=0.5, callback=stop_at_third, catch_interrupt=True)
  assert run.interrupted and run.steps_done == 300 and run.losses.shape == (31,)
  want_p, want_l = jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=300, record_every=10,
                             learning_rate=0.5)
  np.testing.assert_array_equal(run.losses, want_l)
  np.testing.assert_array_equal(run.params[0].w, want_p[0].w)
  with pytest.raises(KeyboardInterrupt):
    jbp.train_chunked(ex64.params, ex64.inputs, ex64.targets, steps=1000, chunk_steps=100, record_every=10,
                      learning_rate=0.5, callback=stop_at_third)


def test_a_chunk_that_splits_a_record_and_what_train_refuses_are_refused():
  ex = jbp.worked_example()
  with pytest.raises(ValueError, match=r"chunk_steps: expected a multiple of record_every=10, got 15"):
    jbp.train_chunked(ex.params, ex.inputs, ex.targets, steps=100, chunk_steps=15, record_every=10,
                      learning_rate=0.5)
  import optax
  with pytest.raises(ValueError, match=r"optimizer: the sequential update order is defined for plain SGD"):
    jbp.train_chunked(ex.params, ex.inputs, ex.targets, steps=100, chunk_steps=10, optimizer=optax.adam(0.1),
                      update="sequential")
  with pytest.raises(ValueError, match=r"learning_rate: expected None when optimizer is given"):
    jbp.train_chunked(ex.params, ex.inputs, ex.targets, steps=100, chunk_steps=10, optimizer=optax.adam(0.1),
                      learning_rate=0.5)


@pytest.mark.parametrize("trainable", ["weights"])  # the masked path; "all" is optax alone
@pytest.mark.standard_dtype_promotion  # optax's Adam
def test_chunked_optimizer_carries_its_state(x64, trainable):
  import optax

  ex = jbp.xor(jnp.float64)
  opt = optax.adam(0.05)
  kw = dict(steps=300, record_every=10, optimizer=opt, trainable=trainable)
  one = jbp.train_chunked(ex.params, ex.inputs, ex.targets, chunk_steps=300, **kw)
  run = jbp.train_chunked(ex.params, ex.inputs, ex.targets, chunk_steps=70, **kw)
  want_p, want_l = jbp.train(ex.params, ex.inputs, ex.targets, **kw)
  for other in (one, run):  # Adam's moments carried across chunks: the same numbers, bit for bit
    np.testing.assert_array_equal(other.losses, want_l)
    for a, b in zip(jax.tree_util.tree_leaves(other.params), jax.tree_util.tree_leaves(want_p)):
      np.testing.assert_array_equal(a, b)


def test_the_default_chunk_is_a_fiftieth_of_the_run_at_most_50000_steps_in_whole_records():
  assert _progress.default_chunk(10_000, 10) == 200
  assert _progress.default_chunk(10**9, 1) == 50_000
  assert _progress.default_chunk(30, 1) == 1
  assert _progress.default_chunk(1000, 1000) == 1000
