"""`jbp` with no command prints the worked example's figures table (and ``--json`` the same figures), run
in a subprocess as a user runs it."""

import json

from cli_support import jbp_cli


def test_jbp_alone_prints_the_worked_example_table():
  r = jbp_cli()
  assert r.returncode == 0, r.stderr
  assert "float64" in r.stdout
  for figure in ("0.751365069", "0.772928465", "0.298371109", "0.291027924", "0.000035085",
                 "0.015912196", "0.984065734", "0.291027774"):
    assert figure in r.stdout
  assert "sequential 7/7" in r.stdout and "simultaneous 3/7" in r.stdout


def test_jbp_json_gives_every_figure_and_its_match():
  r = jbp_cli("--json")
  assert r.returncode == 0, r.stderr
  data = json.loads(r.stdout)
  assert data["dtype"] == "float64"
  assert all(f["matches"]["sequential"] for f in data["figures"])
  after = {f["name"]: f for f in data["figures"]}["E after 1 update"]
  assert abs(after["values"]["simultaneous"] - 0.291027774) <= 1e-9




# --- One voice: one error format naming the flag typed, --version, help on every flag -----------------







