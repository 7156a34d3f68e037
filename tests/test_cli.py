"""The command line, run in subprocesses as a user runs it."""

import json
import os
import subprocess
import sys

import pytest


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
