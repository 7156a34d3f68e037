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

import os
import tempfile

import pytest
from cli_support import error_line, run_cli, snapshot
from hypothesis import event, given, settings
from hypothesis import strategies as st
from test_files import BAD_CSV, FUZZ, csv_texts

# ---------------------------------------------------------------------------------------------- writes





















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
