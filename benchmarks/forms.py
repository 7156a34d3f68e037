"""Which form for one network: jbp.train's unrolled and matmul forms, compile and run, network by network.

For each network (layer sizes and number of examples) and each form, ``jbp.train`` of 10,000 steps
is called once from empty caches (trace, compile and run: what a user waits for the first time) and
then five times more (the run alone, the least of the five), in one process. The table also says
whether XLA compiled the training loop into one function (its small-loop path, for a loop that
touches at most 1 KiB by default; otherwise it runs the loop kernel by kernel). The loss is recorded
every 100 steps, and the two forms' losses after the first 100 must agree (1e-9 relative in float64,
1e-3 in float32) or the script exits 1: they are the same computation, rounded in another order, and
over 10,000 steps some of these networks (random weights and targets) drift further apart.
``form="auto"`` picks the unrolled form for one network of at most ``UNROLL_LIMIT``
weight-times-example products (``jbp/_options.py``); the last column says which it picks.

Usage::

    python benchmarks/forms.py                    # float32 and float64, every network below
    python benchmarks/forms.py --dtypes float64    # the command line's dtype only
    python benchmarks/forms.py --quick             # a smoke test: two networks, 200 steps
    python benchmarks/forms.py --json out.json     # also the rows and the machine as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

NETWORKS = [  # (layer sizes, examples; None: one example without a batch axis)
    ((2, 2, 2), None), ((2, 2, 1), 4), ((2, 3, 1), 4), ((2, 4, 1), 4), ((2, 5, 1), 4), ((2, 6, 1), 4),
    ((2, 8, 1), 4), ((2, 4, 2), None), ((2, 8, 2), None), ((2, 16, 2), None), ((4, 4, 3), 8),
    ((4, 8, 3), 8), ((2, 3, 3, 1), 4), ((2, 4, 4, 1), 4), ((2, 8, 8, 2), None), ((2, 3, 3, 3, 1), 4),
    ((2, 4, 4, 4, 1), 4), ((3, 6, 6, 2), 2),
]
QUICK = [((2, 2, 2), None), ((2, 5, 1), 4)]
FORMS = ("unrolled", "matmul")
TOLERANCE = {"float64": 1e-9, "float32": 1e-3}
RECORD_EVERY = 100


def products(sizes, batch):
  return (batch or 1) * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def one_function(jax, jbp, params, x, y, steps, every, form) -> bool:
  """Whether XLA compiled the training loop into one function (``xla_cpu_small_call`` in its program)."""
  from jbp import _options, _train

  opts, values, _ = _options.make_options(
      params, x, y, steps=steps, learning_rate=0.5, update="simultaneous", record_every=every,
      activation="sigmoid", optimizer=None, trainable="weights", reduction="sum", form=form)
  text = _train.train_program.lower(params, x, y, values, opts).compile().as_text()
  return "xla_cpu_small_call" in (text or "")


def measure(jax, jbp, sizes, batch, dtype, steps, runs):
  """``{form: {"first_s", "run_s", "one_function", "E_100", "final_E"}}`` for one network."""
  jnp = jax.numpy
  params = jbp.init_params(jax.random.key(0), sizes, dtype=getattr(jnp, dtype))
  shape = (lambda n: (n,)) if batch is None else (lambda n: (batch, n))
  x = jax.random.uniform(jax.random.key(1), shape(sizes[0]), getattr(jnp, dtype))
  y = jax.random.uniform(jax.random.key(2), shape(sizes[-1]), getattr(jnp, dtype))
  every = RECORD_EVERY if steps % RECORD_EVERY == 0 else steps
  out = {}
  for form in FORMS:
    def call(form=form):
      _, losses = jbp.train(params, x, y, steps=steps, learning_rate=0.5, form=form, record_every=every)
      return float(losses[1]), float(losses[-1])  # after the first `every` steps, and after the last

    jax.clear_caches()
    t = time.perf_counter()
    E = call()
    first = time.perf_counter() - t
    times = []
    for _ in range(runs):
      t = time.perf_counter()
      call()
      times.append(time.perf_counter() - t)
    out[form] = {"first_s": first, "run_s": min(times), "E_100": E[0], "final_E": E[-1],
                 "one_function": one_function(jax, jbp, params, x, y, steps, every, form)}
  return out


def main(argv=None):
  parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
  parser.add_argument("--dtypes", default="float32,float64", help="comma-separated (default both)")
  parser.add_argument("--steps", type=int, help="updates a run (default 10,000; --quick: 200)")
  parser.add_argument("--quick", action="store_true", help="two networks, 200 steps, 2 runs")
  parser.add_argument("--json", metavar="PATH", help="also write the rows and the machine to PATH")
  parser.add_argument("--force", action="store_true", help="let --json replace an existing file")
  args = parser.parse_args(argv)
  dtypes = args.dtypes.split(",")
  if not set(dtypes) <= set(TOLERANCE):
    parser.error(f"--dtypes: expected float32 and/or float64, got {args.dtypes!r}")
  steps = args.steps if args.steps is not None else (200 if args.quick else 10_000)
  if steps < 1:
    parser.error(f"--steps: expected an integer >= 1, got {steps}")
  if args.json and os.path.exists(args.json) and not args.force:
    parser.error(f"--json: {args.json} exists; pass --force to overwrite or name another file")

  import jax

  jax.config.update("jax_enable_x64", True)  # this script's own process: the float64 rows need it
  import jbp
  from jbp._options import choose_form

  rows, bad = [], []
  lines = [f"jbp.train, {steps:,} steps, simultaneous order; {platform.processor() or platform.machine()}, "
           f"JAX {jax.__version__} on {jax.default_backend()}. first: trace, compile and run from empty "
           "caches; run: the least of later runs; one fn: the loop compiled into one function.", "",
           "| dtype | network | examples | products | unrolled first s | unrolled run ms | one fn "
           "| matmul first s | matmul run ms | one fn | run, unrolled / matmul | auto picks |",
           "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: | --- |"]
  print("\n".join(lines), flush=True)
  for dtype in dtypes:
    for sizes, batch in QUICK if args.quick else NETWORKS:
      m = measure(jax, jbp, sizes, batch, dtype, steps, 2 if args.quick else 5)
      u, v = m["unrolled"], m["matmul"]
      auto = choose_form("auto", sizes, batch, jax.default_backend())
      agree = abs(u["E_100"] - v["E_100"]) <= TOLERANCE[dtype] * abs(v["E_100"])
      if not agree:
        bad.append(f"{dtype} {'-'.join(map(str, sizes))}")
      rows.append({"dtype": dtype, "sizes": list(sizes), "examples": batch or 1,
                   "products": products(sizes, batch), "auto": auto, "agree": agree, **{
                       f"{form}_{k}": val for form in FORMS for k, val in m[form].items()}})
      yes = lambda b: "yes" if b else "no"  # noqa: E731
      lines.append(f"| {dtype} | {'-'.join(map(str, sizes))} | {batch or 1} | {products(sizes, batch)} | "
                   f"{u['first_s']:.2f} | {u['run_s'] * 1e3:.2f} | {yes(u['one_function'])} | "
                   f"{v['first_s']:.2f} | {v['run_s'] * 1e3:.2f} | {yes(v['one_function'])} | "
                   f"{u['run_s'] / v['run_s']:.2f} | {auto} |")
      print(lines[-1], flush=True)
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"command": " ".join([os.path.basename(sys.executable)] + sys.argv), "steps": steps,
                 "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                             "jax": jax.__version__, "backend": jax.default_backend()},
                 "rows": rows}, f, indent=1)
  if bad:
    print("networks whose two forms disagree: " + ", ".join(bad), file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
