"""A hostile-input sweep: bad flags, files, arrays, dtypes, shapes and signals, each refused cleanly.

Every case states the exit status (command line) or the exception (library) and the message, and
each runs in a folder of its own whose contents must be the same afterwards, hidden files
included: nothing half-written, no temporaries, no empty run folder. Command-line errors must also
be one line in the one format, ``jbp <subcommand>: error: <flag>: expected ..., got ...``.

The command-line cases run ``jbp.cli.main`` in this process; the signal cases send a real SIGINT or
SIGTERM to a ``jbp`` process. The count, 40 at least, is checked by
``test_the_sweep_has_forty_distinct_cases``: there are 121, 62 on the command line (flags, data files,
outputs, a missing matplotlib, a population past the machine's memory), 56 in the library (arrays,
dtypes, shapes, counts past int32, non-finite params, learning rates past the dtype, traced values,
params and CSV files) and 3 signals. Besides them,
4 library inputs that were once refused with a raw error or trained wrongly now work, each giving the
numbers of what it stands for (``ACCEPTED``, one test each).
"""

import functools
import json
import os
import re
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from cli_support import ENV, error_line, run_cli, snapshot

import jbp

GOOD_CSV = "a,b,out\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"
FILES = {  # what a case's folder may hold before the command runs
    "good.csv": GOOD_CSV,
    "empty.csv": "",
    "header.csv": "a,b,out\n",
    "text.csv": "a,b,out\n0,x,1\n",
    "nan.csv": "a,b,out\n0,nan,1\n",
    "inf.csv": "a,b,out\n0,1,-inf\n",
    "ragged.csv": "a,b,out\n0,1\n",
    "blank_cell.csv": "a,b,out\n0,,1\n",
    "latin1.csv": b"a,b,out\n\xe9,1,0\n",
    "big.csv": "a,b,out\n" + "0,1,1\n" * 17,
    "afile": "a file the user saved",
    "loss.png": b"\x89PNG the user's figure",
    "step.txt": "the user's text",
}
DIRS = {  # folders a case may start with, and their files
    "adir": {},
    "mine": {"notes.txt": "the user's notes"},
    "run": {"params.npz": b"old", "losses.npz": b"old", "summary.json": "{}"},
}

T = ["train", "--no-progress", "--steps", "5"]
E = ["ensemble", "--no-progress", "--steps", "5", "--n", "2"]

# (id, argv, exit status, what the error line must match after "error: "); files come from FILES/DIRS.
CLI_CASES = [
    # flags
    ("steps zero", T + ["--steps", "0"], 2, r"--steps: expected an integer >= 1, got 0"),
    ("steps text", T + ["--steps", "many"], 2, r"--steps: expected an integer >= 1, got 'many'"),
    ("steps float", T + ["--steps", "1e3"], 2, r"--steps: expected an integer >= 1, got '1e3'"),
    ("steps missing value", ["train", "--steps"], 2, r"--steps: expected a value, got none"),
    ("steps abbreviated", ["train", "--step", "5"], 2, r"--step: expected an option listed by jbp train"),
    ("lr negative", T + ["--learning-rate", "-1"], 2, r"--learning-rate: expected a positive finite number, "
                                                       r"got -1"),
    ("lr infinite", T + ["--lr", "inf"], 2, r"--lr: expected a positive finite number, got inf"),
    ("lr text", T + ["--lr", "fast"], 2, r"--lr: expected a positive finite number, got 'fast'"),
    ("sizes text", T + ["--sizes", "2,x"], 2, r"--sizes: expected two or more positive integers"),
    ("sizes one layer", T + ["--sizes", "2"], 2, r"--sizes: expected two or more positive integers"),
    ("sizes zero", T + ["--sizes", "2,0,2"], 2, r"--sizes: expected two or more positive integers"),
    ("sizes mismatch", T + ["--sizes", "3,2,2"], 2,
     r"--sizes: expected sizes that start with 2 inputs and end with 2 targets for --data worked, got 3,2,2"),
    ("seed past 64 bits", T + ["--seed", str(2**63)], 2, r"--seed: expected an integer from -2\*\*63"),
    ("steps past 2**53", T + ["--steps", str(2**63 - 1), "--record-every", str(2**63 - 1)], 2,
     r"--steps: expected an integer from 1 to 2\*\*53 = 9007199254740992, got 9223372036854775807"),
    ("optimizer unknown", T + ["--optimizer", "rmsprop"], 2,
     r"--optimizer: expected one of sgd, momentum, adam, got 'rmsprop'"),
    ("momentum too big", T + ["--optimizer", "momentum", "--momentum", "1.5"], 2,
     r"--momentum: expected a number from 0 up to \(not including\) 1, got 1.5"),
    ("adam sequential", T + ["--optimizer", "adam", "--update", "sequential"], 2,
     r"--update: expected simultaneous with --optimizer adam"),
    ("both precisions", T + ["--float32", "--float64"], 2, r"--float64: expected at most one of"),
    ("unknown flag", T + ["--bogus"], 2, r"--bogus: expected an option listed by jbp train --help"),
    ("stray argument", T + ["extra"], 2, r"extra: expected an option listed by jbp train --help, got an "
                                         r"unexpected argument"),
    ("empty argument", T + [""], 2, r"'': expected an option listed by jbp train --help"),
    ("unknown command", ["fly"], 2, r"COMMAND: expected one of explain, train, ensemble, got 'fly'"),
    ("activation unknown", T + ["--activation", "swish"], 2, r"--activation: expected one of sigmoid, tanh"),
    ("init unknown", T + ["--init", "normal"], 2, r"--init: expected one of uniform, glorot, got 'normal'"),
    # data files
    ("csv missing", T + ["--data", "nope.csv", "--inputs", "a", "--targets", "out"], 2,
     r"--data: expected a readable CSV file, got nope.csv: No such file"),
    ("csv empty", T + ["--data", "empty.csv", "--inputs", "a", "--targets", "out"], 2,
     r"--data: expected a header row naming the columns, got an empty file empty.csv"),
    ("csv header only", T + ["--data", "header.csv", "--inputs", "a", "--targets", "out"], 2,
     r"--data: expected rows of data below the header of header.csv, got none"),
    ("csv text", T + ["--data", "text.csv", "--inputs", "a,b", "--targets", "out"], 2,
     r"--data: expected a number in text.csv line 2, column 'b', got 'x'"),
    ("csv nan", T + ["--data", "nan.csv", "--inputs", "a,b", "--targets", "out"], 2,
     r"--data: expected a finite number in nan.csv line 2, column 'b', got 'nan'"),
    ("csv inf", T + ["--data", "inf.csv", "--inputs", "a,b", "--targets", "out"], 2,
     r"--data: expected a finite number in inf.csv line 2, column 'out', got '-inf'"),
    ("csv ragged", T + ["--data", "ragged.csv", "--inputs", "a,b", "--targets", "out"], 2,
     r"--data: expected 3 fields as in the header on ragged.csv line 2, got 2"),
    ("csv blank cell", T + ["--data", "blank_cell.csv", "--inputs", "a,b", "--targets", "out"], 2,
     r"--data: expected a number in blank_cell.csv line 2, column 'b', got an empty cell"),
    ("csv not utf-8", T + ["--data", "latin1.csv", "--inputs", "a,b", "--targets", "out"], 2,
     r"--data: expected a UTF-8 CSV file, got latin1.csv"),
    ("csv is a folder", T + ["--data", "adir", "--inputs", "a", "--targets", "out"], 2,
     r"--data: expected a readable CSV file, got adir: Is a directory"),
    ("csv unknown column", T + ["--data", "good.csv", "--inputs", "a,c", "--targets", "out"], 2,
     r"--inputs: expected columns of good.csv \('a', 'b', 'out'\), got 'c', which it lacks"),
    ("csv no inputs", T + ["--data", "good.csv", "--targets", "out"], 2,
     r"--inputs: expected the input columns of good.csv, comma-separated, got none"),
    ("csv repeated column", T + ["--data", "good.csv", "--inputs", "a,a", "--targets", "out"], 2,
     r"--inputs: expected distinct column names, got \['a', 'a'\]"),
    ("csv target is an input", T + ["--data", "good.csv", "--inputs", "a,b", "--targets", "a"], 2,
     r"--targets: expected columns other than the inputs, got \['a'\] in both"),
    ("columns without a csv", T + ["--inputs", "a"], 2, r"--inputs: expected CSV column names with --data"),
    # outputs
    ("out is a file", T + ["--out", "afile"], 2, r"--out: expected a folder, got afile, which is a file"),
    ("out holds user files", T + ["--out", "mine", "--force"], 2,
     r"--out: expected a new or empty folder, or one of an earlier run, got mine, which holds notes.txt"),
    ("out earlier run", T + ["--out", "run"], 2, r"--out: expected a new or empty folder \(or --force to "
                                                 r"replace the earlier run\), got run"),
    ("out missing parent", T + ["--out", "a/b/run"], 2, r"--out: expected a path in an existing folder, got "
                                                        r"a/b/run"),
    ("out empty path", T + ["--out", ""], 2, r"--out: expected a path, got an empty one"),
    ("plot is a folder", T + ["--plot", "adir"], 2,
     r"--plot: expected a file name, got adir, which is a folder"),
    ("plot missing folder", T + ["--plot", "nodir/p.png"], 2,
     r"--plot: expected a path in an existing folder, got nodir/p.png"),
    ("plot exists", T + ["--plot", "loss.png"], 2,
     r"--plot: expected a new file \(or --force to replace it\), got loss.png, which exists"),
    ("plot same as out", T + ["--out", "new", "--plot", "new"], 2, r"--plot: expected a path other than "
                                                                   r"--out's, got new for both"),
    ("explain out exists", ["explain", "--out", "step.txt"], 2, r"--out: expected a new file \(or --force"),
    # explain and ensemble
    ("explain too big", ["explain", "--sizes", "2,17,2"], 2,
     r"--sizes: expected a network of at most 4 layers of at most 16 neurons"),
    ("explain names", ["explain", "--names", "worked", "--sizes", "2,3,2"], 2,
     r"--names: expected systematic \(or no --names\)"),
    ("explain too many examples", ["explain", "--data", "big.csv", "--inputs", "a,b", "--targets", "out"], 2,
     r"--data: expected at most 16 examples \(explain prints every example's terms\), got 17 in big.csv"),
    ("explain format", ["explain", "--format", "latex"], 2, r"--format: expected one of .*, got 'latex'"),
    ("ensemble rates", E + ["--learning-rates", "0.5,-1"], 2, r"--learning-rates: expected positive numbers"),
    ("ensemble both rates", E + ["--learning-rate", "0.5", "--learning-rates", "1,2"], 2,
     r"--learning-rates: expected either --learning-rate or --learning-rates, got both"),
    ("ensemble threshold", E + ["--threshold", "0"], 2,
     r"--threshold: expected a positive finite number, got 0"),
    ("ensemble n zero", E + ["--n", "0"], 2, r"--n: expected an integer >= 1, got 0"),
    ("data name a typo", T + ["--data", "xr"], 2,
     r"--data: expected worked, xor or a CSV file, got 'xr', which is neither a dataset nor a file"),
    ("out a symbolic link", T + ["--out", "link"], 2,
     r"--out: expected a folder, got link, which is a symbolic link \(to adir\); give the folder itself"),
    ("ensemble past memory", E + ["--n", str(10**12), "--out", "ens"], 2,
     r"--n: expected a population that fits in memory: 1000000000000 members of 2-2-2 with 6 records need "
     r"about \d+\.\d GiB, and this machine has \d+\.\d GiB available, got --n 1000000000000"),
]
LINKS = {"link": "adir"}  # symbolic links a case may start with


def setup(folder):
  for name, content in FILES.items():
    with open(folder / name, "wb" if isinstance(content, bytes) else "w") as f:
      f.write(content)
  for name, target in LINKS.items():
    os.symlink(target, folder / name)
  for name, files in DIRS.items():
    (folder / name).mkdir()
    for f, content in files.items():
      with open(folder / name / f, "wb" if isinstance(content, bytes) else "w") as g:
        g.write(content)


@pytest.fixture
def folder(tmp_path, monkeypatch):
  setup(tmp_path)
  monkeypatch.chdir(tmp_path)
  return tmp_path


@pytest.mark.parametrize("argv, status, message", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_command_line(folder, argv, status, message):
  before = snapshot(folder)
  rc, out, err = run_cli(argv)
  assert rc == status
  line = error_line(rc, err)
  assert re.search(r": error: " + message, line), line
  assert snapshot(folder) == before


def test_plot_without_matplotlib(folder, monkeypatch):
  for name in list(sys.modules):
    if name == "matplotlib" or name.startswith("matplotlib."):
      monkeypatch.delitem(sys.modules, name)
  monkeypatch.setitem(sys.modules, "matplotlib", None)
  before = snapshot(folder)
  rc, out, err = run_cli(T + ["--out", "new", "--plot", "new.png"])
  assert re.search(r"train: error: --plot: expected matplotlib to draw the figure, got none installed; "
                   r"install it with: pip install 'jbp\[plot\]'", error_line(rc, err))
  assert snapshot(folder) == before


def test_a_file_name_with_math_markup_is_plotted_literally(folder):
  """A name matplotlib would parse as math (``$\\foo{$``) once failed the whole run after training."""
  name = "$\\foo{$.csv"
  (folder / name).write_text(GOOD_CSV)
  rc, out, err = run_cli(T + ["--data", name, "--inputs", "a,b", "--targets", "out", "--sizes", "2,2,1",
                              "--plot", "p.png", "--out", "new"])
  assert rc == 0, err
  assert (folder / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert (folder / "new" / "params.npz").is_file()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_plot_where_nothing_can_be_created(folder):
  before = snapshot(folder)
  rc, out, err = run_cli(T + ["--out", "new", "--plot", "/proc/forbidden.png"])
  line = error_line(rc, err)
  assert re.search(r"--plot: expected a folder where files can be created, got /proc for "
                   r"/proc/forbidden.png \(", line), line
  assert snapshot(folder) == before


# --- the library ----------------------------------------------------------------------------------------

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
def test_library(tmp_path, make, call, error, message):
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


# --- signals --------------------------------------------------------------------------------------------


def stop_after_a_chunk(argv, cwd, sig):
  """Starts ``jbp``, sends ``sig`` once a chunk is done (the process's trace says so); returns (exit
  status, stderr's last line)."""
  from test_stopping import Proc, last_line

  proc = Proc(argv, cwd)
  assert proc.wait_for(r"chunk \d+"), proc.events()
  rc, _, err = proc.stop(sig)
  os.unlink(proc.trace)
  return rc, last_line(err)


SIGNAL_CASES = [
    ("SIGTERM to ensemble", ["ensemble", "--n", "100", "--steps", "50000000", "--out", "ens"], signal.SIGTERM,
     r"jbp ensemble: interrupted after (\d+) of 50000000 steps; the members' params and losses after \1 "
     r"steps are saved in ens \(summary.json says \"interrupted\": true\); continue with: jbp ensemble "
     r"--resume ens", ["ens"]),
    ("SIGINT to train without --out", ["train", "--steps", "100000000"], signal.SIGINT,
     r"jbp train: interrupted after \d+ of 100000000 steps \(E = .*\); nothing saved \(no --out or --plot\)",
     []),
    ("SIGTERM to train with --plot", ["train", "--steps", "100000000", "--plot", "loss.png"], signal.SIGTERM,
     r"jbp train: interrupted after (\d+) of 100000000 steps \(E = .*\); the figure of the first \1 steps is "
     r"saved in loss.png", ["loss.png"]),
]


@pytest.mark.parametrize("argv, sig, message, left", [c[1:] for c in SIGNAL_CASES],
                         ids=[c[0] for c in SIGNAL_CASES])
def test_signals(tmp_path, argv, sig, message, left):
  rc, last = stop_after_a_chunk(argv, tmp_path, sig)
  assert rc == 128 + sig  # 130 for SIGINT, 143 for SIGTERM
  assert re.fullmatch(message, last), last
  assert sorted(os.listdir(tmp_path)) == left  # the run so far, whole, and no temporaries


def test_the_sweep_has_forty_distinct_cases():
  cli = [c[0] for c in CLI_CASES] + ["plot without matplotlib", "plot where nothing can be created"]
  library, signals = [c[0] for c in LIB_CASES], [c[0] for c in SIGNAL_CASES]
  argvs = [tuple(c[1]) for c in CLI_CASES]
  assert len(set(argvs)) == len(argvs)  # no case repeated under another name
  for ids in (cli, library, signals):
    assert len(ids) == len(set(ids))
  assert len(ACCEPTED) == len(set(ACCEPTED))
  # the counts the module's docstring states
  assert (len(cli), len(library), len(signals), len(ACCEPTED)) == (62, 56, 3, 4)
  assert len(cli) + len(library) + len(signals) >= 40
