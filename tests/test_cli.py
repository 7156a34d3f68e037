"""The command line: the figures table in subprocesses as a user runs it, and the one way it speaks
(error format, --version, help) through ``jbp.cli.main`` in this process."""

import json

from cli_support import jbp_cli, run_cli


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




# --- One voice: one error format naming the flag typed, --version, help on every flag -----------------





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
