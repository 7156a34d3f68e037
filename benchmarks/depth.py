"""Compile time and memory against depth: jbp.train's program for networks of width 2, 10 to 100 layers.

The command line's ``jbp train --sizes 2,2,...,2`` (float64, one example, ``form="auto"``) once
compiled in 3.4 s at 20 layers, 12.4 s at 30 and 189 s at 40, and at 50 layers ran out of 24 GB:
in the unrolled form XLA copied the backward pass's scalar expressions into every layer's gradient,
so the optimized program grew as depth squared. Each case here runs in its own process and reports:

  lower s        tracing and lowering ``jbp.train``'s program (``jax.jit(...).lower``)
  compile s      XLA's compile of it (``.compile()``)
  run s          the first call of the compiled program (``--steps`` updates, 10 by default)
  instructions   instructions in the optimized HLO (``tests/test_depth.py`` holds these to linear growth)
  added MiB      the process's peak resident memory during the three, above what it held before
                 (Linux: ``/proc/self/clear_refs``; "-" elsewhere)

and the table ends with each column's growth: from the middle depth to the last, per layer, over the
same from the first depth to the middle one (1.00 for linear growth, about 1.5 for depth squared).

Usage::

    python benchmarks/depth.py                 # 10, 20, ..., 100 layers; both orders; auto and unrolled
    python benchmarks/depth.py --quick         # a smoke test: 5 and 10 layers, form auto
    python benchmarks/depth.py --out results/  # also writes results/depth.txt and results/depth.json
    python benchmarks/depth.py --scalar-chain --forms unrolled --depths 10,20,30   # the old unrolled form
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import re
import subprocess
import sys
import time

ORDERS = ("simultaneous", "sequential")
INSTRUCTION = re.compile(r"^\s+(ROOT )?%\S+ = ", re.M)


def _status_kib(field):
  with open("/proc/self/status") as f:
    return int(next(line for line in f if line.startswith(field + ":")).split()[1])


def _reset_peak():
  """Resets the peak resident memory (Linux) and returns the current one in KiB, or None."""
  gc.collect()
  try:
    with open("/proc/self/clear_refs", "w") as f:
      f.write("5")
    return _status_kib("VmRSS")
  except (OSError, StopIteration):
    return None


def one_case(depth, width, update, form, steps, scalar_chain):
  """Runs in the child process: one case's row."""
  import jax

  jax.config.update("jax_enable_x64", True)
  import jax.numpy as jnp
  import numpy as np

  import jbp
  from jbp import _network, _options, _train

  if scalar_chain:  # the unrolled form as it was: scalars between layers
    _network.CHAIN_LAYERS = 10**9
  rng = np.random.default_rng(0)
  params = tuple(jbp.Layer(jnp.asarray(rng.standard_normal((width, width)) * 0.5), jnp.asarray(0.1))
                 for _ in range(depth))
  x, y = jnp.asarray(np.linspace(0.05, 0.1, width)), jnp.asarray(np.linspace(0.01, 0.99, width))
  opts, values, _ = _options.make_options(
      params, x, y, steps=steps, learning_rate=0.5, update=update, record_every=1, activation="sigmoid",
      optimizer=None, trainable="weights", reduction="sum", form=form)
  jbp.train(params[:1], x, y, steps=1, learning_rate=0.5)  # JAX's start-up, apart from the case
  before = _reset_peak()
  t0 = time.perf_counter()
  lowered = _train.train_program.lower(params, x, y, values, opts)
  t1 = time.perf_counter()
  compiled = lowered.compile()
  t2 = time.perf_counter()
  jax.block_until_ready(compiled(params, x, y, values))
  t3 = time.perf_counter()
  added = (_status_kib("VmHWM") - before) / 1024 if before is not None else None
  return dict(depth=depth, width=width, update=update, form=form, chosen_form=opts.form, steps=steps,
              scalar_chain=scalar_chain, lower_s=t1 - t0, compile_s=t2 - t1, run_s=t3 - t2,
              instructions=len(INSTRUCTION.findall(compiled.as_text())), added_mib=added)


def run_case(args, depth, update, form):
  cmd = [sys.executable, os.path.abspath(__file__), "--child", str(depth), update, form,
         "--width", str(args.width), "--steps", str(args.steps)]
  cmd += ["--scalar-chain"] if args.scalar_chain else []
  t = time.perf_counter()
  try:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
  except subprocess.TimeoutExpired:
    return dict(depth=depth, update=update, form=form, error=f"timed out after {args.timeout} s")
  if r.returncode != 0:
    why = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
    return dict(depth=depth, update=update, form=form, error=f"{why} (after {time.perf_counter() - t:.0f} s)")
  return json.loads(r.stdout.strip().splitlines()[-1])


def cpu_name():
  try:
    with open("/proc/cpuinfo") as f:
      return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    return platform.processor() or platform.machine()


def _f(v, fmt):
  return "-" if v is None else format(v, fmt)


def row_line(r):
  if "error" in r:
    return f"| {r['update']} | {r['form']} | {r['depth']} | {r['error']} | | | | |"
  form = r["form"] if r["form"] == r["chosen_form"] else f"{r['form']} ({r['chosen_form']})"
  form += " (scalar chain)" if r["scalar_chain"] else ""
  return (f"| {r['update']} | {form} | {r['depth']} | {r['lower_s']:.2f} | {r['compile_s']:.2f} | "
          f"{r['run_s']:.3f} | {r['instructions']} | {_f(r['added_mib'], '.0f')} |")


def table(rows, depths):
  lines = ["| order | form | layers | lower s | compile s | run s | instructions | added MiB |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"] + [row_line(r) for r in rows]
  lines += ["", growth_table(rows, depths)] if len(depths) >= 3 else []
  return "\n".join(lines)


def growth_table(rows, depths):
  """Per order and form: each column's per-layer growth from the middle depth to the last, over the same
  from the first depth to the middle (1.00: linear)."""
  lo, mid, hi = depths[0], depths[len(depths) // 2], depths[-1]
  cols = ("lower_s", "compile_s", "instructions", "added_mib")
  lines = [f"Growth, per layer, {mid}..{hi} layers over {lo}..{mid} (1.00: linear):", "",
           "| order | form | lower | compile | instructions | added memory |",
           "| --- | --- | ---: | ---: | ---: | ---: |"]
  for update in ORDERS:
    for form in dict.fromkeys(r["form"] for r in rows):
      at = {r["depth"]: r for r in rows if r["update"] == update and r["form"] == form and "error" not in r}
      if not all(d in at for d in (lo, mid, hi)):
        continue
      out = []
      for c in cols:
        a, b, e = (at[d][c] for d in (lo, mid, hi))
        ok = None not in (a, b, e) and b != a
        out.append(f"{((e - b) / (hi - mid)) / ((b - a) / (mid - lo)):.2f}" if ok else "-")
      lines.append(f"| {update} | {form} | " + " | ".join(out) + " |")
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--depths", help="layer counts, comma-separated (default 10,20,...,100; --quick: 5,10)")
  parser.add_argument("--forms", help="forms, comma-separated (default auto,unrolled; --quick: auto)")
  parser.add_argument("--width", type=int, default=2, help="neurons a layer (default 2)")
  parser.add_argument("--steps", type=int, default=10, help="updates of the timed first call (default 10)")
  parser.add_argument("--timeout", type=float, default=600, help="seconds a case may take (default 600)")
  parser.add_argument("--scalar-chain", action="store_true",
                      help="the old unrolled form: each layer's outputs handed on as scalars")
  parser.add_argument("--quick", action="store_true", help="a smoke test: 5 and 10 layers, form auto")
  parser.add_argument("--out", metavar="DIR", help="write DIR/depth.txt and DIR/depth.json "
                                                   "(with --scalar-chain: DIR/depth_scalar_chain.*)")
  parser.add_argument("--force", action="store_true", help="overwrite those files if they exist")
  parser.add_argument("--child", nargs=3, metavar=("DEPTH", "UPDATE", "FORM"), help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    depth, update, form = args.child
    print(json.dumps(one_case(int(depth), args.width, update, form, args.steps, args.scalar_chain)))
    return 0
  default = "5,10" if args.quick else ",".join(map(str, range(10, 101, 10)))
  depths = [int(d) for d in (args.depths or default).split(",")]
  forms = (args.forms or ("auto" if args.quick else "auto,unrolled")).split(",")
  if min(depths) < 1 or args.width < 1 or args.steps < 1:
    parser.error("--depths, --width and --steps: expected integers >= 1")
  outputs = []
  if args.out:
    name = "depth_scalar_chain" if args.scalar_chain else "depth"
    outputs = [os.path.join(args.out, name + ".txt"), os.path.join(args.out, name + ".json")]
    existing = [p for p in outputs if os.path.exists(p)]
    if existing and not args.force:
      parser.error(f"--out: {', '.join(existing)} exists; pass --force to overwrite or name another folder")
  rows = []
  for form in forms:
    for update in ORDERS:
      for depth in depths:
        rows.append(run_case(args, depth, update, form))
        print(row_line(rows[-1]), flush=True)
  head = (f"jbp.train's program for {args.width}-wide networks, float64, one example, {args.steps} steps, "
          f"each case in its own process; {cpu_name()}, {os.cpu_count()} CPUs, "
          f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}; "
          f"`{' '.join(['python', 'benchmarks/depth.py'] + (argv if argv is not None else sys.argv[1:]))}`")
  text = head + "\n\n" + table(rows, depths)
  print("\n" + text)
  if args.out:
    os.makedirs(args.out, exist_ok=True)
    with open(outputs[0], "w") as f:
      f.write(text + "\n")
    import jax

    with open(outputs[1], "w") as f:
      json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                 "jax": jax.__version__, "python": platform.python_version(), "rows": rows}, f, indent=1)
    print(f"\nwrote {outputs[0]} and {outputs[1]}")
  return 1 if any("error" in r for r in rows) and not args.scalar_chain else 0


if __name__ == "__main__":
  sys.exit(main())
