"""The cost of a repeated call: jbp.train (2 steps), forward, loss and backprop against a trivial jitted call.

Every row calls the same function again and again with the same shapes, dtypes and options (the
worked example, float64 unless --float32), so that nothing compiles after the first call and what
is timed is the call itself: argument checks, JAX's dispatch, and a program that does almost
nothing. The floor is ``jax.jit(lambda x: x)(x)``. The rows run in one process, in interleaved
rounds (each row a batch of calls a round), and the table gives each row's median time a call and
its ratio to the floor's median.

Rows:
  trivial jit          ``jax.jit(lambda x: x)(x)``
  jbp.train            ``jbp.train(params, x, y, steps=2, learning_rate=0.5)`` (simultaneous order)
  jbp.train seq        the same, ``update="sequential"``
  jbp.forward          ``jbp.forward(params, x)``
  jbp.loss             ``jbp.loss(params, x, y)``
  jbp.backprop         ``jbp.backprop(params, x, y)``
  train program        the program ``jbp.train`` runs, called directly (no checks)
  forward program      the program ``jbp.forward`` runs, called directly

Targets: ``jbp.train`` at most 4x the trivial call, ``jbp.forward`` at most 3x.

Usage::

    python benchmarks/calls.py                 # prints the table
    python benchmarks/calls.py --quick         # a smoke test
    python benchmarks/calls.py --json out.json # also the rows and the machine as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

TARGETS = {"jbp.train": 4.0, "jbp.forward": 3.0}


def rows(jax, jbp, float32):
  from jbp import _network, _options, _train

  ex = jbp.worked_example(jax.numpy.float32 if float32 else jax.numpy.float64)
  p, x, y = ex.params, ex.inputs, ex.targets
  trivial = jax.jit(lambda x: x)
  opts, values, _ = _options.make_options(
      p, x, y, steps=2, learning_rate=0.5, update="simultaneous", record_every=1, activation="sigmoid",
      optimizer=None, trainable="weights", reduction="sum", form="auto")
  act = jbp.ACTIVATIONS["sigmoid"]
  return {
      "trivial jit": lambda: trivial(x),
      "jbp.train": lambda: jbp.train(p, x, y, steps=2, learning_rate=0.5),
      "jbp.train seq": lambda: jbp.train(p, x, y, steps=2, learning_rate=0.5, update="sequential"),
      "jbp.forward": lambda: jbp.forward(p, x),
      "jbp.loss": lambda: jbp.loss(p, x, y),
      "jbp.backprop": lambda: jbp.backprop(p, x, y),
      "train program": lambda: _train.train_program(p, x, y, values, opts),
      "forward program": lambda: _network.forward_program(p, x, act),
  }


def measure(fns, rounds, calls):
  """Median seconds a call of each row over ``rounds`` interleaved rounds of ``calls`` calls."""
  for f in fns.values():  # compile, and warm the caches
    for _ in range(3):
      f()
  times = {name: [] for name in fns}
  for _ in range(rounds):
    for name, f in fns.items():
      t = time.perf_counter()
      for _ in range(calls):
        f()
      times[name].append((time.perf_counter() - t) / calls)
  return times


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--rounds", type=int, help="interleaved rounds (default 30; --quick: 2)")
  parser.add_argument("--calls", type=int, help="calls of a row a round (default 300; --quick: 50)")
  parser.add_argument("--float32", action="store_true", help="the worked example in float32")
  parser.add_argument("--quick", action="store_true", help="a smoke test")
  parser.add_argument("--json", metavar="FILE", help="also write the rows and the machine as JSON")
  args = parser.parse_args(argv)
  rounds = args.rounds or (2 if args.quick else 30)
  calls = args.calls or (50 if args.quick else 300)
  if rounds < 1 or calls < 1:
    parser.error("--rounds and --calls: expected integers >= 1")

  import jax

  jax.config.update("jax_enable_x64", True)
  import jbp

  times = measure(rows(jax, jbp, args.float32), rounds, calls)
  floor, floor_min = np.median(times["trivial jit"]), min(times["trivial jit"])
  dtype = "float32" if args.float32 else "float64"
  lines = [f"Repeated calls on the worked example ({dtype}), {rounds} interleaved rounds of {calls:,} calls, "
           f"one process; {os.cpu_count()} CPUs, JAX {jax.__version__} on {jax.default_backend()}, load "
           f"average {os.getloadavg()[0]:.1f}.", "",
           "| call | median µs | min µs | max µs | x trivial (medians) | x trivial (minima) | target |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
  for name, t in times.items():
    target = f"<= {TARGETS[name]:.0f}x" if name in TARGETS else ""
    lines.append(f"| {name} | {np.median(t) * 1e6:.2f} | {min(t) * 1e6:.2f} | {max(t) * 1e6:.2f} | "
                 f"{np.median(t) / floor:.2f} | {min(t) / floor_min:.2f} | {target} |")
  lines += ["", "The minimum over rounds is the round least disturbed by other work on the machine."]
  print("\n".join(lines))
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"dtype": dtype, "rounds": rounds, "calls": calls, "jax": jax.__version__,
                 "python": platform.python_version(), "cpus": os.cpu_count(),
                 "rows": {name: {"times_s": t, "median_s": float(np.median(t)), "min_s": min(t),
                                 "x_trivial": float(np.median(t) / floor),
                                 "x_trivial_min": min(t) / floor_min} for name, t in times.items()}},
                f, indent=1)
  return 0


if __name__ == "__main__":
  sys.exit(main())
