"""Network-steps per second of jbp.train_many against two baselines, on the worked example.

Every case trains a population of n 2-2-2 sigmoid networks (the worked example's
shape, each member its own uniform [0, 1) initialization, shared biases fixed, plain
gradient descent, learning rate 0.5, float32) for 10,000 full-batch steps and records
the loss every 1,000 steps. Three implementations:

* ``train_many``: ``jbp.train_many`` (it picks its own layout: population axis last).
* ``jit(vmap(train))``: the naive JAX program, written here: one network's step with
  ``jax.grad``, a ``lax.scan`` over steps, ``jax.vmap`` over members, ``jax.jit``.
* ``numpy``: the same training loop in NumPy, vectorized over the population.

Each case runs in its own subprocess, so its peak resident memory
(``resource.getrusage(...).ru_maxrss``, which includes the Python and JAX runtime)
is its own. JAX programs are compiled ahead of time and the compile is not timed.
"cores busy" is the case's CPU seconds (all its threads) over its wall seconds: on a
machine shared with other work it shows whether the case had the cores it could use.

Usage::

    python benchmarks/population.py                 # n = 1, 100, 10,000, 100,000
    python benchmarks/population.py --quick         # a smoke test: n = 1, 100; 20 steps
    python benchmarks/population.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

METHODS = ("train_many", "jit(vmap(train))", "numpy")
LEARNING_RATE = 0.5


def _population(n):
  import jax

  import jbp

  return jbp.init_many(jax.random.key(0), n, (2, 2, 2), method="uniform", shared_bias=True)


def _case_train_many(n, steps, record_every):
  import jax

  import jbp

  ex = jbp.worked_example()
  pop = _population(n)
  run = jax.jit(lambda p: jbp.train_many(p, ex.inputs, ex.targets, steps=steps,
                                         learning_rate=LEARNING_RATE, record_every=record_every))
  compiled = run.lower(pop).compile()
  with _Clock() as clock:
    res = jax.block_until_ready(compiled(pop))
  return clock, float(res.losses[:, -1].mean())


def _case_naive(n, steps, record_every):
  import jax
  import jax.numpy as jnp
  from jax import lax

  import jbp

  ex = jbp.worked_example()
  x, y = ex.inputs, ex.targets

  def loss(w, b):  # one network; w = (w_hidden, w_output), b fixed
    h = jax.nn.sigmoid(w[0] @ x + b[0])
    out = jax.nn.sigmoid(w[1] @ h + b[1])
    return 0.5 * jnp.sum((y - out) ** 2)

  def train(w, b):
    def step(w, _):
      E, g = jax.value_and_grad(loss)(w, b)
      return jax.tree_util.tree_map(lambda a, d: a - LEARNING_RATE * d, w, g), E

    def chunk(w, _):
      w, E = lax.scan(step, w, None, length=record_every)
      return w, E[0]

    w, recorded = lax.scan(chunk, w, None, length=steps // record_every)
    return w, jnp.append(recorded, loss(w, b))

  pop = _population(n)
  w, b = (pop[0].w, pop[1].w), (pop[0].b, pop[1].b)
  compiled = jax.jit(jax.vmap(train)).lower(w, b).compile()
  with _Clock() as clock:
    _, losses = jax.block_until_ready(compiled(w, b))
  return clock, float(losses[:, -1].mean())


def _case_numpy(n, steps, record_every):
  import numpy as np

  import jbp

  ex = jbp.worked_example()
  x, y = np.asarray(ex.inputs), np.asarray(ex.targets)
  pop = _population(n)
  w1, w2 = np.array(pop[0].w), np.array(pop[1].w)  # (n, 2, 2)
  b1, b2 = np.asarray(pop[0].b)[:, None], np.asarray(pop[1].b)[:, None]  # (n, 1)
  lr = np.float32(LEARNING_RATE)
  recorded = []
  with _Clock() as clock:
    _numpy_loop(x, y, w1, w2, b1, b2, lr, steps, record_every, recorded)
  return clock, float(recorded[-1].mean())


def _numpy_loop(x, y, w1, w2, b1, b2, lr, steps, record_every, recorded):
  import numpy as np

  sig = lambda v: 1 / (1 + np.exp(-v))
  for k in range(steps + 1):
    h = sig(w1 @ x + b1)  # (n, 2)
    out = sig(np.einsum("nji,ni->nj", w2, h) + b2)
    err = out - y
    if k % record_every == 0:
      recorded.append(0.5 * np.sum(err * err, axis=1))
    if k == steps:
      break
    d2 = err * out * (1 - out)
    d1 = np.einsum("nji,nj->ni", w2, d2) * h * (1 - h)
    w2 -= lr * d2[:, :, None] * h[:, None, :]
    w1 -= lr * d1[:, :, None] * x[None, None, :]


class _Clock:
  """Wall and CPU seconds (all of this process's threads) of a block."""

  def __enter__(self):
    self.wall, self.cpu = time.perf_counter(), time.process_time()
    return self

  def __exit__(self, *exc):
    self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


CASES = {"train_many": _case_train_many, "jit(vmap(train))": _case_naive, "numpy": _case_numpy}


def run_case(method, n, steps, record_every):
  """Runs one case in this process and returns its row."""
  clock, mean_final = CASES[method](n, steps, record_every)
  peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
  return dict(method=method, n=n, steps=steps, seconds=clock.wall, cpu_seconds=clock.cpu,
              network_steps_per_s=n * steps / clock.wall, peak_rss_mib=peak_kib / 1024,
              mean_final_loss=mean_final)


def run_in_subprocess(method, n, steps, record_every):
  cmd = [sys.executable, os.path.abspath(__file__), "--case", method, str(n), str(steps), str(record_every)]
  proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
  if proc.returncode != 0:
    raise RuntimeError(f"case {method} n={n} failed:\n{proc.stderr}")
  return json.loads(proc.stdout.strip().splitlines()[-1])


def machine():
  import jax

  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    pass
  load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
  return dict(cpu=cpu, cores=os.cpu_count(), jax=jax.__version__, devices=[str(d) for d in jax.devices()],
              load_average_1min=load)


def table(rows):
  naive = {r["n"]: r["network_steps_per_s"] for r in rows if r["method"] == "jit(vmap(train))"}
  lines = ["| n | method | network-steps/s | vs jit(vmap(train)) | seconds | cores busy | peak RSS (MiB) |",
           "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
  for r in rows:
    ratio = r["network_steps_per_s"] / naive[r["n"]] if r["n"] in naive else float("nan")
    lines.append(f"| {r['n']:,} | {r['method']} | {r['network_steps_per_s']:.3g} | {ratio:.2f}x | "
                 f"{r['seconds']:.2f} | {r['cpu_seconds'] / r['seconds']:.2f} | {r['peak_rss_mib']:.0f} |")
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="n = 1, 100; 20 steps; one process")
  parser.add_argument("--json", metavar="PATH", help="also write the rows and the machine to PATH")
  parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")],
                      help="comma-separated population sizes (default 1,100,10000,100000)")
  parser.add_argument("--methods", type=lambda s: s.split(","), default=list(METHODS),
                      help=f"comma-separated methods to run (default all: {','.join(METHODS)})")
  parser.add_argument("--force", action="store_true", help="let --json replace an existing file")
  parser.add_argument("--case", nargs=4, metavar=("METHOD", "N", "STEPS", "RECORD_EVERY"),
                      help=argparse.SUPPRESS)  # internal: one case, printed as JSON
  args = parser.parse_args(argv)
  if args.case:
    method, n, steps, record_every = args.case
    print(json.dumps(run_case(method, int(n), int(steps), int(record_every))))
    return
  unknown = [m for m in args.methods if m not in METHODS]
  if unknown:
    parser.error(f"--methods: expected names from {','.join(METHODS)}, got {','.join(unknown)}")
  if args.json and os.path.exists(args.json) and not args.force:
    parser.error(f"--json: {args.json} exists; pass --force to replace it")
  sizes = args.sizes or ([1, 100] if args.quick else [1, 100, 10_000, 100_000])
  steps, record_every = (20, 10) if args.quick else (10_000, 1_000)
  info = machine()
  print(f"# {info['cpu']}, {info['cores']} cores, jax {info['jax']}, devices {info['devices']}, "
        f"load average {info['load_average_1min']:.2f}", flush=True)
  print(f"# worked example 2-2-2, float32, {steps:,} steps, loss recorded every {record_every:,}",
        flush=True)
  rows = []
  for n in sizes:
    for method in args.methods:
      # --quick runs in this process (peak RSS is then the process's running peak).
      row = (run_case if args.quick else run_in_subprocess)(method, n, steps, record_every)
      rows.append(row)
      print(f"#   n={n:,} {method}: {row['network_steps_per_s']:.3g} network-steps/s, "
            f"{row['seconds']:.2f} s, mean final loss {row['mean_final_loss']:.6g}", flush=True)
  print(table(rows))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(dict(machine=info, steps=steps, record_every=record_every, rows=rows), f, indent=1)


if __name__ == "__main__":
  main()
