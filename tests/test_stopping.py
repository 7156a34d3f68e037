"""Stopping a run at any moment, and continuing it: Ctrl-C, SIGTERM and SIGKILL, as a user sends them.

Each test waits for an event that proves the state it needs, never for a time: a ``jbp`` process
started with ``JBP_TRACE=FILE`` appends a line to FILE when it answers signals (``ready``), after
each finished chunk (``chunk DONE``) and after each checkpoint (``checkpoint DONE``). Moments
"after start" below count from ``ready``: before it, Python itself is starting (about 30 ms) and
no program can answer a signal its own way.

What every stop must show: exit status 130 (SIGINT) or 143 (SIGTERM), never a negative one; no
traceback and no "Exception ignored"; a last line on stderr that says truthfully what is on disk;
every saved run loadable; no temporaries left. A run killed with SIGKILL keeps its last checkpoint,
and ``--resume`` continues it to the params and losses of one uninterrupted run, bit for bit.

The signal cases of the hostile-input sweep (``SIGNAL_CASES``, 3: SIGTERM to ensemble, SIGINT to train
without --out, SIGTERM to train with --plot) are here; test_input_errors.py counts them with the others.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import jax
import numpy as np
import pytest
from cli_support import ENV, run_cli

import jbp

RUN_WITH_CHECKPOINT = ["checkpoint.npz", "losses.npz", "params.npz", "summary.json"]
WAIT = 600  # seconds at most for an event: a bound for a stuck process, never a measure of speed


class Proc:
  """A ``python -m jbp`` process whose events are read from its trace file."""

  def __init__(self, argv, cwd, name="trace"):
    self.trace = os.path.join(cwd, f".{name}.log")
    env = dict(ENV, JBP_TRACE=self.trace)
    # Each process compiles for itself, as a user's does, so that a signal can land inside a compile
    # (the suite's shared compilation cache, tests/conftest.py, would turn compiles into loads).
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    self.p = subprocess.Popen([sys.executable, "-m", "jbp", *map(str, argv)], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

  def events(self):
    try:
      with open(self.trace) as f:
        return f.read().split("\n")[:-1]
    except FileNotFoundError:
      return []

  def wait_for(self, pattern):
    """Blocks until an event line matches ``pattern`` (or the process ends); returns the line or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < WAIT:
      for line in self.events():
        if re.fullmatch(pattern, line):
          return line
      if self.p.poll() is not None:
        return next((l for l in self.events() if re.fullmatch(pattern, l)), None)
      time.sleep(0.005)
    raise AssertionError(f"no event {pattern!r} within {WAIT} s: {self.events()}")

  def stop(self, sig):
    self.p.send_signal(sig)
    out, err = self.p.communicate(timeout=WAIT)
    return self.p.returncode, out, err


def last_line(err):
  assert "Traceback" not in err and "Exception ignored" not in err and "Fatal Python error" not in err, err
  lines = err.strip().splitlines()
  assert lines, "no last line"
  return lines[-1]


def hidden(folder):
  return sorted(n for _, dirs, files in os.walk(folder) for n in dirs + files if n.startswith(".")
                and not n.endswith(".log"))


# --- one stop, looked at closely ---------------------------------------------------------------------------


def test_sigint_after_a_chunk_saves_the_state_after_exactly_that_many_steps(tmp_path):
  steps = 30_000_000  # minutes of work: only the signal ends it
  proc = Proc(["train", "--steps", steps, "--record-every", 1000, "--update", "sequential", "--out", "run"],
              tmp_path)
  done = int(proc.wait_for(r"chunk \d+").split()[1])  # a chunk is kept: the stop must save it
  rc, out, err = proc.stop(signal.SIGINT)
  assert rc == 130, err
  m = re.fullmatch(rf"jbp train: interrupted after (\d+) of {steps} steps \(E = .*\); the params and losses "
                   r"after \1 steps are saved in run \(summary.json says \"interrupted\": true\); continue "
                   r"with: jbp train --resume run", last_line(err))
  assert m, err
  kept = int(m.group(1))
  assert done <= kept < steps
  assert sorted(os.listdir(tmp_path / "run")) == RUN_WITH_CHECKPOINT
  assert hidden(tmp_path) == []
  summary = json.loads((tmp_path / "run" / "summary.json").read_text())
  assert summary["interrupted"] is True and summary["steps_done"] == kept
  with np.load(tmp_path / "run" / "losses.npz", allow_pickle=False) as z:
    assert z["step"][-1] == kept and z["loss"].shape == z["step"].shape

  # Resumed to a shorter total? No: the run's options are its own; a different one is refused.
  rc, _, err = run_cli(["train", "--resume", str(tmp_path / "run"), "--steps", "1000"])
  assert rc == 2 and re.fullmatch(rf"jbp train: error: --steps: expected {steps} as the run in .*run was "
                                  r"started, or no --steps, got 1000\n", err), err

  # The same run, whole, in one call of the library: what resuming must give, bit for bit. (64-bit mode
  # for this block only: run_cli puts back the setting it finds, so it must not run inside it.)
  with jax.enable_x64(True):
    saved = jbp.load_params(tmp_path / "run" / "params.npz")
    ex = jbp.worked_example(np.float64)
    part, _ = jbp.train(ex.params, ex.inputs, ex.targets, steps=kept, learning_rate=0.5, update="sequential",
                        record_every=kept)
  for a, b in zip(jax_leaves(part), jax_leaves(saved)):
    np.testing.assert_array_equal(a, b)  # what was saved is the state after `kept` steps exactly


def jax_leaves(tree):
  return [np.asarray(v) for v in jax.tree_util.tree_leaves(tree)]


@pytest.fixture(scope="module")
def whole_ensemble(tmp_path_factory):
  """An ensemble run without interruption: what a stopped and resumed one must equal."""
  d = tmp_path_factory.mktemp("whole")
  rc, out, err = run_cli(["ensemble", "--n", "64", "--steps", "600000", "--record-every", "1000",
                          "--no-progress", "--out", str(d / "ens")])
  assert rc == 0, err
  return d / "ens"


def npz(path):
  with np.load(path, allow_pickle=False) as z:
    return {k: z[k] for k in z.files}


def test_sigkill_between_checkpoints_then_resume_equals_one_uninterrupted_run(tmp_path, whole_ensemble):
  argv = ["ensemble", "--n", "64", "--steps", "600000", "--record-every", "1000", "--out", "ens",
          "--checkpoint-every", "0.000001"]  # a checkpoint after every chunk
  proc = Proc(argv, tmp_path)
  first = int(proc.wait_for(r"checkpoint \d+").split()[1])
  proc.p.kill()  # SIGKILL: no chance to save anything more
  proc.p.wait(timeout=WAIT)
  assert proc.p.returncode == -signal.SIGKILL
  assert os.listdir(tmp_path / "ens") and "checkpoint.npz" in os.listdir(tmp_path / "ens")
  if proc.wait_for(r"end -?\d+") is None:  # it never finished: the resume has work to do
    rc, out, err = run_cli(["ensemble", "--resume", str(tmp_path / "ens"), "--no-progress"])
    assert rc == 0, err
    assert "600000 of 600000 steps" in out
  assert first < 600_000
  assert sorted(os.listdir(tmp_path / "ens")) == ["losses.npz", "params.npz", "summary.json"]
  for name in ("params.npz", "losses.npz"):
    got, want = npz(tmp_path / "ens" / name), npz(whole_ensemble / name)
    assert got.keys() == want.keys()
    for k in want:
      np.testing.assert_array_equal(got[k], want[k], err_msg=f"{name}[{k}]")
  summary = json.loads((tmp_path / "ens" / "summary.json").read_text())
  assert summary["interrupted"] is False and summary["steps_done"] == 600_000


def test_a_different_run_differs_so_the_equality_above_can_fail(tmp_path, whole_ensemble):
  rc, out, err = run_cli(["ensemble", "--n", "64", "--steps", "600000", "--record-every", "1000",
                          "--no-progress", "--seed", "1", "--out", str(tmp_path / "other")])
  assert rc == 0, err
  other, whole = npz(tmp_path / "other" / "params.npz"), npz(whole_ensemble / "params.npz")
  assert not np.array_equal(other["w1"], whole["w1"])


def test_no_chunk_event_before_training(tmp_path):
  """Negative control of the events: a run refused at its flags is ready but never finishes a chunk."""
  proc = Proc(["train", "--steps", "0"], tmp_path)
  assert proc.wait_for(r"end 2") == "end 2"
  assert proc.events() == ["ready", "end 2"]


# --- refusals of --resume ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
  """A run stopped after its first chunk, with its checkpoint."""
  d = tmp_path_factory.mktemp("stopped")
  proc = Proc(["train", "--steps", "30000000", "--out", "run", "--data", "data.csv", "--inputs", "a,b",
               "--targets", "out"], _csv(d))
  proc.wait_for(r"chunk \d+")
  rc, _, err = proc.stop(signal.SIGTERM)
  assert rc == 143, err
  return d


def _csv(d):
  (d / "data.csv").write_text("a,b,out\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
  return d


@pytest.mark.parametrize("change, argv, message", [
    (None, ["--lr", "0.1"], r"--lr: expected 0.5 as the run in .*run was started, or no --lr, got 0.1"),
    (None, ["--out", "elsewhere"], r"--out: expected no --out with --resume .*, got elsewhere"),
    ("csv", [], r"--resume: expected the data the run in .*run was trained on, got other data"),
    ("version", [], r"--resume: expected a checkpoint written by jbp .*, got one by jbp 0.0.1 in .*run"),
    ("missing", [], r"--resume: expected a folder holding checkpoint.npz .*, got .*run, which holds none"),
])
def test_resume_refuses_another_run(stopped, tmp_path, change, argv, message):
  import shutil

  shutil.copytree(stopped, tmp_path, dirs_exist_ok=True)
  ckpt = tmp_path / "run" / "checkpoint.npz"
  if change == "csv":
    (tmp_path / "data.csv").write_text("a,b,out\n0,0,1\n0,1,1\n1,0,1\n1,1,0\n")
  if change == "version":
    arrays = npz(ckpt)
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.asarray(json.dumps({**meta, "jbp": "0.0.1"}))
    np.savez(ckpt, **arrays)
  if change == "missing":
    ckpt.unlink()
  before = sorted(os.listdir(tmp_path / "run"))
  cwd = os.getcwd()
  os.chdir(tmp_path)
  try:
    rc, out, err = run_cli(["train", "--resume", "run", *argv])
  finally:
    os.chdir(cwd)
  assert rc == 2 and len(err.strip().splitlines()) == 1 and re.search(message, err), err
  assert sorted(os.listdir(tmp_path / "run")) == before


# --- the stress test ------------------------------------------------------------------------------------

# Seconds after ready: denser in the first two, where the states change (JAX's import, the first compile,
# the first chunk and checkpoint), then on to 8 s, where every command is training or has finished.
MOMENTS = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0]
COMMANDS = {
    "train": ["train", "--steps", "1000000000", "--out", "run", "--checkpoint-every", "1"],
    "ensemble": ["ensemble", "--n", "2000", "--steps", "1000000000", "--out", "run",
                 "--checkpoint-every", "1"],
    "explain": ["explain", "--format", "html", "--out", "run.html"],
}
LINES = {  # every last line a stop may print, and what it says is on disk
    "nothing": r"jbp (train|ensemble|explain): interrupted; nothing saved",
    "saved": r"jbp (train|ensemble): interrupted after (\d+) of 1000000000 steps(?: \(E = \S+\))?; the "
             r"(?:members' )?params and losses after \2 steps are saved in run \(summary.json says "
             r"\"interrupted\": true\); continue with: jbp (?:train|ensemble) --resume run",
    "whole": r"jbp (train|ensemble|explain): interrupted (?:after training finished|while finishing); .*",
}


def _one_stop(tmp_path, command, moment, sig):
  d = tmp_path / f"{command}-{moment}-{int(sig)}"
  d.mkdir()
  proc = Proc(COMMANDS[command], d)
  proc.wait_for("ready")
  time.sleep(moment)  # the moment is the test's input, not a wait for a state: any moment must do
  t = time.monotonic()
  rc, out, err = proc.stop(sig)
  answered = time.monotonic() - t
  return d, rc, out, err, answered


def _check_stop(d, command, sig, rc, out, err):
  if rc == 0:  # finished before the signal (explain takes a few seconds): complete, and said so
    assert command == "explain" and (d / "run.html").is_file() and err == "", err
    return "finished"
  assert rc == 128 + sig, (rc, err)
  line = last_line(err)
  kind = next((k for k, p in LINES.items() if re.fullmatch(p, line)), None)
  assert kind is not None, line
  files = sorted(n for n in os.listdir(d) if not n.startswith("."))
  assert hidden(d) == [], hidden(d)  # no temporaries, whatever the moment
  if kind == "nothing":
    assert files == [], files
  elif kind == "saved":
    done = int(re.fullmatch(LINES["saved"], line).group(2))
    assert sorted(os.listdir(d / "run")) == RUN_WITH_CHECKPOINT
    summary = json.loads((d / "run" / "summary.json").read_text())
    assert summary["steps_done"] == done and summary["interrupted"] is True
    with jax.enable_x64(True):  # the command line saves float64
      params = jbp.load_params(d / "run" / "params.npz")
    assert all(np.isfinite(np.asarray(v)).all() for v in jax_leaves(params))
    with np.load(d / "run" / "losses.npz", allow_pickle=False) as z:
      assert z["step"][-1] == done
  else:
    assert files == (["run.html"] if command == "explain" else ["run"]), files
  return kind


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_stress_a_signal_at_sixteen_moments_never_crashes_and_tells_the_truth(tmp_path, command):
  """SIGINT and SIGTERM in turn at 16 moments from 0.05 s to 8 s after start: 0 crashes, every exit
  status as documented, every last line true of the disk, every saved run loadable."""
  cases = [(m, signal.SIGINT if k % 2 == 0 else signal.SIGTERM) for k, m in enumerate(MOMENTS)]
  cases.reverse()  # the longest first: four at a time end together, about when the 8 s one does
  with ThreadPoolExecutor(4) as pool:
    results = list(pool.map(lambda c: (c, _one_stop(tmp_path, command, *c)), cases))
  kinds = []
  for (moment, sig), (d, rc, out, err, answered) in results:
    kinds.append(_check_stop(d, command, sig, rc, out, err))
    print(f"{command} {sig.name} at {moment} s: exit {rc}, answered in {answered:.2f} s, {kinds[-1]}")
  # Which moments find training under way depends on the machine's load (four runs at once here); a stop
  # after a chunk keeps it: test_sigint_after_a_chunk_saves_the_state_after_exactly_that_many_steps.


def stop_after_a_chunk(argv, cwd, sig):
  """Starts ``jbp``, sends ``sig`` once a chunk is done (the process's trace says so); returns (exit
  status, stderr's last line)."""
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
def test_a_signal_exits_128_plus_its_number_and_the_last_line_says_what_is_saved(tmp_path, argv, sig, message,
                                                                                  left):
  rc, last = stop_after_a_chunk(argv, tmp_path, sig)
  assert rc == 128 + sig  # 130 for SIGINT, 143 for SIGTERM
  assert re.fullmatch(message, last), last
  assert sorted(os.listdir(tmp_path)) == left  # the run so far, whole, and no temporaries
