"""The command line's bad input: exit status 2 and one line in the one format, naming the flag typed,
``jbp <subcommand>: error: <flag>: expected ..., got ...``, before any work, with no traceback and no
file changed.

``CLI_CASES`` is the command-line part of the hostile-input sweep (counted in test_input_errors.py): 60
bad flags, data files and outputs, each run in a folder of its own (``FILES``, ``DIRS``, ``LINKS``) whose
contents must be the same afterwards, hidden files included; a missing matplotlib and a plot where
nothing can be created are the other 2 of its 62. The cases run ``jbp.cli.main`` in this process; a few
run ``python -m jbp`` as a user does.

Fuzz (hypothesis, ``derandomize=True`` and bounded ``max_examples``, so CI runs the same cases each time):

=================================================== ===== =========================================
bad input (test)                                    cases outcome expected
=================================================== ===== =========================================
bad CSV through ``train --data`` (cli_refuses)          4 exit 2, one line naming the file
--seed past 64 bits (cli_refuses_a_seed)                3 exit 2, one line (2**63 - 1 runs)
random argv: real flags with good, garbage or         300 exit 0 with output, or exit 2 with one
missing values, switches, random tokens                   line on stderr; never a traceback
(cli_argv_fuzz, hypothesis)                               (130 only for Ctrl-C, not fuzzed)
CSV-like texts through ``train --data`` (cli_csv)      30 exit 0 with a result, or exit 2, one line
=================================================== ===== =========================================
"""

import os
import re
import sys
import tempfile

import pytest
from cli_support import error_line, jbp_cli, run_cli, snapshot
from hypothesis import event, given, settings
from hypothesis import strategies as st
from test_files import BAD_CSV, FUZZ, csv_texts

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
def test_each_bad_command_line_exits_2_in_one_line_and_changes_no_file(folder, argv, status, message):
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


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_plot_where_nothing_can_be_created(folder):
  before = snapshot(folder)
  rc, out, err = run_cli(T + ["--out", "new", "--plot", "/proc/forbidden.png"])
  line = error_line(rc, err)
  assert re.search(r"--plot: expected a folder where files can be created, got /proc for "
                   r"/proc/forbidden.png \(", line), line
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


@pytest.mark.parametrize("argv, line", [
    (["train", "--steps", "0"], "jbp train: error: --steps: expected an integer >= 1, got 0"),
    (["train", "--learning-rate", "-1"],
     "jbp train: error: --learning-rate: expected a positive finite number, got -1"),
    (["train", "--lr", "nan"], "jbp train: error: --lr: expected a positive finite number, got nan"),
    (["explain", "--data", "xor", "--sizes", "3,2,1"],
     "jbp explain: error: --sizes: expected sizes that start with 2 inputs and end with 1 target for "
     "--data xor, got 3,2,1"),
    (["train", "--optimizer", "rmsprop"],
     "jbp train: error: --optimizer: expected one of sgd, momentum, adam, got 'rmsprop'"),
    (["train", "--steps"], "jbp train: error: --steps: expected a value, got none"),
    (["train", "--float32", "--float64"],
     "jbp train: error: --float64: expected at most one of --float64 and --float32, got both"),
    (["nosuchcommand"], "jbp: error: COMMAND: expected one of explain, train, ensemble, got 'nosuchcommand'"),
    (["train", "--bogus"], "jbp train: error: --bogus: expected an option listed by jbp train --help, "
                           "got an unknown one"),
    (["train", "--step", "5"], "jbp train: error: --step: expected an option listed by jbp train --help, "
                               "got an unknown one"),  # no abbreviations: --step is explain's, not --steps
    (["ensemble", "--learning-rate", "0.5", "--learning-rates", "1,2"],
     "jbp ensemble: error: --learning-rates: expected either --learning-rate or --learning-rates, got both"),
])
def test_every_error_has_one_format_and_names_the_flag_typed(argv, line):
  rc, out, err = run_cli(argv)
  assert error_line(rc, err) == line


@pytest.mark.parametrize("args", [["--bogus"], ["--float32", "extra"], ["nosuchcommand"]])
def test_bad_arguments_exit_2_with_one_line_and_no_traceback(args):
  r = jbp_cli(*args)
  assert r.returncode == 2
  assert "Traceback" not in r.stderr
  assert len(r.stderr.strip().splitlines()) == 1, r.stderr
  assert r.stderr.startswith("jbp")


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
