"""``jbp ensemble``: a population of random initializations, at one or several learning rates, at once.

Member ``i`` at rate ``j`` is entry ``i * m + j`` of one :func:`jbp.train_many` population (as
:func:`jbp.sweep` lays them out), run in chunks by the one driver (:mod:`jbp.cli.driver`). Plain SGD
carries nothing between steps but the params, so a checkpoint is the params and the losses so far.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
  import argparse


from jbp.cli.common import RUN_FILES, outputs_of, problem, record_every_of
from jbp.cli.driver import Job, Progress, drive, host, restore, write_checkpoint
from jbp.cli.parser import UsageError
from jbp.cli.run import Checkpoints, check_data, closing, nothing_new, resume_args, run_meta
from jbp.cli.stop import Stop

__all__ = ["run", "check_memory"]


def check_memory(n: int, sizes: Sequence[int], records: int, itemsize: int,
                 available: int | None = None) -> None:
  """Refuses, before any work, a population whose arrays cannot fit in this machine's memory.

  The estimate: the members' params three times over (the program's input, its output and the
  host copy kept for a stop), their ``records`` losses twice (on the device and on the host), and a
  working set of the same size as the params.
  """
  weights = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
  need = n * itemsize * (4 * weights + 2 * records)
  have = available if available is not None else _available_memory()
  if have is not None and need > have:
    raise UsageError("--n", f"expected a population that fits in memory: {n} members of "
                            f"{'-'.join(map(str, sizes))} with {records} records need about "
                            f"{need / 2**30:.1f} GiB, and this machine has {have / 2**30:.1f} GiB available, "
                            f"got --n {n}")


def _available_memory() -> int | None:
  """Bytes of memory available (Linux: MemAvailable), or None where unknown."""
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return None


def run(args: argparse.Namespace, stop: Stop, argv: list[str],
        parser: argparse.ArgumentParser) -> int:
  """Runs ``jbp ensemble``; returns the exit status."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  import jbp
  from jbp._show.format import number
  from jbp.cli.bar import ProgressBar

  ckpt = None
  if args.resume is not None:
    args, ckpt = resume_args(args, argv, parser)
  if args.learning_rate is not None and args.learning_rates is not None:
    raise UsageError("--learning-rates", "expected either --learning-rate or --learning-rates, got both")
  rates = args.learning_rates or ((args.learning_rate,) if args.learning_rate is not None else (0.5,))
  r = record_every_of(args, 100)
  m = len(rates)
  outputs = outputs_of(args, stop, RUN_FILES, own=ckpt is not None)
  with outputs:
    example, x, y, what = problem(args)
    sizes = args.sizes or tuple([int(x.shape[-1])] + [int(p.w.shape[0]) for p in example])
    dtype = jnp.float32 if args.float32 else jnp.float64
    records = args.steps // r + 1 + (args.steps % r != 0)  # at 0, r, 2r, ... and after the last step
    check_memory(args.n * m, sizes, records, jnp.dtype(dtype).itemsize)
    pop = jbp.init_many(jax.random.key(args.seed), args.n, sizes, method=args.init,
                        shared_bias=args.init == "uniform", dtype=dtype)
    # Every member at every rate: member i, rate j is entry i * m + j (as jbp.sweep lays them out).
    grid = jax.tree_util.tree_map(lambda a: jnp.repeat(a, m, axis=0), pop)
    lrs = jnp.tile(jnp.asarray(rates, dtype), args.n) if m > 1 else rates[0]
    step = functools.partial(jbp.train_many, x=x, y=y, learning_rate=lrs, update=args.update,
                             activation=args.activation, trainable=args.trainable)

    def dispatch(p, state, s, q):
      res = step(p, steps=s, record_every=q)
      return res.params, None, res.losses, None

    if ckpt is not None:
      check_data(ckpt, x, y, args.resume)
      start = restore(ckpt, host(grid), None)
    else:
      start = Progress(host(grid), None, 0, (), (), np.zeros((args.n * m,), dtype))
    batch = int(np.prod(np.shape(x)[:-1], dtype=np.int64))
    cost = args.n * m * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    job = Job(start, dispatch, cost)
    meta = run_meta(args, x, y)
    checkpoints = Checkpoints(outputs, args.out, meta) if args.out is not None else None
    finish = functools.partial(_finish, args=args, outputs=outputs, start=start, what=what, sizes=sizes,
                               rates=rates, r=r, t0=time.perf_counter(), meta=meta, dtype=dtype)

    def describe(last):
      finite = last[np.isfinite(last)]
      return f"median E {number(np.median(finite)) if finite.size else 'nan'}"

    with ProgressBar(args.steps, disabled=args.no_progress, initial=start.done) as bar:
      stop.bar = bar
      stop.ending(lambda signum: finish(stop.progress or start, signum))
      progress = drive(job, steps=args.steps, record_every=r, stop=stop, bar=bar, describe=describe,
                       checkpoint=checkpoints, checkpoint_every=args.checkpoint_every)
    return stop.end(lambda signum: finish(progress, signum))


def _finish(progress: Progress, signum: int, *, args, outputs, start, what, sizes, rates, r, t0, meta, dtype):
  """Saves the population's run and prints its summary: ``(status, last line)``."""
  import jax
  import numpy as np

  import jbp
  from jbp import _data, _files
  from jbp._show import plot

  prog = "jbp ensemble"
  if progress.done == start.done and progress.done < args.steps:
    return nothing_new(outputs, prog, args.resume, start.done, args.steps)(signum)
  done = progress.done
  interrupted = done < args.steps
  m = len(rates)
  seconds = time.perf_counter() - t0
  steps_axis, flat = progress.losses()
  losses = flat.reshape(args.n, m, -1)  # (n, m, T)
  s = jbp.summarize(losses, args.threshold, record_every=r)
  first_step = np.where(s.first_step >= 0, steps_axis[s.first_step // r], -1)  # the last may be off-grid
  rows = []
  for j, lr in enumerate(rates):
    reached = first_step[:, j][first_step[:, j] >= 0]
    rows.append({
        "learning_rate": lr, "converged": float(s.fraction[j]), "diverged": float(s.fraction_diverged[j]),
        "median_steps_to_threshold": float(np.median(reached)) if reached.size else None,
        "final_loss_quantiles": {f"{q:g}": float(v) for q, v in zip(s.quantiles, s.final_quantiles[:, j])},
    })
  files = {name: outputs.target("--out", name) for name in RUN_FILES[:3]} if args.out is not None else {}
  if args.plot is not None:
    files["plot"] = outputs.target("--plot")
  summary = {"data": what, "sizes": list(sizes), "activation": args.activation, "init": args.init,
             "seed": args.seed, "n": args.n, "steps": args.steps, "steps_done": done,
             "interrupted": interrupted, "update": args.update,
             "trainable": args.trainable, "dtype": np.dtype(dtype).name, "threshold": args.threshold,
             "record_every": r, "seconds": round(seconds, 3), "learning_rates": rows, "files": files}
  if args.out is not None:
    # The members' params as train_many (n, ...) or sweep (n, m, ...) return them.
    lead = (args.n, m) if m > 1 else (args.n,)
    members = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape(lead + a.shape[1:]),
                                     tuple(progress.params))
    outputs.write("--out", lambda p: _data.save_params(p, members), "params.npz")
    arrays = {"learning_rates": np.asarray(rates), "losses": losses, "step": steps_axis}
    outputs.write("--out", lambda p: _files.save_npz(p, arrays), "losses.npz")
    if interrupted:
      outputs.write("--out", lambda p: write_checkpoint(os.path.dirname(p), progress, meta), "checkpoint.npz")
  if args.plot is not None:
    title = f"{'-'.join(map(str, sizes))} {args.activation} on {what}, {args.update}"
    outputs.write("--plot", lambda p: plot.plot_population(
        losses[:, :, -1].T, p, threshold=args.threshold, learning_rates=list(rates), title=title))
  if args.out is not None:
    outputs.write("--out", lambda p: _files.save_json(p, summary), "summary.json")
  outputs.commit()

  if args.json:
    print(json.dumps(summary, indent=2))
  else:
    _print(args, summary, rows, sizes, what, seconds)
  sys.stdout.flush()
  return closing(prog, args, outputs, done, signum, what="members' params and losses")


def _print(args, summary, rows, sizes, what, seconds):
  from jbp._show.format import number

  n = args.n
  print(f"{n} random {'-'.join(map(str, sizes))} {args.activation} networks ({args.init} init, seed "
        f"{args.seed}) on {what}: {summary['steps_done']} of {args.steps} steps, {args.update} order, "
        f"{summary['dtype']}, {seconds:.2f} s")
  for row in rows:
    med = row["median_steps_to_threshold"]
    when = "" if med is None else f", after a median of {med:g} steps"
    print(f"learning rate {number(row['learning_rate'])}: {round(row['converged'] * n)} of {n} reached "
          f"E < {number(args.threshold)}{when}; {round(row['diverged'] * n)} diverged")
    print("  final E quantiles: " + ", ".join(f"p{100 * float(q):g} {number(v)}"
                                             for q, v in row["final_loss_quantiles"].items()))
  print("median steps: updates until a member's loss was first below the threshold (among those that got "
        "there); pNN: the final loss at the NN-th percentile of the population.")
  for path in summary["files"].values():
    print(f"wrote {path}")
