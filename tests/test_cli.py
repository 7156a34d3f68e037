"""The command line: the figures table in subprocesses as a user runs it, and the one way it speaks
(error format, --version, help) through ``jbp.cli.main`` in this process."""

import json
import os
import subprocess
import sys

import pytest
from cli_support import error_line, run_cli


def jbp_cli(*args, timeout=300):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  return subprocess.run([sys.executable, "-m", "jbp", *args], capture_output=True, text=True,
                        timeout=timeout, env=env)


def test_jbp_alone_prints_the_worked_example_table():
  r = jbp_cli()
  assert r.returncode == 0, r.stderr
  assert "float64" in r.stdout
  for figure in ("0.751365069", "0.772928465", "0.298371109", "0.291027924", "0.000035085",
                 "0.015912196", "0.984065734", "0.291027774"):
    assert figure in r.stdout
  assert "sequential 7/7" in r.stdout and "simultaneous 3/7" in r.stdout


def test_jbp_json():
  r = jbp_cli("--json")
  assert r.returncode == 0, r.stderr
  data = json.loads(r.stdout)
  assert data["dtype"] == "float64"
  assert all(f["matches"]["sequential"] for f in data["figures"])
  after = {f["name"]: f for f in data["figures"]}["E after 1 update"]
  assert abs(after["values"]["simultaneous"] - 0.291027774) <= 1e-9


@pytest.mark.parametrize("args", [["--bogus"], ["--float32", "extra"], ["nosuchcommand"]])
def test_bad_arguments_exit_2_with_one_line_and_no_traceback(args):
  r = jbp_cli(*args)
  assert r.returncode == 2
  assert "Traceback" not in r.stderr
  assert len(r.stderr.strip().splitlines()) == 1, r.stderr
  assert r.stderr.startswith("jbp")


# --- One voice: one error format naming the flag typed, --version, help on every flag -----------------



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


def test_version():
  import jbp

  rc, out, err = run_cli(["--version"])
  assert rc == 0 and out.strip() == f"jbp {jbp.__version__}"
  from importlib.metadata import version

  assert jbp.__version__ == version("jbp")  # one version, in one place


def test_every_flag_has_help():
  import argparse

  from jbp.cli import build_parser

  parsers, seen = [build_parser()], 0
  while parsers:
    p = parsers.pop()
    for action in p._actions:
      if isinstance(action, argparse._SubParsersAction):
        parsers += list(action.choices.values())
      if action.option_strings:
        assert action.help and action.help != argparse.SUPPRESS, (p.prog, action.option_strings)
        seen += 1
  assert seen >= 60
