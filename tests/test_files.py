"""Files jbp reads and writes: CSV data, params files, and every write atomic, nothing lost, nothing trusted.

Reads: ``jbp.load_csv`` gives float64 arrays of the columns asked for, or a ValueError that names the
file, line and column; ``jbp.load_params`` reads only arrays (never a pickle), keeps the file's dtype
(float64 needs 64-bit mode, or ``dtype=``) and refuses a bad file with a ValueError that names it,
changing nothing on disk.

Writes: every file jbp writes goes to a temporary file in the same folder and is renamed into place,
an existing file is kept unless ``force``, and a write interrupted at any point (an exception in the
middle, or the writer killed with SIGKILL) leaves the old file or the complete new one.

Bad input tried (the test in brackets), how many cases each test tries, and the outcome expected:

=================================================== ===== =========================================
bad input (test)                                    cases outcome expected
=================================================== ===== =========================================
existing file, no force: save_npz, save_json,           5 FileExistsError; the file's bytes kept
save_params, plot_losses, atomic_write
(never_overwrites)
a file created while the write runs (appears_during)    1 FileExistsError; the other file kept
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
random bytes as a CSV (load_csv_fuzz_bytes)           200 arrays, or ValueError naming the file
CSV-like text: random or spoilt headers, cells with   200 finite float64 arrays of the right
blanks, text, NaN/inf, quotes, ragged rows, BOMs,         shapes, or ValueError naming the file
CRLF (load_csv_fuzz_structured)
=================================================== ===== =========================================

The fuzz tests use hypothesis with ``derandomize=True`` and bounded ``max_examples`` (the counts above),
so CI runs the same cases each time; the outcome of every example is counted with ``hypothesis.event``
(see ``pytest --hypothesis-show-statistics``). The same bad files through the command line are in
test_cli_input_errors.py.
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
import jax.numpy as jnp
import numpy as np
import pytest
from cli_support import ENV, ROOT, snapshot
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import jbp
from jbp import _data, _files
from jbp._files import save_json, save_npz
from jbp._show import plot as _plot

GOOD_CSV = "a,b,out\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"


def write(tmp_path, text, name="d.csv"):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def test_load_csv(tmp_path):
  path = write(tmp_path, " a , b ,out\n0,0.5,1e-3\n\n2,-1,4\n")
  x, y = jbp.load_csv(path, inputs=["b", "a"], targets="out")
  np.testing.assert_array_equal(x, [[0.5, 0], [-1, 2]])  # columns in the order asked for
  np.testing.assert_array_equal(y, [[1e-3], [4]])
  assert x.dtype == y.dtype == np.float64


@pytest.mark.parametrize("text, kw, match", [
    ("a,b,out\n0,,1\n", {}, r"data: expected a number in .*d.csv line 2, column 'b', got an empty cell"),
    ("a,b,out\n0,1,1\n0,x,1\n", {}, r"expected a number in .*d.csv line 3, column 'b', got 'x'"),
    ("a,b,out\n0,nan,1\n", {}, r"expected a finite number in .*d.csv line 2, column 'b', got 'nan'"),
    ("a,b,out\n0,1\n", {}, r"expected 3 fields as in the header on .*d.csv line 2, got 2"),
    ("a,c,out\n0,1,1\n", {}, r"inputs: expected columns of .*d.csv \('a', 'c', 'out'\), got 'b', which it "
                            r"lacks"),
    ("a,b,c\n0,1,1\n", {}, r"targets: expected columns of .*d.csv \('a', 'b', 'c'\), got 'out'"),
    ("", {}, r"data: expected a header row naming the columns, got an empty file .*d.csv"),
    ("a,b,out\n", {}, r"data: expected rows of data below the header of .*d.csv, got none"),
    (GOOD_CSV, dict(inputs="a,a"), r"inputs: expected distinct column names"),
    (GOOD_CSV, dict(targets="a"), r"targets: expected columns other than the inputs, got \['a'\]"),
    (GOOD_CSV, dict(inputs=""), r"inputs: expected one or more column names"),
])
def test_load_csv_rejects(tmp_path, text, kw, match):
  args = dict(inputs="a,b", targets="out")
  args.update(kw)
  with pytest.raises(ValueError, match=match):
    jbp.load_csv(write(tmp_path, text), **args)


def test_load_csv_missing_file(tmp_path):
  with pytest.raises(ValueError, match=r"data: expected a readable CSV file, got .*nope.csv: No such file"):
    jbp.load_csv(str(tmp_path / "nope.csv"), "a", "b")


def test_params_round_trip_without_pickle(tmp_path, ex64):
  path = str(tmp_path / "p.npz")
  jbp.save_params(path, ex64.params)
  with np.load(path, allow_pickle=False) as z:
    assert sorted(z.files) == ["b1", "b2", "w1", "w2"]
    assert all(z[k].dtype == np.float64 for k in z.files)
  back = jbp.load_params(path)
  for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(ex64.params)):
    np.testing.assert_array_equal(a, b)  # identical arrays, not merely close
  assert [p for p in os.listdir(tmp_path)] == ["p.npz"]  # no temporary file left behind


def test_existing_files_kept_unless_force(tmp_path):
  path = str(tmp_path / "s.json")
  save_json(path, {"v": 1})
  with pytest.raises(FileExistsError, match=r"expected a new file \(or force=True to replace it\), got "
                                            r".*s.json, which exists"):
    save_json(path, {"v": 2})
  assert open(path).read().strip().endswith("}") and '"v": 1' in open(path).read()
  save_json(path, {"v": 2}, force=True)
  assert '"v": 2' in open(path).read()


def test_object_arrays_are_refused(tmp_path):
  with pytest.raises(TypeError, match="holds Python objects"):
    save_npz(str(tmp_path / "o.npz"), {"a": np.array([{}, 1], dtype=object)})


def test_unwritable_paths(tmp_path):
  with pytest.raises(ValueError, match=r"expected a path in an existing folder, got .*s.json "
                                       r"\(.*missing does not exist\)"):
    save_json(str(tmp_path / "missing" / "s.json"), {})
  with pytest.raises(ValueError, match=r"expected a file name, got .*, which is a folder"):
    save_json(str(tmp_path), {})


@pytest.fixture
def saved64(tmp_path):
  """The worked example's params saved in float64 (64-bit mode on only while saving)."""
  path = str(tmp_path / "params.npz")
  with jax.enable_x64(True):
    jbp.save_params(path, jbp.worked_example(jnp.float64).params)
  return path


def test_float64_params_with_64_bit_mode_off_are_an_error_that_says_what_to_do(saved64):
  assert not jax.config.jax_enable_x64
  with pytest.raises(ValueError) as e:
    jbp.load_params(saved64)
  message = str(e.value)
  assert message.startswith(f"params: expected float32 arrays with 64-bit mode off, got float64 in {saved64}")
  assert 'jax.config.update("jax_enable_x64", True)' in message and "dtype=jnp.float32" in message


def test_load_params_dtype_converts_and_keeps_the_file_dtype_by_default(saved64):
  with jax.enable_x64(True):
    exact = jbp.load_params(saved64)
    want = jbp.worked_example(jnp.float64).params
  leaves = jax.tree_util.tree_leaves(exact)
  assert all(leaf.dtype == jnp.float64 and isinstance(leaf, jax.Array) for leaf in leaves)
  for a, b in zip(jax.tree_util.tree_leaves(exact), jax.tree_util.tree_leaves(want)):
    np.testing.assert_array_equal(a, b)
  f32 = jbp.load_params(saved64, dtype=jnp.float32)
  for a, b in zip(jax.tree_util.tree_leaves(f32), jax.tree_util.tree_leaves(want)):
    assert a.dtype == jnp.float32
    np.testing.assert_array_equal(a, np.asarray(b, np.float32))  # float64 rounded to float32, once
  _, losses = jbp.train(f32, jbp.worked_example().inputs, jbp.worked_example().targets, steps=2,
                        learning_rate=0.5)
  assert losses.dtype == jnp.float32


@pytest.mark.parametrize("arrays, match", [
    ({"w1": np.ones((2, 2), np.float32), "b1": np.zeros((), np.float64)},
     r"expected one floating dtype for every array, got float32 \(w1\) and float64 \(b1\) in .*; "
     r"pass dtype="),
    ({"w1": np.ones((2, 2), np.complex64), "b1": np.zeros((), np.complex64)},
     r"expected floating-point arrays .*, got complex64 \(w1\)"),
    ({"w1": np.ones((2, 3), np.float32), "b1": np.zeros((), np.float32), "w2": np.ones((2, 3), np.float32),
      "b2": np.zeros((), np.float32)}, r"params\[1\].w: expected 2 inputs"),
])
def test_load_params_refuses_mixed_or_unsupported_dtypes_and_shapes(tmp_path, arrays, match):
  path = str(tmp_path / "p.npz")
  np.savez(path, **arrays)
  with pytest.raises(ValueError, match=r"^params: .*" + match):
    jbp.load_params(path)


def test_params_of_an_earlier_version_still_load(tmp_path, ex64):
  # jbp 0.1.0 numbered layers from 0 (w0, b0, w1, b1); a file it saved loads as it was.
  path = str(tmp_path / "old.npz")
  np.savez(path, w0=np.asarray(ex64.params[0].w), b0=np.asarray(ex64.params[0].b),
           w1=np.asarray(ex64.params[1].w), b1=np.asarray(ex64.params[1].b))
  back = jbp.load_params(path)
  for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(ex64.params)):
    np.testing.assert_array_equal(a, b)


FUZZ = dict(derandomize=True, deadline=None, database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


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
