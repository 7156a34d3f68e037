"""Wider networks: jbp.train against a plain loop over jax.grad, and against NumPy, one example.

Each row trains the same sigmoid network (glorot weights, zero biases that stay fixed, one
example with targets near 0 and 1, learning rate 0.02, float32) and reports microseconds a step (median over
interleaved rounds, one process) and its ratio to the plain loop:

  plain jax.grad loop   the floor: ``lax.fori_loop`` over ``jax.grad`` of ``sigmoid(w @ a + b)``
                        and ``w -= lr * g``, jitted, written here
  jbp.train             simultaneous order, plain SGD (learning_rate=...)
  jbp.train sequential  the sequential order (``jax.vjp`` one layer at a time)
  jbp.train optax SGD   simultaneous order, ``optimizer=jbp.Optimizer(optax.sgd, learning_rate=...)``
  NumPy loop            the same step in NumPy, a Python loop over steps

Every row's final loss must agree with the plain loop's (1e-3 relative plus 1e-7, float32
rounding over many steps; the sequential order follows another path and is not compared).

Usage::

    python benchmarks/wide.py                    # 2-64-64-2 and 2-256-256-2
    python benchmarks/wide.py --quick            # a smoke test: 2-8-8-2, few steps
    python benchmarks/wide.py --json out.json    # also the rows and the machine as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

LR = 0.02


def network(jax, jbp, sizes):
  params = jbp.init_params(jax.random.key(0), sizes, dtype=np.float32)
  x = np.linspace(-1, 1, sizes[0]).astype(np.float32)
  y = np.linspace(0.05, 0.95, sizes[-1]).astype(np.float32)
  return params, jax.numpy.asarray(x), jax.numpy.asarray(y)


def plain_loop(jax, params, x, y, steps):
  jnp, lax = jax.numpy, jax.lax

  def loss(ws, bs):
    a = x
    for w, b in zip(ws, bs):
      a = jax.nn.sigmoid(w @ a + b)
    return 0.5 * jnp.sum((y - a) ** 2)

  @jax.jit
  def run(ws, bs):
    step = lambda i, ws: jax.tree_util.tree_map(lambda w, g: w - LR * g, ws, jax.grad(loss)(ws, bs))
    ws = lax.fori_loop(0, steps, step, ws)
    return loss(ws, bs)

  ws, bs = tuple(l.w for l in params), tuple(l.b for l in params)
  return lambda: float(run(ws, bs))


def jbp_run(jbp, params, x, y, steps, **kw):
  def run():
    _, losses = jbp.train(params, x, y, steps=steps, record_every=steps, **kw)
    return float(losses[-1])
  return run


def numpy_loop(params, x, y, steps):
  ws0 = [np.asarray(l.w, np.float32) for l in params]
  bs = [np.asarray(l.b, np.float32) for l in params]
  x, y = np.asarray(x), np.asarray(y)
  sig = lambda v: 1 / (1 + np.exp(-v))

  def run():
    ws = [w.copy() for w in ws0]
    for _ in range(steps + 1):
      outs = [x]
      for w, b in zip(ws, bs):
        outs.append(sig(w @ outs[-1] + b))
      err = outs[-1] - y
      E = 0.5 * float(err @ err)
      delta = err * outs[-1] * (1 - outs[-1])
      grads = []
      for l in range(len(ws) - 1, -1, -1):
        grads.append(np.outer(delta, outs[l]))
        delta = (ws[l].T @ delta) * outs[l] * (1 - outs[l])
      for w, g in zip(ws, reversed(grads)):
        w -= np.float32(LR) * g
    return E  # the loss after `steps` updates (the last loop only evaluates it)
  return run


def median_us(fn, steps, rounds, reps):
  times = []
  for _ in range(rounds):
    t = time.perf_counter()
    for _ in range(reps):
      fn()
    times.append((time.perf_counter() - t) / reps)
  return float(np.median(times)) / steps * 1e6


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="a smoke test: 2-8-8-2, few steps, 1 round")
  parser.add_argument("--json", metavar="PATH", help="also write the rows and the machine to PATH")
  parser.add_argument("--force", action="store_true", help="let --json replace an existing file")
  args = parser.parse_args(argv)
  if args.json and os.path.exists(args.json) and not args.force:
    parser.error(f"--json: {args.json} exists; pass --force to replace it")
  import jax
  import optax

  import jbp

  cases = [((2, 8, 8, 2), 50)] if args.quick else [((2, 64, 64, 2), 2000), ((2, 256, 256, 2), 400)]
  rounds = 1 if args.quick else 7
  rows = []
  for sizes, steps in cases:
    params, x, y = network(jax, jbp, sizes)
    fns = {
        "plain jax.grad loop": plain_loop(jax, params, x, y, steps),
        "jbp.train": jbp_run(jbp, params, x, y, steps, learning_rate=LR),
        "jbp.train sequential": jbp_run(jbp, params, x, y, steps, learning_rate=LR, update="sequential"),
        "jbp.train optax SGD": jbp_run(jbp, params, x, y, steps,
                                       optimizer=jbp.Optimizer(optax.sgd, learning_rate=LR)),
        "NumPy loop": numpy_loop(params, x, y, steps),
    }
    final = {name: fn() for name, fn in fns.items()}  # compiles, and each row's final loss
    times = {name: [] for name in fns}
    for _ in range(rounds):  # interleaved, so a busy machine slows every row alike
      for name, fn in fns.items():
        times[name].append(median_us(fn, steps, 1, 3 if "NumPy" not in name else 1))
    plain = float(np.median(times["plain jax.grad loop"]))
    for name in fns:
      us = float(np.median(times[name]))
      ref = final["plain jax.grad loop"] if "sequential" not in name else final[name]
      rows.append(dict(network="-".join(map(str, sizes)), name=name, steps=steps, us_a_step=us,
                       x_plain=us / plain, final_loss=final[name],
                       agrees=abs(final[name] - ref) <= 1e-3 * abs(ref) + 1e-7))
  print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} "
        f"on {jax.default_backend()}, float32, one example, {rounds} interleaved rounds")
  print("| network | implementation | µs a step | x plain loop | final loss | agrees |")
  print("| --- | --- | ---: | ---: | ---: | --- |")
  for r in rows:
    print(f"| {r['network']} | {r['name']} | {r['us_a_step']:.2f} | {r['x_plain']:.2f} | "
          f"{r['final_loss']:.6g} | {'yes' if r['agrees'] else 'NO'} |")
  if args.json:
    with open(args.json, "w") as f:
      json.dump(dict(machine=dict(cpu=platform.processor(), cores=os.cpu_count(), jax=jax.__version__),
                     rows=rows), f, indent=1)
  return 0 if all(r["agrees"] for r in rows) else 1


if __name__ == "__main__":
  sys.exit(main())
