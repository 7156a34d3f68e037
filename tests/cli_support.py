"""What the command-line tests share: run ``jbp.cli.main`` in this process (or ``python -m jbp``), read
what it left on disk.

``jbp.cli.main(argv)`` is what ``python -m jbp`` runs; calling it here costs no new Python and JAX
start-up. The command line turns 64-bit mode on for its own process, so ``run_cli`` puts JAX's
setting back after each call.
"""

import contextlib
import io
import json
import os
import re
import subprocess
import sys

import jax

from jbp.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))

# Every error of the command line: `jbp <subcommand>: error: <what the user typed>: expected ..., got ...`.
ERROR_LINE = re.compile(r"jbp(?: (?:explain|train|ensemble))?: error: (\S+): expected .+, got .+")


def jbp_cli(*args, cwd=None, timeout=300):
  """``python -m jbp ARGS`` in a new process, as a user runs it: the finished ``subprocess.run``."""
  return subprocess.run([sys.executable, "-m", "jbp", *args], capture_output=True, text=True,
                        timeout=timeout, env=ENV, cwd=cwd)


def run_cli(argv):
  """``(rc, stdout, stderr)`` of ``jbp.cli.main(argv)`` in this process; an exception escapes.

  JAX's 64-bit setting, which the command line changes for its process, is put back afterwards.
  """
  out, err = io.StringIO(), io.StringIO()
  x64 = jax.config.jax_enable_x64
  with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
      rc = main([str(a) for a in argv])
    except SystemExit as e:  # --help, --version: argparse exits itself
      rc = e.code
    finally:
      jax.config.update("jax_enable_x64", x64)
  return rc, out.getvalue(), err.getvalue()


def error_line(rc, err):
  """The one line of an error (exit status 2), checked against the one format; returns it."""
  assert rc == 2, err
  assert "Traceback" not in err, err
  lines = err.strip().splitlines()
  assert len(lines) == 1, err
  assert ERROR_LINE.fullmatch(lines[0]), lines[0]
  return lines[0]


def snapshot(folder):
  """Every file and folder under ``folder``, hidden ones included, with the bytes of each file."""
  out = {}
  for root, dirs, files in os.walk(folder):
    for name in dirs:
      out[os.path.relpath(os.path.join(root, name), folder) + os.sep] = None
    for name in files:
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        out[os.path.relpath(path, folder)] = f.read()
  return out


RUNNER = r"""
import contextlib, io, json, sys, time
from jbp.cli import main
results = []
for argv in json.load(sys.stdin):
  out, err = io.StringIO(), io.StringIO()
  t0 = time.perf_counter()
  with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
      rc = main(argv)
    except SystemExit as e:  # --help
      rc = e.code
  results.append({"argv": argv, "rc": rc, "out": out.getvalue(), "err": err.getvalue(),
                  "seconds": round(time.perf_counter() - t0, 3)})
print(json.dumps(results))
"""


MY_CSV = "a,b,out\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"


def run_batch(argvs, cwd):
  r = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(argvs), capture_output=True,
                     text=True, timeout=600, env=ENV, cwd=cwd)
  assert r.returncode == 0, r.stderr[-3000:]
  return r.stdout and json.loads(r.stdout.splitlines()[-1])


def assert_one_line_error(res):
  return error_line(res["rc"], res["err"])  # one line, in the one format
