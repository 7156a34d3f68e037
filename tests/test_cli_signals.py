"""Ctrl-C, as a user sends it: a real SIGINT to a ``jbp`` process.

``jbp ensemble`` sizes its chunks from a measured first chunk so that one takes about a second: the
progress bar shows within 2 s, Ctrl-C is answered promptly, and what was done (the members' params
and losses after the last finished chunk) is saved as a complete run marked ``"interrupted": true``.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from cli_support import ENV


def start(argv, cwd):
  p = subprocess.Popen([sys.executable, "-m", "jbp", *argv], cwd=cwd, env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
  os.set_blocking(p.stderr.fileno(), False)
  return p


def wait_for(p, pattern, timeout):
  """Reads p's stderr until ``pattern`` shows (or ``timeout`` s pass); returns what was read."""
  seen, t0 = b"", time.monotonic()
  while not re.search(pattern, seen) and time.monotonic() - t0 < timeout and p.poll() is None:
    seen += p.stderr.read() or b""
    time.sleep(0.02)
  return seen


def test_ctrl_c_early_in_a_long_ensemble_saves_the_last_chunk(tmp_path):
  steps = 50_000_000  # hours of work: only Ctrl-C ends it
  p = start(["ensemble", "--n", "1000", "--steps", str(steps), "--out", "ens"], tmp_path)
  try:
    # The first chunks are small (they measure the speed), so steps are done within seconds of the start.
    seen = wait_for(p, rb"\b[1-9]\d*/%d" % steps, timeout=60)
    assert re.search(rb"\b[1-9]\d*/%d" % steps, seen), seen.decode(errors="replace")
    p.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    out, err = p.communicate(timeout=30)
    answered = time.monotonic() - t0
  finally:
    p.kill()
  err = (seen + err).decode()
  assert p.returncode == 130, err
  assert "Traceback" not in err
  last = err.replace("\r", "\n").strip().splitlines()[-1]
  m = re.fullmatch(rf"jbp ensemble: interrupted after (\d+) of {steps} steps; the members' params and losses "
                   r"after \1 steps are saved in ens \(summary.json says \"interrupted\": true\)", last)
  assert m, last
  done = int(m.group(1))
  assert 0 < done < steps
  # A chunk takes about a second and the wait polls: the answer comes in seconds, not after the chunk of
  # minutes it used to be. 10 s leaves room for a busy 2-core machine and the writing of the files.
  assert answered < 10, answered
  summary = json.loads((tmp_path / "ens" / "summary.json").read_text())
  assert summary["interrupted"] is True and summary["steps_done"] == done and summary["n"] == 1000
  with np.load(tmp_path / "ens" / "params.npz", allow_pickle=False) as z:
    assert z["w1"].shape == (1000, 2, 2) and z["b2"].shape == (1000,) and np.isfinite(z["w1"]).all()
  with np.load(tmp_path / "ens" / "losses.npz", allow_pickle=False) as z:
    assert z["losses"].shape[:2] == (1000, 1) and z["step"][-1] == done and z["step"][0] == 0
    assert np.all(np.diff(z["step"]) > 0) and np.isfinite(z["losses"]).all()
  assert sorted(os.listdir(tmp_path)) == ["ens"]  # no temporaries left


@pytest.mark.parametrize("per_step, left, record_every, want", [
    (1e-5, 10**9, 1000, 100_000),        # 1 s at 10 µs a step: a multiple of record_every
    (2e-5, 10**9, 500_000, 50_000),      # fewer steps than a record: a divisor of record_every
    (1e-3, 10**9, 1, 1000),
    (1e-5, 30_000, 1000, 30_000),        # never more than what is left
    (10.0, 10**9, 100, 1),               # slower than a second a step: one step at a time
    (10.0, 10**9, 7, 1),
])
def test_chunks_take_about_a_second(per_step, left, record_every, want):
  from jbp import _chunks

  got = _chunks.chunk_steps(per_step, left, record_every)
  assert got == want
  assert got % record_every == 0 or record_every % got == 0
