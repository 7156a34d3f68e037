"""Repeated calls: the checks that read only shapes, dtypes and options run once a signature
(``jbp/_calls.py``), the checks of values every call, and the results do not change; a first call
under jit leaves nothing traced behind."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_trees_close

import jbp
from jbp import _calls, _checks

NAN = float("nan")


def count_checks(monkeypatch):
  """Counts the calls of check_params, the shape checks every entry point starts with."""
  calls = []
  real = _checks.check_params
  monkeypatch.setattr(_checks, "check_params", lambda *a, **k: calls.append(1) or real(*a, **k))
  return calls


def entry_points(ex):
  p, x, y = ex.params, ex.inputs, ex.targets
  return {
      "train": lambda x=x, y=y: jbp.train(p, x, y, steps=2, learning_rate=0.5),
      "forward": lambda x=x, y=y: jbp.forward(p, x),
      "loss": lambda x=x, y=y: jbp.loss(p, x, y),
      "backprop": lambda x=x, y=y: jbp.backprop(p, x, y),
  }


@pytest.mark.parametrize("name", ["train", "forward", "loss", "backprop"])
def test_a_repeated_call_checks_shapes_once_and_values_every_time(monkeypatch, name):
  ex = jbp.worked_example()
  call = entry_points(ex)[name]
  first = call()
  calls = count_checks(monkeypatch)
  again = call()
  assert calls == []  # the shapes were checked by the first call
  jax.tree_util.tree_map(np.testing.assert_array_equal, first, again)
  with pytest.raises(ValueError, match="x: expected finite numbers, got nan at index"):
    call(x=jnp.asarray([0.05, NAN]))  # same shape and dtype, a new value
  if name != "forward":
    with pytest.raises(ValueError, match="y: expected finite numbers, got nan at index"):
      call(y=jnp.asarray([NAN, 0.99]))


def test_a_numpy_array_written_in_place_is_checked_again():
  ex = jbp.worked_example()
  x = np.array(ex.inputs)  # a writable copy
  jbp.train(ex.params, x, ex.targets, steps=2, learning_rate=0.5)
  x[1] = NAN
  with pytest.raises(ValueError, match="x: expected finite numbers, got nan at index \\(1,\\)"):
    jbp.train(ex.params, x, ex.targets, steps=2, learning_rate=0.5)
  with pytest.raises(ValueError, match="x: expected finite numbers"):
    jbp.forward(ex.params, x)


@pytest.mark.parametrize("kw, error, match", [
    (dict(learning_rate=-0.5), ValueError, "learning_rate: expected a positive finite number, got -0.5"),
    (dict(learning_rate=NAN), ValueError, "learning_rate: expected a positive finite number, got nan"),
    (dict(learning_rate=None), ValueError, "learning_rate: expected a positive finite number, got None"),
    (dict(steps=2.0), TypeError, "steps: expected an integer >= 1, got float 2.0"),
    (dict(steps=True, record_every=True), TypeError, "steps: expected an integer >= 1, got bool"),
    (dict(trainable=(jbp.Layer(1, 0), jbp.Layer(1, 0))), ValueError, "trainable: expected"),
])
def test_a_cached_signature_never_admits_what_the_checks_refuse(kw, error, match):
  ex = jbp.worked_example()
  args = dict(steps=2, learning_rate=0.5, record_every=1, trainable=(jbp.Layer(True, False),) * 2)
  jbp.train(ex.params, ex.inputs, ex.targets, **args)  # cached: ints are ints, bools are bools
  jbp.train(ex.params, ex.inputs, ex.targets, **dict(args, steps=1, trainable="weights"))
  with pytest.raises(error, match=match):
    jbp.train(ex.params, ex.inputs, ex.targets, **dict(args, **kw))


def test_the_cache_follows_64_bit_mode():
  with jax.enable_x64(True):
    ex = jbp.worked_example(jnp.float64)
    jbp.forward(ex.params, ex.inputs)
    jbp.train(ex.params, ex.inputs, ex.targets, steps=2, learning_rate=0.5)
  with pytest.raises(ValueError, match="64-bit mode is off"):
    jbp.forward(ex.params, ex.inputs)
  with pytest.raises(ValueError, match="64-bit mode is off"):
    jbp.train(ex.params, ex.inputs, ex.targets, steps=2, learning_rate=0.5)


def test_new_shapes_are_checked_though_the_leaves_are_the_last_ones_seen():
  ex = jbp.worked_example()
  jbp.forward(ex.params, ex.inputs)
  swapped = (ex.params[0], jbp.Layer(jnp.ones((3, 2)), ex.params[1].b), ex.params[1])
  with pytest.raises(ValueError, match="layer shapes do not chain"):
    jbp.forward(swapped, ex.inputs)
  with pytest.raises(ValueError, match=r"x: expected shape \(2,\) or \(batch, 2\)"):
    jbp.forward(ex.params, jnp.ones(3))


def test_frozen_leaves_come_back_as_given_and_trained_ones_as_before():
  ex = jbp.worked_example()
  final, losses = jbp.train(ex.params, ex.inputs, ex.targets, steps=3, learning_rate=0.5)
  assert all(f.b is p.b for f, p in zip(final, ex.params))  # the worked example's biases stay fixed
  np_params = tuple(jbp.Layer(np.asarray(p.w), np.asarray(p.b)) for p in ex.params)
  np_final, np_losses = jbp.train(np_params, ex.inputs, ex.targets, steps=3, learning_rate=0.5)
  assert all(isinstance(f.b, jax.Array) for f in np_final)  # always JAX arrays back
  jax.tree_util.tree_map(np.testing.assert_array_equal, (final, losses), (np_final, np_losses))
  every, _ = jbp.train(ex.params, ex.inputs, ex.targets, steps=3, learning_rate=0.5, trainable="all")
  assert not np.array_equal(every[0].b, ex.params[0].b)


def test_what_the_cache_does_not_key_takes_the_full_checks(monkeypatch):
  ex = jbp.worked_example()
  as_list = [ex.params[0], ex.params[1]]
  jbp.forward(as_list, ex.inputs)
  calls = count_checks(monkeypatch)
  jbp.forward(as_list, ex.inputs)
  jbp.forward(ex.params, [0.05, 0.1])
  assert len(calls) == 2
  with pytest.raises(_calls.Unkeyable):
    _calls.params_key(as_list)


@pytest.mark.parametrize("call", ["train", "loss", "backprop"])
def test_a_cached_signature_still_refuses_non_finite_params(call):
  """The checks of values run on every call: params with a NaN, of a shape seen before, are refused."""
  ex = jbp.worked_example()
  run = {"train": lambda p: jbp.train(p, ex.inputs, ex.targets, steps=2, learning_rate=0.5),
         "loss": lambda p: jbp.loss(p, ex.inputs, ex.targets),
         "backprop": lambda p: jbp.backprop(p, ex.inputs, ex.targets)}[call]
  run(ex.params)  # the signature is now cached
  bad = (jbp.Layer(ex.params[0].w.at[1, 0].set(jnp.nan), ex.params[0].b), ex.params[1])
  with pytest.raises(ValueError, match=r"params\[0\]\.w: expected finite numbers, got nan at index \(1, 0\)"):
    run(bad)


def test_a_cached_signature_still_refuses_a_learning_rate_past_the_dtype():
  ex = jbp.worked_example()  # float32
  jbp.train(ex.params, ex.inputs, ex.targets, steps=2, learning_rate=0.5)
  message = r"learning_rate: expected a positive number finite in float32, got 1e\+39"
  with pytest.raises(ValueError, match=message):
    jbp.train(ex.params, ex.inputs, ex.targets, steps=2, learning_rate=1e39)


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
  # A learning rate first seen under a trace is made a JAX scalar there, a tracer of that trace: kept
  # for later calls, a second jitted function took it for a constant and its second call failed
  # ("Execution supplied 4 arguments but compiled program expected 7"). Each of two jitted functions,
  # twice, gives the numbers of the call outside any trace.
  for _ in range(2):
    fn = jax.jit(lambda p: jbp.train(p, ex64.inputs, ex64.targets, steps=4, learning_rate=0.4329))
    for _ in range(2):
      assert_trees_close(fn(ex64.params), jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=4,
                                                     learning_rate=0.4329))
  assert not any(isinstance(a, jax.core.Tracer) for a in _calls._SCALARS.values())
