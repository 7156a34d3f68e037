"""The library's bad input: a clear error naming the argument, what was expected and what was given,
raised eagerly before anything is compiled, and nothing written.

The hostile-input sweep, in three parts, one parametrized list each: ``LIB_CASES`` here (56: arrays,
dtypes, shapes, counts past int32, non-finite params, learning rates past the dtype, traced values,
params and CSV files), ``CLI_CASES`` in test_cli_input_errors.py (60, and 2 tests of their own: a
missing matplotlib and a plot where nothing can be created, 62 on the command line: flags, data files,
outputs, a population past the machine's memory) and ``SIGNAL_CASES`` in test_stopping.py (3). Every
case states the exception (library) or the exit status (command line) and the message, and each runs
in a folder of its own whose contents must be the same afterwards, hidden files included. The count,
121 and 40 at least, is checked by ``test_the_sweep_has_forty_distinct_cases``. Besides them, 4 library
inputs that were once refused with a raw error or trained wrongly now work, each giving the numbers of
what it stands for (``ACCEPTED``, one test each, here).
"""

import functools
import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from cli_support import ENV, snapshot

import jbp


@pytest.fixture
def ex():
  return jbp.worked_example()


def train_worked(ex, **kw):
  args = dict(x=ex.inputs, y=ex.targets, steps=10, learning_rate=0.5)
  args.update(kw)
  x, y = args.pop("x"), args.pop("y")
  return jbp.train(args.pop("params", ex.params), x, y, **args)


@pytest.mark.parametrize("kw, match", [
    (dict(x=jnp.ones(3)), r"x: expected shape \(2,\) or \(batch, 2\).*got shape \(3,\)"),
    (dict(x=jnp.ones((4, 3))), r"x: expected shape .* got shape \(4, 3\)"),
    (dict(y=jnp.ones(3)), r"y: expected shape \(2,\) .* got shape \(3,\)"),
    (dict(x=jnp.ones((4, 2))), r"y: expected shape \(4, 2\) .* got shape \(2,\)"),
    (dict(steps=-5), r"steps: expected an integer >= 1, got -5"),
    (dict(steps=2.5), r"steps: expected an integer >= 1, got float 2.5"),
    (dict(steps=True), r"steps: expected an integer >= 1, got bool"),
    (dict(record_every=0), r"record_every: expected an integer >= 1, got 0"),
    (dict(record_every=3), r"record_every: expected a divisor of steps=10, got 3"),
    (dict(record_every=1.0), r"record_every: expected an integer >= 1, got float"),
    (dict(learning_rate=-0.1), r"learning_rate: expected a positive finite number, got -0.1"),
    (dict(learning_rate=float("nan")), r"learning_rate: expected a positive finite number, got nan"),
    (dict(learning_rate=float("inf")), r"learning_rate: expected a positive finite number, got inf"),
    (dict(learning_rate=None), r"learning_rate: expected a positive finite number, got None"),
    (dict(learning_rate=jnp.ones(3)), r"learning_rate: expected shape \(\), got shape \(3,\)"),
    (dict(update="backwards"), r"update: expected one of \['simultaneous', 'sequential'\], got 'backwards'"),
    (dict(activation="swish"), r"activation: expected one of .*sigmoid.* got 'swish'"),
    (dict(activation=3), r"activation: expected one of .* got int 3"),
    (dict(trainable="biases"), r"trainable: expected one of \['weights', 'all'\], got 'biases'"),
    (dict(update="sequential", optimizer=optax.sgd(0.5), learning_rate=None),
     r"optimizer: the sequential update order is defined for plain SGD only"),
    (dict(optimizer=optax.adam(0.1)), r"learning_rate: expected None when optimizer is given"),
    (dict(optimizer="adam", learning_rate=None),
         r"optimizer: expected jbp.Optimizer\(factory, ...\) or an optax GradientTransformation"),
    (dict(reduction="max"), r"reduction: expected one of \['sum', 'mean'\], got 'max'"),
])
def test_train_rejects(ex, kw, match):
  with pytest.raises((ValueError, TypeError), match=match):
    train_worked(ex, **kw)


def test_layers_whose_shapes_do_not_chain_are_refused_by_every_entry_point(ex):
  bad = (ex.params[0], jbp.Layer(jnp.ones((2, 3)), jnp.zeros(())))
  for fn in (lambda: train_worked(ex, params=bad), lambda: jbp.forward(bad, ex.inputs),
             lambda: jbp.loss(bad, ex.inputs, ex.targets), lambda: jbp.backprop(bad, ex.inputs, ex.targets)):
    with pytest.raises(ValueError, match=r"params\[1\].w: expected 2 inputs .* got shape \(2, 3\): "
                                         r"layer shapes do not chain"):
      fn()


@pytest.mark.parametrize("params, match", [
    ((), r"params: expected a non-empty tuple of jbp.Layer"),
    ([(jnp.ones((2, 2)), 0.0)], r"params\[0\]: expected jbp.Layer\(w, b\), got tuple"),
    ((jbp.Layer(jnp.ones(2), jnp.zeros(())),),
     r"params\[0\].w: expected shape \(n_out, n_in\), got shape \(2,\)"),
    ((jbp.Layer(jnp.ones((2, 2)), jnp.zeros(3)),), r"params\[0\].b: expected a scalar or shape \(2,\)"),
    ((jbp.Layer(jnp.ones((2, 2), jnp.int32), jnp.zeros(())),), r"params\[0\].w: expected a floating dtype"),
])
def test_malformed_params_are_refused_naming_the_layer(ex, params, match):
  with pytest.raises((ValueError, TypeError), match=match):
    jbp.forward(params, ex.inputs)


def test_float64_with_64_bit_mode_off_says_how_to_turn_it_on():
  assert not jax.config.jax_enable_x64
  with pytest.raises(ValueError, match=r"dtype: float64 was asked for, but 64-bit mode is off; "
                                       r"enable it .*jax_enable_x64"):
    jbp.worked_example(jnp.float64)
  with pytest.raises(ValueError, match=r"dtype: float64"):
    jbp.init_params(jax.random.key(0), (2, 2), dtype=jnp.float64)


@pytest.mark.parametrize("kw, match", [
    (dict(sizes=(2,)), r"sizes: expected at least two layer sizes"),
    (dict(sizes=(2, 0, 1)), r"sizes: expected positive integers .* got \(2, 0, 1\)"),
    (dict(sizes=(2, 2), method="normal"), r"method: expected one of \['glorot', 'uniform'\], got 'normal'"),
    (dict(sizes=(2, 2), dtype=jnp.int32), r"dtype: expected a floating dtype .* got int32"),
    (dict(sizes=(2, 2), key=0), r"key: expected a PRNG key from jax.random.key\(seed\), got int"),
])
def test_init_params_rejects(kw, match):
  kw.setdefault("key", jax.random.key(0))
  with pytest.raises((ValueError, TypeError), match=match):
    jbp.init_params(**kw)


def test_errors_come_before_compilation(ex, monkeypatch):
  from jbp import _train

  def boom(*a, **k):
    raise AssertionError("compiled before checking")

  monkeypatch.setattr(_train, "train_program", boom)
  with pytest.raises(ValueError, match="steps"):
    train_worked(ex, steps=0)


NAN, INF = float("nan"), float("inf")


def _call(fn, x, y):
  """One entry point on the worked example's network (a population of 3 for train_many and sweep)."""
  ex = jbp.worked_example()
  pop = jbp.init_many(jax.random.key(0), 3, (2, 2, 2), method="uniform", shared_bias=True)
  calls = {
      "train": lambda: jbp.train(ex.params, x, y, steps=2, learning_rate=0.5),
      "train_many": lambda: jbp.train_many(pop, x, y, steps=2, learning_rate=0.5),
      "sweep": lambda: jbp.sweep(pop, x, y, learning_rates=[0.5, 1.0], steps=2),
      "explain": lambda: jbp.explain(ex.params, x, y, learning_rate=0.5),
      "backprop": lambda: jbp.backprop(ex.params, x, y),
      "loss": lambda: jbp.loss(ex.params, x, y),
      "forward": lambda: jbp.forward(ex.params, x),
  }
  return calls[fn]()


@pytest.mark.parametrize("fn, name, value", [
    (fn, name, value) for fn in ["train", "train_many", "sweep", "explain", "backprop", "loss", "forward"]
    for name, value in [("x", NAN), ("x", -INF), ("y", INF), ("y", NAN)]
    if not (fn == "forward" and name == "y")])  # forward takes no targets
def test_non_finite_data_is_a_value_error_naming_it(fn, name, value):
  x, y = [[0.05, 0.10], [0.5, 0.5]], [[0.01, 0.99], [0.5, 0.5]]
  bad = {"x": x, "y": y}[name]
  bad[1][0] = value
  with pytest.raises(ValueError, match=rf"^{name}: expected finite numbers, got {value} at index \(1, 0\)"):
    _call(fn, jnp.asarray(x), np.asarray(y))  # a JAX array and a NumPy array: both host data


def test_traced_data_passes_through_under_jit_and_vmap():
  # A traced value has no value to look at: the check is for host data, and NaN flows through as NaN.
  ex = jbp.worked_example()
  x = jnp.array([[0.05, 0.10], [NAN, 0.5]])
  out = jax.jit(lambda x: jbp.forward(ex.params, x))(x)
  assert bool(jnp.isnan(out[1]).all()) and bool(jnp.isfinite(out[0]).all())
  per_example = jax.vmap(lambda xi: jbp.loss(ex.params, xi, ex.targets))(x)
  assert bool(jnp.isfinite(per_example[0])) and bool(jnp.isnan(per_example[1]))
  _, losses = jax.jit(lambda x: jbp.train(ex.params, x, ex.targets[None].repeat(2, 0), steps=2,
                                          learning_rate=0.5))(x)
  assert bool(jnp.isnan(losses).all())


def test_format_figures_rejects_what_is_not_a_list_of_rows():
  row = jbp.FigureRow("E before training", "0.298371109", {"simultaneous": 0.2983711087},
                      {"simultaneous": True})
  with pytest.raises(TypeError, match=r"rows: expected a list of jbp.FigureRow .* got FigureRow"):
    jbp.format_figures(row)
  with pytest.raises(TypeError, match=r"rows\[0\]: expected a jbp.FigureRow, got tuple"):
    jbp.format_figures([tuple(row)])
  with pytest.raises(ValueError, match=r"rows\[0\]: expected values and matches for each update order "
                                       r"\['simultaneous', 'sequential'\]"):
    jbp.format_figures([row])


def test_zero_learning_rate_is_rejected_with_its_reason():
  ex = jbp.worked_example()
  with pytest.raises(ValueError, match="learning_rate: expected a positive finite number, got 0.0"):
    jbp.train(ex.params, ex.inputs, ex.targets, steps=1, learning_rate=0.0)


def test_numpy_float64_params_with_64_bit_mode_off_are_an_error():
  ex = jbp.worked_example()
  params = tuple(jbp.Layer(np.asarray(p.w, np.float64), np.asarray(p.b, np.float64)) for p in ex.params)
  with pytest.raises(ValueError, match=r"params\[0\].w: expected float32 .* got float64, but 64-bit mode is "
                                       r"off; enable it"):
    jbp.train(params, ex.inputs, ex.targets, steps=2, learning_rate=0.5)


EX = jbp.worked_example()


POP = jbp.init_many(jax.random.key(0), 2, (2, 2, 2))


NAN_X = jnp.array([0.05, jnp.nan])


F64 = tuple(jbp.Layer(np.asarray(p.w, np.float64), np.asarray(p.b, np.float64)) for p in EX.params)


def npz(**arrays):
  """A case's file: an .npz of these arrays, written in the case's folder."""
  def make(folder):
    np.savez(folder / "p.npz", **arrays)
    return str(folder / "p.npz")
  return make


def truncated(folder):
  path = npz(w1=np.ones((2, 2), np.float32), b1=np.zeros((), np.float32))(folder)
  data = open(path, "rb").read()
  open(path, "wb").write(data[: len(data) // 2])
  return path


def text(name, content):
  def make(folder):
    (folder / name).write_text(content, encoding="utf-8")
    return str(folder / name)
  return make


def raw(name, content: bytes):
  def make(folder):
    (folder / name).write_bytes(content)
    return str(folder / name)
  return make


def x64(call):
  """``call()`` with 64-bit mode on, as a case's call."""
  def run(_):
    with jax.enable_x64(True):
      return call()
  return run


INT32_MAX = 2**31 - 1


NAN_W = (jbp.Layer(EX.params[0].w.at[1, 0].set(jnp.nan), EX.params[0].b), EX.params[1])


# Member 1 of the population has an infinity in one weight, and is not NaN elsewhere: not a diverged member.
INF_POP = (jbp.Layer(POP[0].w.at[1, 0, 1].set(jnp.inf), POP[0].b), POP[1])


NAN_PARAMS = r"^params\[0\]\.w: expected finite numbers, got nan at index \(1, 0\)$"


NOT_NPZ = (r"^(?!.*allow_pickle)path: expected a \.npz file of arrays saved by jbp\.save_params or "
           r"numpy\.savez, got ")


CONCRETE = (r": explain runs eagerly and reads every number, so call it outside jax\.jit, jax\.vmap and "
            r"jax\.grad")  # under jit, JAX appends a note on its filtered traceback


train = functools.partial(jbp.train, EX.params, EX.inputs, EX.targets)


load_ab = functools.partial(jbp.load_csv, inputs="a", targets="b")


NO_FILE = None


# (id, the file it reads or None, the call given that file's path, exception, message)
LIB_CASES = [
    ("train x nan", NO_FILE, lambda _: jbp.train(EX.params, NAN_X, EX.targets, steps=1, learning_rate=0.5),
     ValueError, r"^x: expected finite numbers, got nan at index \(1,\)"),
    ("loss y inf", NO_FILE, lambda _: jbp.loss(EX.params, EX.inputs, jnp.array([jnp.inf, 0.5])), ValueError,
     r"^y: expected finite numbers, got inf at index \(0,\)"),
    ("forward x nan", NO_FILE, lambda _: jbp.forward(EX.params, NAN_X), ValueError, r"^x: expected finite"),
    ("train_many y nan", NO_FILE,
     lambda _: jbp.train_many(POP, EX.inputs, jnp.array([0.1, jnp.nan]), steps=1, learning_rate=0.5),
     ValueError, r"^y: expected finite"),
    ("forward x shape", NO_FILE, lambda _: jbp.forward(EX.params, jnp.ones(3)), ValueError,
     r"^x: expected shape \(2,\) or \(batch, 2\) .* got shape \(3,\)"),
    ("loss y shape", NO_FILE, lambda _: jbp.loss(EX.params, EX.inputs, jnp.ones(3)), ValueError,
     r"^y: expected shape \(2,\)"),
    ("x of strings", NO_FILE, lambda _: jbp.forward(EX.params, np.array(["a", "b"])), TypeError,
     r"^x: expected an array of real numbers, got dtype <U1"),
    ("x complex", NO_FILE, lambda _: jbp.forward(EX.params, np.array([1j, 2.0])), TypeError,
     r"^x: expected an array of real numbers, got dtype complex128"),
    ("x None", NO_FILE, lambda _: jbp.forward(EX.params, None), TypeError,
     r"^x: expected an array of numbers, got NoneType"),
    ("params float64 with x64 off", NO_FILE, lambda _: jbp.forward(F64, EX.inputs), ValueError,
     r"^params\[0\].w: expected float32 \(or float16\) arrays with 64-bit mode off, got float64"),
    ("params int", NO_FILE, lambda _: jbp.forward((jbp.Layer(np.ones((2, 2), np.int32), np.int32(0)),),
                                                  EX.inputs), TypeError,
     r"^params\[0\].w: expected a floating dtype, got int32"),
    ("params not layers", NO_FILE, lambda _: jbp.forward([(1, 2)], EX.inputs), TypeError,
     r"^params\[0\]: expected jbp.Layer\(w, b\), got tuple"),
    ("init dtype int", NO_FILE, lambda _: jbp.init_params(jax.random.key(0), (2, 2), dtype=jnp.int32),
     ValueError, r"^dtype: expected a floating dtype such as jnp.float32, got int32"),
    ("init dtype float64", NO_FILE, lambda _: jbp.init_params(jax.random.key(0), (2, 2), dtype=jnp.float64),
     ValueError, r"^dtype: float64 was asked for, but 64-bit mode is off"),
    ("lr text", NO_FILE, lambda _: jbp.train(EX.params, EX.inputs, EX.targets, steps=1, learning_rate="fast"),
     TypeError, r"^learning_rate: expected a positive finite number, got str 'fast'"),
    ("steps zero", NO_FILE, lambda _: jbp.train(EX.params, EX.inputs, EX.targets, steps=0, learning_rate=0.5),
     ValueError, r"^steps: expected an integer >= 1, got 0"),
    ("train_many rates shape", NO_FILE, lambda _: jbp.train_many(POP, EX.inputs, EX.targets, steps=1,
                                                                learning_rate=jnp.ones(3)), ValueError,
     r"^learning_rate: expected a scalar or shape \(2,\)"),
    ("sweep rates 2-d", NO_FILE,
     lambda _: jbp.sweep(POP, EX.inputs, EX.targets, learning_rates=jnp.ones((2, 2)), steps=1),
     ValueError, r"^learning_rates: expected a 1-d array"),
    ("explain too big", NO_FILE,
     lambda _: jbp.explain(jbp.init_params(jax.random.key(0), (2, 17, 2)), EX.inputs, EX.targets,
                           learning_rate=0.5),
     ValueError, r"at most 4 layers of at most 16 neurons"),
    ("summarize nan threshold", NO_FILE, lambda _: jbp.summarize(np.ones((2, 3)), float("nan")), ValueError,
     r"^threshold: expected a finite number"),
    ("load_params float64", npz(w1=np.ones((2, 2)), b1=np.zeros(())), jbp.load_params, ValueError,
     r"^params: expected float32 arrays with 64-bit mode off, got float64 in .*p.npz"),
    ("load_params mixed", npz(w1=np.ones((2, 2), np.float32), b1=np.zeros((), np.float16)), jbp.load_params,
     ValueError,
     r"^params: expected one floating dtype for every array, got float32 \(w1\) and float16 \(b1\)"),
    ("load_params int", npz(w1=np.ones((2, 2), np.int64), b1=np.zeros((), np.int64)), jbp.load_params,
     ValueError,
     r"^params: expected floating-point arrays \(float16, float32 or float64\), got int64 \(w1\)"),
    ("load_params missing b", npz(w1=np.ones((2, 2), np.float32)), jbp.load_params, ValueError,
     r"^params: expected arrays w1, b1, w2, b2, ... in .*p.npz, got \['w1'\]"),
    ("load_params truncated", truncated, jbp.load_params, ValueError,
     NOT_NPZ + r".*p.npz, which cannot be read as one \(File is not a zip file\)$"),
    ("load_params folder", lambda folder: str(folder), jbp.load_params, ValueError,
     NOT_NPZ + r".*, which cannot be read \(Is a directory\)$"),
    ("load_params random bytes", raw("p.npz", bytes(range(256)) * 4), jbp.load_params, ValueError,
     NOT_NPZ + r".*p.npz, which is not a zip archive, as an .npz is$"),
    ("load_params pickled objects", npz(w1=np.array([{"x": 1}, None], dtype=object), b1=np.zeros(2)),
     jbp.load_params, ValueError,
     r"^(?!.*allow_pickle)params: expected floating-point arrays \(float16, float32 or float64\), got "
     r"pickled Python objects \(w1\) in .*p.npz, which are never unpickled$"),
    ("load_csv inf", text("d.csv", "a,b\n1,inf\n"), lambda path: jbp.load_csv(path, "a", "b"), ValueError,
     r"^data: expected a finite number in .*d.csv line 2, column 'b', got 'inf'"),
    ("load_csv field past the csv module's limit", text("d.csv", "a,b\n1,2\n1," + "2" * 200_000 + "\n"),
     load_ab, ValueError,
     r"^data: expected fields of at most 131072 characters in .*d.csv line 3, column 'b', got one of "
     r"200000$"),
    ("load_csv column named twice", text("d.csv", "a,b,a,out\n1,2,3,4\n"),
     lambda path: jbp.load_csv(path, "a,b", "out"), ValueError,
     r"^data: expected each column named once in the header of .*d.csv, got 'a' as columns 1 and 3$"),
    ("load_csv underscores in a number", text("d.csv", "a,b\n1_000,2\n"), load_ab, ValueError,
     r"^data: expected a number in .*d.csv line 2, column 'a', got '1_000'$"),
    ("load_csv Arabic-Indic digit", text("d.csv", "a,b\n1,\u0663\n"), load_ab, ValueError,
     r"^data: expected a number in .*d.csv line 2, column 'b', got '\u0663'$"),
    ("load_csv full-width digit", text("d.csv", "a,b\n\uff13,1\n"), load_ab, ValueError,
     r"^data: expected a number in .*d.csv line 2, column 'a', got '\uff13'$"),
    ("save_params over a file", text("p.npz", "mine"), lambda path: jbp.save_params(path, EX.params),
     FileExistsError,
     r"^out: expected a new file \(or force=True to replace it\), got .*p.npz, which exists"),
    # counts past the compiled loop's int32 counter (64-bit mode on, it once ran 0 steps and said nothing)
    ("steps past int32 with 64-bit mode on", NO_FILE,
     x64(lambda: train(steps=2**63 - 1, learning_rate=0.5, record_every=2**63 - 1)), ValueError,
     r"^steps: expected an integer from 1 to 2147483647, got 9223372036854775807$"),
    ("steps past int32", NO_FILE, lambda _: train(steps=2**31, learning_rate=0.5, record_every=2**31),
     ValueError, r"^steps: expected an integer from 1 to 2147483647, got 2147483648$"),
    ("record_every past int32", NO_FILE,
     lambda _: train(steps=INT32_MAX, learning_rate=0.5, record_every=2**31), ValueError,
     r"^record_every: expected an integer from 1 to 2147483647, got 2147483648$"),
    ("train_chunked chunk_steps past int32", NO_FILE,
     lambda _: jbp.train_chunked(EX.params, EX.inputs, EX.targets, steps=4, chunk_steps=2**40,
                                 learning_rate=0.5), ValueError,
     r"^chunk_steps: expected an integer from 1 to 2147483647, got 1099511627776$"),
    ("train_many steps past int32", NO_FILE,
     lambda _: jbp.train_many(POP, EX.inputs, EX.targets, steps=2**31, learning_rate=0.5), ValueError,
     r"^steps: expected an integer from 1 to 2147483647, got 2147483648$"),
    ("record_training steps past int32", NO_FILE,
     lambda _: jbp.record_training(EX.params, EX.inputs, EX.targets, steps=2**31, learning_rate=0.5),
     ValueError, r"^steps: expected an integer from 1 to 2147483647, got 2147483648$"),
    ("train_many steps bool", NO_FILE,
     lambda _: jbp.train_many(POP, EX.inputs, EX.targets, steps=True, learning_rate=0.5), TypeError,
     r"^steps: expected an integer >= 1, got bool True$"),
    # NaN or an infinity in params, refused as in data (where the values are known)
    ("train params nan", NO_FILE,
     lambda _: jbp.train(NAN_W, EX.inputs, EX.targets, steps=1, learning_rate=0.5), ValueError, NAN_PARAMS),
    ("train_chunked params nan", NO_FILE,
     lambda _: jbp.train_chunked(NAN_W, EX.inputs, EX.targets, steps=2, chunk_steps=1, learning_rate=0.5),
     ValueError, NAN_PARAMS),
    ("record_training params nan", NO_FILE,
     lambda _: jbp.record_training(NAN_W, EX.inputs, EX.targets, steps=2, learning_rate=0.5), ValueError,
     NAN_PARAMS),
    ("explain params nan", NO_FILE, lambda _: jbp.explain(NAN_W, EX.inputs, EX.targets, learning_rate=0.5),
     ValueError, NAN_PARAMS),
    ("backprop params nan", NO_FILE, lambda _: jbp.backprop(NAN_W, EX.inputs, EX.targets), ValueError,
     NAN_PARAMS),
    ("loss params nan", NO_FILE, lambda _: jbp.loss(NAN_W, EX.inputs, EX.targets), ValueError, NAN_PARAMS),
    ("train_many member with an infinity", NO_FILE,
     lambda _: jbp.train_many(INF_POP, EX.inputs, EX.targets, steps=1, learning_rate=0.5), ValueError,
     r"^params\[0\]\.w: expected finite numbers \(or a member NaN in every leaf, as train_many returns a "
     r"diverged one\), got inf at index \(1, 0, 1\)$"),
    ("sweep member with an infinity", NO_FILE,
     lambda _: jbp.sweep(INF_POP, EX.inputs, EX.targets, learning_rates=[0.5, 1.0], steps=1), ValueError,
     r"^params\[0\]\.w: expected finite numbers .*, got inf at index \(1, 0, 1\)$"),
    # explain reads every number: traced arguments are named before anything reads them
    ("explain under jit", NO_FILE,
     lambda _: jax.jit(lambda p: jbp.explain(p, EX.inputs, EX.targets, learning_rate=0.5))(EX.params),
     TypeError,
     r"^params\[0\]\.w: expected a concrete value, got a traced value of shape \(2, 2\) \(float32\)"
     + CONCRETE),
    ("explain under vmap", NO_FILE,
     lambda _: jax.vmap(lambda x: jbp.explain(EX.params, x, EX.targets, learning_rate=0.5))(
         jnp.stack([EX.inputs, EX.inputs])),
     TypeError, r"^x: expected a concrete value, got a traced value of shape \(2,\) \(float32\)" + CONCRETE),
    # hyperparameters that are no longer positive finite numbers in the params' dtype
    ("learning rate past float32", NO_FILE, lambda _: train(steps=1, learning_rate=1e39), ValueError,
     r"^learning_rate: expected a positive number finite in float32, got 1e\+39$"),
    ("learning rate zero in float32", NO_FILE, lambda _: train(steps=1, learning_rate=1e-50), ValueError,
     r"^learning_rate: expected a positive number finite in float32, got 1e-50$"),
    ("adam learning rate past float32", NO_FILE,
     lambda _: train(steps=1, optimizer=jbp.Optimizer(optax.adam, learning_rate=1e39)), ValueError,
     r"^learning_rate: expected a number finite in float32, got 1e\+39$"),
    ("sweep rate past float32", NO_FILE,
     lambda _: jbp.sweep(POP, EX.inputs, EX.targets, learning_rates=[0.5, 1e39], steps=1), ValueError,
     r"^learning_rates: expected a positive number finite in float32, got 1e\+39 \(at index \(1,\)\)$"),
]


@pytest.mark.parametrize("make, call, error, message", [c[1:] for c in LIB_CASES],
                         ids=[c[0] for c in LIB_CASES])
def test_each_bad_library_input_is_refused_naming_it_and_writing_nothing(tmp_path, make, call, error,
                                                                          message):
  path = make(tmp_path) if make is not None else None
  before = snapshot(tmp_path)  # the case's own file, if it has one
  with pytest.raises(error, match=message):
    call(path)
  assert snapshot(tmp_path) == before  # read, refused, and nothing written: no temporaries either


# Inputs once refused with a raw error (or worse) that now work: each gives the numbers of the input it
# stands for.
ACCEPTED = ["params as a list", "a population on another device", "a big-endian params file",
            "non-finite params where traced, or as a diverged member"]


def same(a, b):
  for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
    np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_params_as_a_list_give_the_numbers_of_a_tuple():
  as_list, data = list(EX.params), (EX.inputs, EX.targets)
  for update in jbp.UPDATES:
    same(jbp.train(as_list, *data, steps=3, learning_rate=0.5, update=update),
         jbp.train(EX.params, *data, steps=3, learning_rate=0.5, update=update))
    same(jbp.explain(as_list, *data, learning_rate=0.5, update=update),
         jbp.explain(EX.params, *data, learning_rate=0.5, update=update))
  same(jbp.train_chunked(as_list, *data, steps=4, chunk_steps=2, learning_rate=0.5)[:2],
       jbp.train_chunked(EX.params, *data, steps=4, chunk_steps=2, learning_rate=0.5)[:2])
  same(jbp.record_training(as_list, *data, steps=4, learning_rate=0.5)[:2],
       jbp.record_training(EX.params, *data, steps=4, learning_rate=0.5)[:2])
  same(jbp.train_many(list(POP), *data, steps=3, learning_rate=0.5),
       jbp.train_many(POP, *data, steps=3, learning_rate=0.5))
  same(jbp.forward(as_list, EX.inputs), jbp.forward(EX.params, EX.inputs))
  same(jbp.loss(as_list, *data), jbp.loss(EX.params, *data))
  same(jbp.backprop(as_list, *data), jbp.backprop(EX.params, *data))


ANOTHER_DEVICE = """
import json, jax, jax.numpy as jnp, numpy as np, jbp
jax.config.update("jax_enable_x64", True)
ex = jbp.worked_example(jnp.float64)
cpu0, cpu1 = jax.devices()
on1 = lambda a: jax.device_put(a, cpu1)
leaves = lambda r: jax.tree_util.tree_leaves((r.params, r.losses))
out = {}
for n in (4, 3):  # split evenly over the two devices, and padded
  pop = jbp.init_many(jax.random.key(0), n, (2, 2, 2), dtype=jnp.float64)
  kw = dict(steps=20, record_every=5)
  want = jbp.train_many(pop, ex.inputs, ex.targets, learning_rate=0.5, devices=[cpu0], **kw)
  runs = {
      "params on cpu 1": lambda: jbp.train_many(on1(pop), ex.inputs, ex.targets, learning_rate=0.5, **kw),
      "data on cpu 1": lambda: jbp.train_many(pop, on1(ex.inputs), on1(ex.targets), learning_rate=0.5, **kw),
      "rates on cpu 1": lambda: jbp.train_many(pop, ex.inputs, ex.targets,
                                               learning_rate=on1(jnp.full(n, 0.5)), **kw),
      "params on cpu 1, devices=[cpu 0]": lambda: jbp.train_many(on1(pop), ex.inputs, ex.targets,
                                                                 learning_rate=0.5, devices=[cpu0], **kw),
  }
  for name, run in runs.items():
    got = run()
    out[f"{n} members, {name}"] = dict(
        devices=sorted(d.id for d in got.losses.sharding.device_set),
        max_rel=max(float(np.max(np.abs(np.asarray(a) - b) / np.maximum(np.abs(b), 1.0)))
                    for a, b in zip(leaves(got), map(np.asarray, leaves(want)))))
print(json.dumps(out))
"""


def test_a_population_on_another_device_trains_as_on_the_default_one():
  # jbp.train takes params on any device; train_many once failed inside shard_map for a population
  # placed on a device other than the first.
  env = dict(ENV, XLA_FLAGS="--xla_force_host_platform_device_count=2")
  proc = subprocess.run([sys.executable, "-c", ANOTHER_DEVICE], env=env, capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode == 0, proc.stderr
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  assert len(out) == 8
  for name, r in out.items():
    assert r["max_rel"] <= 1e-12, (name, r)  # float64; members never interact
    assert r["devices"] == ([0] if "devices=" in name else [0, 1]), (name, r)  # where `devices` says


def save_as(path, params, dtype):
  """``params`` saved as numpy.savez would on a machine of that ``dtype``'s byte order, e.g. ``">f4"``."""
  np.savez(path, **{f"{part}{l}": np.asarray(leaf).astype(dtype)
                    for l, layer in enumerate(params, start=1) for part, leaf in zip("wb", layer)})


def test_a_big_endian_params_file_loads_as_the_same_numbers(tmp_path):
  path = tmp_path / "big.npz"
  save_as(path, EX.params, ">f4")
  before = snapshot(tmp_path)
  back = jbp.load_params(path)
  assert snapshot(tmp_path) == before
  assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(back))
  same(back, EX.params)
  jbp.save_params(tmp_path / "again.npz", back)  # the round trip, in the machine's order
  same(jbp.load_params(tmp_path / "again.npz"), EX.params)
  data = (EX.inputs, EX.targets)
  same(jbp.train(back, *data, steps=2, learning_rate=0.5),
       jbp.train(EX.params, *data, steps=2, learning_rate=0.5))
  save_as(tmp_path / "big64.npz", F64, ">f8")
  with jax.enable_x64(True):
    same(jbp.load_params(tmp_path / "big64.npz"), F64)


def test_non_finite_params_pass_where_traced_or_as_a_diverged_member():
  # Under jit and vmap the params have no values to look at: NaN flows through as NaN, as in data.
  _, losses = jax.jit(lambda p: jbp.train(p, EX.inputs, EX.targets, steps=2, learning_rate=0.5))(NAN_W)
  assert bool(jnp.isnan(losses).all())
  ws = jnp.stack([EX.params[0].w, NAN_W[0].w])
  E = jax.vmap(lambda w: jbp.loss((jbp.Layer(w, EX.params[0].b), EX.params[1]), EX.inputs, EX.targets))(ws)
  assert bool(jnp.isfinite(E[0])) and bool(jnp.isnan(E[1]))
  # train_many returns a diverged member NaN in every leaf; trained again, it is marked diverged again.
  diverged = jax.tree_util.tree_map(lambda a: a.at[1].set(jnp.nan), POP)
  res = jbp.train_many(diverged, EX.inputs, EX.targets, steps=2, learning_rate=0.5)
  assert res.diverged.tolist() == [False, True] and res.diverged_step.tolist() == [-1, 0]
  ok = jbp.train_many(POP, EX.inputs, EX.targets, steps=2, learning_rate=0.5)
  np.testing.assert_allclose(res.losses[0], ok.losses[0], rtol=1e-6)
  # forward shows the outputs of a run that diverged, as the command line prints them.
  assert bool(jnp.isnan(jbp.forward(NAN_W, EX.inputs)).all())
  # record_training goes on after a divergence, as one call of train does.
  kw = dict(steps=20, record_every=2, learning_rate=1e30, activation="identity")
  run = jbp.record_training(EX.params, EX.inputs, EX.targets, **kw)
  _, losses = jbp.train(EX.params, EX.inputs, EX.targets, **kw)
  assert np.isnan(run.losses[-1])
  np.testing.assert_array_equal(run.losses, losses)


def test_the_sweep_has_forty_distinct_cases():
  from test_cli_input_errors import CLI_CASES
  from test_stopping import SIGNAL_CASES

  cli = [c[0] for c in CLI_CASES] + ["plot without matplotlib", "plot where nothing can be created"]
  library, signals = [c[0] for c in LIB_CASES], [c[0] for c in SIGNAL_CASES]
  argvs = [tuple(c[1]) for c in CLI_CASES]
  assert len(set(argvs)) == len(argvs)  # no case repeated under another name
  for ids in (cli, library, signals):
    assert len(ids) == len(set(ids))
  assert len(ACCEPTED) == len(set(ACCEPTED))
  # the counts the docstrings state
  assert (len(cli), len(library), len(signals), len(ACCEPTED)) == (62, 56, 3, 4)
  assert len(cli) + len(library) + len(signals) >= 40
