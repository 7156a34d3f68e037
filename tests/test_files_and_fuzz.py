"""Hostile files and hostile command lines: nothing lost, nothing trusted, no traceback.

Files: every file jbp writes goes to a temporary file in the same folder and is renamed into place,
an existing file is kept unless ``force``, a write interrupted at any point (an exception in the
middle, or the writer killed with SIGKILL) leaves the old file or the complete new one, and a bad
file is refused with a ValueError that names it, changing nothing on disk.

Fuzz: random argument lists for ``jbp.cli.main`` and random CSV bytes for ``jbp.load_csv``
(hypothesis, ``derandomize=True`` and bounded ``max_examples``, so CI runs the same cases each time).

Bad input tried (the test in brackets), how many cases each test tries, and the outcome expected:

=================================================== ===== =========================================
bad input (test)                                    cases outcome expected
=================================================== ===== =========================================
existing file, no force: save_npz, save_json,           5 FileExistsError; the file's bytes kept
save_params, plot_losses, atomic_write
(never_overwrites)
a file created while the write runs (appears_during)    1 FileExistsError; the other file kept
``train --out``/``explain --out`` twice                 2 exit 2, one line, first results kept;
(cli_out_twice)                                           with --force: every file replaced
every writer: temporary + rename (writes_go_through)    5 one os.replace of a complete hidden temp
write raising mid-way: RuntimeError, OSError,           6 the old file byte for byte, or none;
KeyboardInterrupt; old file or none (raising_midway)      no temporary left
writer SIGKILLed half-way through 16 MB                 1 the old file; the stale temporary is
(sigkill_mid_write)                                       hidden, refused as params, and harmless
writer SIGKILLed while replacing a 4 MB file again      1 one complete version, no mix
and again (sigkill_at_random_moments)
bad params file: empty, truncated (3), CSV, JSON,      15 ValueError naming the file; the folder
random bytes, zips, missing key, no arrays, pickled       unchanged
object array, strings, .npy, a folder (load_params)
bad CSV: empty, blank, header only, missing column     12 ValueError naming the file (and line and
or value, text, NaN, inf, 1e999, ragged row, not          column); the file unchanged
UTF-8, an npz (load_csv_refuses)
a CSV with a byte-order mark (load_csv_reads_a_bom)     1 the same arrays as without
bad CSV through ``train --data`` (cli_refuses)          4 exit 2, one line naming the file
--seed past 64 bits (cli_refuses_a_seed)                3 exit 2, one line (2**63 - 1 runs)
random argv: real flags with good, garbage or         300 exit 0 with output, or exit 2 with one
missing values, switches, random tokens                   line on stderr; never a traceback
(cli_argv_fuzz, hypothesis)                               (130 only for Ctrl-C, not fuzzed)
random bytes as a CSV (load_csv_fuzz_bytes)           200 arrays, or ValueError naming the file
CSV-like text: random or spoilt headers, cells with   200 finite float64 arrays of the right
blanks, text, NaN/inf, quotes, ragged rows, BOMs,         shapes, or ValueError naming the file
CRLF (load_csv_fuzz_structured)
the same texts through ``train --data`` (cli_csv)      30 exit 0 with a result, or exit 2, one line
=================================================== ===== =========================================

The hypothesis counts are the ``max_examples`` bounds; the outcome of every example is counted with
``hypothesis.event`` (see ``pytest --hypothesis-show-statistics``).
"""

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

import jax
import numpy as np
import pytest
from cli_support import ENV, ROOT, error_line, run_cli, snapshot
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import jbp
from jbp import _data, _files
from jbp._show import plot as _plot

FUZZ = dict(derandomize=True, deadline=None, database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------- writes


WRITERS = {
    "save_npz": lambda path, force: _files.save_npz(path, {"a": np.arange(3.0)}, force=force),
    "save_json": lambda path, force: _files.save_json(path, {"v": 2}, force=force),
    "save_params": lambda path, force: _data.save_params(path, jbp.worked_example(np.float32).params,
                                                         force=force),
    "atomic_write": lambda path, force: _files.atomic_write(path, lambda f: f.write(b"new"), force=force),
    "plot_losses": lambda path, force: _plot.plot_losses({"sgd": (np.arange(3), np.ones(3))}, path,
                                                         force=force),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_writes_go_through_a_temporary_and_a_rename(tmp_path, monkeypatch, writer):
  path = str(tmp_path / "target")
  with open(path, "wb") as f:
    f.write(b"old")
  renames = []
  real = os.replace

  def spy(src, dst):
    # At the moment of the rename the target still holds the old bytes and the new file is complete
    # under a hidden temporary name in the same folder.
    assert open(dst, "rb").read() == b"old"
    renames.append((os.path.dirname(os.path.abspath(src)), os.path.basename(src), os.path.getsize(src)))
    real(src, dst)

  monkeypatch.setattr(os, "replace", spy)
  WRITERS[writer](path, True)
  assert len(renames) == 1
  folder, name, size = renames[0]
  assert folder == str(tmp_path) and name.startswith(".target.") and name.endswith(".tmp")
  assert size == os.path.getsize(path) > 0
  assert os.listdir(tmp_path) == ["target"]  # the temporary was renamed, not copied


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_never_overwrites_without_force(tmp_path, writer):
  path = str(tmp_path / "target")
  with open(path, "wb") as f:
    f.write(b"old")
  with pytest.raises(FileExistsError, match=r"got .*target, which exists"):
    WRITERS[writer](path, False)
  assert snapshot(tmp_path) == {"target": b"old"}
  WRITERS[writer](path, True)
  assert open(path, "rb").read() != b"old" and os.listdir(tmp_path) == ["target"]


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt(), OSError(28, "No space")])
@pytest.mark.parametrize("existed", [True, False])
def test_write_raising_midway(tmp_path, error, existed):
  path = str(tmp_path / "target.npz")
  if existed:
    _files.save_npz(path, {"a": np.zeros(4)})
  before = snapshot(tmp_path)

  def fails(f):
    f.write(b"PK\x03\x04 half of a file")
    raise error

  with pytest.raises(type(error)):
    _files.atomic_write(path, fails, force=True)
  assert snapshot(tmp_path) == before  # the old file, byte for byte, or still no file; no temporary
  if existed:
    np.testing.assert_array_equal(np.load(path)["a"], np.zeros(4))


def test_a_file_that_appears_during_the_write_is_kept(tmp_path):
  path = str(tmp_path / "target")

  def racing(f):  # another program creates the target while we write
    f.write(b"ours")
    with open(path, "wb") as g:
      g.write(b"theirs")

  with pytest.raises(FileExistsError, match="which exists"):
    _files.atomic_write(path, racing)
  assert snapshot(tmp_path) == {"target": b"theirs"}


# A writer that saves ~16 MB through atomic_write in 1 MB pieces, says when it is half-way, then
# waits to be killed.
MIDWAY_WRITER = r"""
import sys, time
from jbp import _data, _files
from jbp._show import plot as _plot
def write(f):
  for k in range(16):
    f.write(bytes([k + 1]) * 2**20)
    if k == 8:
      f.flush()
      print("half", flush=True)
      time.sleep(60)
_files.atomic_write(sys.argv[1], write, force=True)
"""

# A writer that replaces one params file with version k = 0, 1, 2, ... (every array filled with k),
# as fast as it can, saying after each.
LOOP_WRITER = r"""
import sys
import numpy as np
from jbp import _data, Layer
k = 0
while True:
  big = np.full((1024, 1024), float(k), np.float32)  # 4 MB: long enough that a kill often lands mid-write
  _data.save_params(sys.argv[1], (Layer(big, np.full((1024,), float(k), np.float32)),), force=True)
  print(k, flush=True)
  k += 1
"""


def start(script, path):
  return subprocess.Popen([sys.executable, "-c", script, path], stdout=subprocess.PIPE, text=True, env=ENV,
                          cwd=ROOT)


def test_sigkill_mid_write(tmp_path):
  path = str(tmp_path / "params.npz")
  old = jbp.worked_example(np.float32).params
  _data.save_params(path, old)
  before = open(path, "rb").read()
  proc = start(MIDWAY_WRITER, path)
  try:
    assert proc.stdout.readline().strip() == "half"
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
  assert open(path, "rb").read() == before  # the target is the old file, byte for byte
  stale = [n for n in os.listdir(tmp_path) if n != "params.npz"]
  # SIGKILL leaves no chance to clean up: the half-written temporary stays, under a hidden name that
  # no reader asks for.
  assert len(stale) == 1 and stale[0].startswith(".params.npz.") and stale[0].endswith(".tmp"), stale
  back = jbp.load_params(path)
  for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(old)):
    np.testing.assert_array_equal(a, b)
  # A later write is not confused by the stale temporary: it writes its own and the result is complete.
  new = tuple(jbp.Layer(p.w + 1, p.b) for p in old)
  _data.save_params(path, new, force=True)
  np.testing.assert_array_equal(jbp.load_params(path)[0].w, np.asarray(new[0].w))
  assert stale[0] in os.listdir(tmp_path) and len(os.listdir(tmp_path)) == 2
  with pytest.raises(ValueError, match=r"^path: expected a \.npz file of arrays .*, got .*\.tmp"):  # refused
    jbp.load_params(os.path.join(tmp_path, stale[0]))


def test_sigkill_at_random_moments(tmp_path):
  path = str(tmp_path / "params.npz")
  proc = start(LOOP_WRITER, path)
  seen = []
  try:
    while len(seen) < 3:  # a few complete writes, then a kill 0 to 20 ms later (seeded: reproducible)
      seen.append(int(proc.stdout.readline()))
    time.sleep(np.random.default_rng(0).uniform(0, 0.02))
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
  (layer,) = jbp.load_params(path)  # complete: it loads, with every array intact
  assert layer.w.shape == (1024, 1024) and layer.b.shape == (1024,)
  k = layer.w[0, 0]
  assert k >= seen[-1] and (layer.w == k).all() and (layer.b == k).all()  # one version, whole
  stale = [n for n in os.listdir(tmp_path) if n != "params.npz"]
  assert all(n.startswith(".params.npz.") and n.endswith(".tmp") for n in stale) and len(stale) <= 1


@pytest.mark.parametrize("command", [
    ["train", "--steps", "{steps}", "--no-progress", "--out", "{dir}"],
    ["explain", "--step", "{steps}", "--out", "{dir}.txt"],
])
def test_cli_out_twice(tmp_path, command):
  def argv(steps, *extra):
    return [a.format(steps=steps, dir=tmp_path / "run") for a in command] + list(extra)

  rc, out, err = run_cli(argv(2))
  assert rc == 0, err
  first = snapshot(tmp_path)
  assert first and all(v for v in first.values() if v is not None)
  rc, out, err = run_cli(argv(3))
  assert "(or --force to replace" in error_line(rc, err)
  assert snapshot(tmp_path) == first  # the first results, untouched
  rc, out, err = run_cli(argv(3, "--force"))
  assert rc == 0, err
  second = snapshot(tmp_path)
  assert second.keys() == first.keys()
  assert all(first[k] != second[k] for k in first if first[k] is not None)  # 3 steps, not 2: all replaced


# ---------------------------------------------------------------------------------------------- reads


def _npz(arrays, **kw):
  buf = io.BytesIO()
  np.savez(buf, **arrays, **kw)
  return buf.getvalue()


def _zip(members):
  buf = io.BytesIO()
  with zipfile.ZipFile(buf, "w") as z:
    for name, data in members.items():
      z.writestr(name, data)
  return buf.getvalue()


GOOD = _npz({"w0": np.ones((2, 2)), "b0": np.zeros(2)})
NPY = io.BytesIO()
np.save(NPY, np.ones(3))

BAD_PARAMS = {
    "empty": b"",
    "truncated to 10 bytes": GOOD[:10],
    "truncated to half": GOOD[:len(GOOD) // 2],
    "truncated by 1 byte": GOOD[:-1],
    "a CSV renamed .npz": b"a,b,out\n0,0,0\n",
    "JSON renamed .npz": json.dumps({"w0": [[1.0]]}).encode(),
    "random bytes": bytes(range(256)) * 4,
    "a zip of text files": _zip({"readme.txt": "hello"}),
    "a zip member named like an array": _zip({"w0.npy": "not an array", "b0.npy": "x"}),
    "an npz missing b0": _npz({"w0": np.ones((2, 2))}),
    "an npz with no arrays": _npz({}),
    "an npz holding a pickled object array": _npz({"w0": np.array([{"x": 1}, None], dtype=object),
                                                   "b0": np.zeros(2)}, allow_pickle=True),
    "a .npy renamed .npz": NPY.getvalue(),
    "an npz of strings": _npz({"w0": np.array(["1", "2"]), "b0": np.zeros(2)}),
    "a folder": None,
}


@pytest.mark.parametrize("kind", sorted(BAD_PARAMS))
def test_load_params_refuses(tmp_path, kind):
  path = str(tmp_path / "params.npz")
  if BAD_PARAMS[kind] is None:
    os.mkdir(path)
  else:
    with open(path, "wb") as f:
      f.write(BAD_PARAMS[kind])
  before = snapshot(tmp_path)
  with pytest.raises(ValueError) as e:
    jbp.load_params(path)
  # path: the file is no .npz; params: its arrays are not params. NumPy's advice on pickles is never repeated.
  assert path in str(e.value) and str(e.value).startswith(("params: ", "path: "))
  assert "allow_pickle" not in str(e.value)
  assert snapshot(tmp_path) == before and os.listdir(tmp_path) == ["params.npz"]


BAD_CSV = {
    "empty": (b"", "got an empty file"),
    "only blank lines": (b"\n\n  \n", "got an empty file|got 'a', 'b', which it lacks"),
    "header only": (b"a,b,out\n", "expected rows of data below the header"),
    "a missing column": (b"a,out\n1,2\n", "got 'b', which it lacks"),
    "a missing value": (b"a,b,out\n1,,0\n", "got an empty cell"),
    "text in a number": (b"a,b,out\n1,x,0\n", "expected a number"),
    "NaN": (b"a,b,out\n1,nan,0\n", "finite"),
    "inf": (b"a,b,out\n1,2,-inf\n", "finite"),
    "overflow to inf": (b"a,b,out\n1,1e999,0\n", "finite"),
    "a ragged row": (b"a,b,out\n1,2\n", "expected 3 fields"),
    "not UTF-8": (b"a,b,out\n\xff\xfe,1,0\n", "expected a UTF-8 CSV file"),
    "an npz renamed .csv": (GOOD, "expected a UTF-8 CSV file|which it lacks"),
}


@pytest.mark.parametrize("kind", sorted(BAD_CSV))
def test_load_csv_refuses(tmp_path, kind):
  data, match = BAD_CSV[kind]
  path = str(tmp_path / "d.csv")
  with open(path, "wb") as f:
    f.write(data)
  with pytest.raises(ValueError, match=match) as e:
    jbp.load_csv(path, "a,b", "out")
  assert path in str(e.value)
  assert snapshot(tmp_path) == {"d.csv": data}


def test_load_csv_reads_a_bom():
  # Spreadsheets save "CSV UTF-8" with a byte-order mark; it is not part of the first column's name.
  with tempfile.TemporaryDirectory() as d:
    plain, bom = os.path.join(d, "plain.csv"), os.path.join(d, "bom.csv")
    text = "a,b,out\n0,1,1\n1,1,0\n"
    open(plain, "w").write(text)
    open(bom, "wb").write(b"\xef\xbb\xbf" + text.encode())
    for a, b in zip(jbp.load_csv(plain, "a,b", "out"), jbp.load_csv(bom, "a,b", "out")):
      np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["empty", "text in a number", "an npz renamed .csv", "a ragged row"])
def test_cli_refuses_bad_csv(tmp_path, kind):
  path = str(tmp_path / "d.csv")
  with open(path, "wb") as f:
    f.write(BAD_CSV[kind][0])
  rc, out, err = run_cli(["train", "--data", path, "--inputs", "a,b", "--targets", "out", "--steps", "1",
                          "--no-progress", "--out", str(tmp_path / "run")])
  error_line(rc, err)
  assert path in err and out == ""
  assert sorted(os.listdir(tmp_path)) == ["d.csv"]  # no run folder, no temporaries


def test_cli_refuses_a_seed_past_64_bits():
  # jax.random.key takes a 64-bit signed integer: a larger --seed was an OverflowError and a traceback.
  for seed in (str(2**63), str(-2**63 - 1)):
    rc, out, err = run_cli(["ensemble", "--n", "2", "--steps", "1", "--no-progress", "--seed", seed])
    error_line(rc, err)
    assert "--seed" in err and seed in err
  rc, out, err = run_cli(["ensemble", "--n", "2", "--steps", "1", "--no-progress", "--seed", str(2**63 - 1)])
  assert rc == 0, err


# ---------------------------------------------------------------------------------------------- fuzz

GOOD_CSV = "a,b,out\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"
SMALL_INT = st.integers(-2, 3).map(str)
# Values that parse as numbers but would make a run long (1e3, 0x10, 1_0 steps) are left out of --steps and
# --n; LONG is an integer past Python's 4300-digit conversion limit.
LONG = "1" * 5000
SAFE_GARBAGE = ["", " ", "-1", "0", "nan", "inf", "-inf", "x", "1,2", "2,,1", "--", "\x00", "é", LONG,
                str(2**64), str(-2**63 - 1)]
GARBAGE = st.sampled_from(SAFE_GARBAGE + ["1e3", "0x10", "1_0"])
PATHS = st.sampled_from(["good.csv", "bad.csv", "missing.csv", "/nonexistent/d/x", ".", "", "o", "f.txt",
                         "out.png", "a file with spaces"])
SIZES = st.lists(st.integers(-1, 4), min_size=0, max_size=4).map(lambda v: ",".join(map(str, v)))
VALUES = {
    "--data": st.one_of(st.sampled_from(["worked", "xor", "good.csv", "bad.csv", "missing.csv"]), GARBAGE),
    "--inputs": st.sampled_from(["a,b", "a", "b,a", "zz", "", "a,a", "out"]),
    "--targets": st.sampled_from(["out", "a", "", "out,out", "q"]),
    "--sizes": st.one_of(SIZES, GARBAGE),
    "--seed": st.one_of(SMALL_INT, GARBAGE),
    "--init": st.one_of(st.sampled_from(["uniform", "glorot"]), GARBAGE),
    "--activation": st.one_of(st.sampled_from(["sigmoid", "tanh", "relu", "identity"]), GARBAGE),
    "--learning-rate": st.one_of(st.sampled_from(["0.5", "0", "-1", "1e308"]), GARBAGE),
    "--lr": st.one_of(st.sampled_from(["0.1", "2"]), GARBAGE),
    "--update": st.one_of(st.sampled_from(["simultaneous", "sequential"]), GARBAGE),
    "--trainable": st.one_of(st.sampled_from(["weights", "all"]), GARBAGE),
    "--format": st.one_of(st.sampled_from(["text", "markdown", "json"]), GARBAGE),
    "--step": st.one_of(SMALL_INT, GARBAGE),
    "--names": st.one_of(st.sampled_from(["worked", "systematic"]), GARBAGE),
    "--out": PATHS,
    "--steps": st.one_of(SMALL_INT, st.sampled_from(SAFE_GARBAGE)),
    "--optimizer": st.one_of(st.sampled_from(["sgd", "momentum", "adam"]), GARBAGE),
    "--momentum": st.one_of(st.sampled_from(["0.9", "0"]), GARBAGE),
    "--record-every": st.one_of(SMALL_INT, GARBAGE),
    "--plot": st.sampled_from(["/nonexistent/d/p.png", ".", "f.txt", ""]),
    "--n": st.one_of(SMALL_INT, st.sampled_from([g for g in SAFE_GARBAGE if g != LONG])),
    "--learning-rates": st.one_of(st.sampled_from(["0.1,0.5", "0.5", "0,1", "1,,2"]), GARBAGE),
    "--threshold": st.one_of(st.sampled_from(["0.001", "0", "-1"]), GARBAGE),
}
SWITCHES = ["--json", "--float32", "--float64", "--force", "--no-progress", "-h", "--help"]
OPTION = st.one_of(
    st.sampled_from(sorted(VALUES)).flatmap(lambda k: st.tuples(st.just(k), VALUES[k])).map(list),
    st.sampled_from(SWITCHES).map(lambda s: [s]),
    st.text(max_size=8).map(lambda s: [s]),  # a random token
    st.sampled_from(sorted(VALUES)).map(lambda k: [k]),  # a flag with its value missing
)


@st.composite
def argvs(draw):
  command = draw(st.sampled_from([[], ["explain"], ["train"], ["ensemble"], ["help"], ["--json"]]))
  argv = command + [t for opt in draw(st.lists(OPTION, max_size=5)) for t in opt]
  # Small runs only: steps and population sizes come first, so a later random value overrides them only
  # with a value drawn from the small ones above.
  if command and command[0] in ("train", "ensemble"):
    argv[1:1] = ["--steps", "2", "--no-progress"] + (["--n", "2"] if command[0] == "ensemble" else [])
  return argv


@pytest.fixture
def scratch(monkeypatch):
  """A working folder with a good CSV, a bad one and a plain file, for relative paths in argv."""
  with tempfile.TemporaryDirectory() as d:
    open(os.path.join(d, "good.csv"), "w").write(GOOD_CSV)
    open(os.path.join(d, "bad.csv"), "wb").write(b"a,b,out\n1,\xff,2\n")
    open(os.path.join(d, "f.txt"), "w").write("a plain file")
    monkeypatch.chdir(d)
    yield d


@settings(max_examples=300, **FUZZ)
@given(argv=argvs())
def test_cli_argv_fuzz(scratch, argv):
  rc, out, err = run_cli(argv)  # an uncaught exception fails the test here, with argv shown
  event(f"exit {rc}")
  assert "Traceback" not in out + err
  if rc == 0:
    assert out or "--out" in argv, (argv, err)  # a result: printed, or written to --out
  else:
    error_line(rc, err)


def _check_csv_outcome(path, inputs, targets):
  try:
    x, y = jbp.load_csv(path, inputs, targets)
  except ValueError as e:
    assert path in str(e), e
    event("ValueError naming the file")
    return
  event("arrays")
  assert x.dtype == y.dtype == np.float64 and x.shape[0] == y.shape[0] >= 1
  assert x.shape[1] == len(inputs.split(",")) and y.shape[1] == len(targets.split(","))
  assert np.isfinite(x).all() and np.isfinite(y).all()


@settings(max_examples=200, **FUZZ)
@given(data=st.binary(max_size=200), header=st.booleans())
def test_load_csv_fuzz_bytes(data, header):
  with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "d.csv")
    with open(path, "wb") as f:
      f.write(b"a,b,out\n" + data if header else data)  # with a good header, the bytes reach the rows
    _check_csv_outcome(path, "a,b", "out")
    assert os.listdir(d) == ["d.csv"]


CELL = st.one_of(st.integers(-5, 5).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                 st.sampled_from(["", " ", "nan", "NaN", "inf", "-Infinity", "1e999", "x", "1,5", '"2"',
                                  " 3 ", "1_0", "\t", "é", "0x1", '"a\nb"']),
                 st.text(max_size=4))
HEADER = st.lists(st.sampled_from(["a", "b", "out", " a ", "c", "", "A", "out "]), min_size=0, max_size=5)


@st.composite
def csv_texts(draw):
  """CSV text: a random header and cells, or a good table with at most one cell, row or header spoilt."""
  if draw(st.booleans()):
    header = draw(HEADER)
    width = draw(st.sampled_from([len(header), len(header), max(len(header) - 1, 0), len(header) + 1]))
    rows = draw(st.lists(st.lists(CELL, min_size=width, max_size=width), max_size=6))
  else:
    header = draw(st.permutations(["a", "b", "out"]))
    rows = draw(st.lists(st.lists(st.integers(-3, 3).map(str), min_size=3, max_size=3), min_size=1,
                         max_size=6))
    spoil = draw(st.sampled_from(["nothing", "nothing", "cell", "row", "header"]))
    if spoil == "cell":
      rows[draw(st.integers(0, len(rows) - 1))][draw(st.integers(0, 2))] = draw(CELL)
    elif spoil == "row":
      rows.insert(draw(st.integers(0, len(rows))), draw(st.lists(CELL, max_size=5)))
    elif spoil == "header":
      header = draw(HEADER)
  sep = draw(st.sampled_from(["\n", "\r\n"]))
  text = sep.join(",".join(r) for r in [header] + rows) + draw(st.sampled_from(["", sep, sep * 3]))
  bom = draw(st.sampled_from(["", "", "\ufeff"]))
  return bom + text


@settings(max_examples=200, **FUZZ)
@given(text=csv_texts())
def test_load_csv_fuzz_structured(text):
  with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "d.csv")
    with open(path, "w", encoding="utf-8", newline="") as f:
      f.write(text)
    _check_csv_outcome(path, "a,b", "out")


@settings(max_examples=30, **FUZZ)
@given(text=csv_texts(), float32=st.booleans())
def test_cli_csv_fuzz(scratch, text, float32):
  open("fuzz.csv", "w", encoding="utf-8", newline="").write(text)
  rc, out, err = run_cli(["train", "--data", "fuzz.csv", "--inputs", "a,b", "--targets", "out", "--steps",
                          "1", "--sizes", "2,2,1", "--no-progress"] + (["--float32"] if float32 else []))
  event(f"exit {rc}")
  if rc == 0:
    assert out.startswith("trained a 2-2-1 sigmoid network on fuzz.csv"), out
  else:
    error_line(rc, err)
    assert "fuzz.csv" in err
