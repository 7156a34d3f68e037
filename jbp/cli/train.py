"""``jbp train``: one network on the worked example, XOR or a CSV file, trained once, saved whole.

The run goes through the one driver (:mod:`jbp.cli.driver`); its ending (:func:`_finish`) writes
``params.npz``, ``losses.npz``, ``summary.json`` (and ``checkpoint.npz`` if the run stopped early),
the figure and the page, all from the state the driver published: the training page's params at
each record come from the same chunks, so each run is trained once.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
  import argparse


from jbp.cli.common import RUN_FILES, check_drawable, layer_sizes, outputs_of, problem, record_every_of
from jbp.cli.driver import Job, Progress, drive, host, restore
from jbp.cli.parser import UsageError
from jbp.cli.run import Checkpoints, check_data, closing, nothing_new, resume_args, run_meta
from jbp.cli.stop import Stop

__all__ = ["run"]

MOST_PAGE_STEPS = 10**9  # --html finds a record interval among the divisors of --steps


def _page_records(args) -> int:
  """The record interval of a run with a page: it must divide ``--steps`` (the page's slider)."""
  steps = args.steps
  if args.record_every is not None:
    if steps % args.record_every:
      raise UsageError("--record-every", f"expected a divisor of --steps {steps} with --html, got "
                                         f"{args.record_every}")
    return args.record_every
  if steps > MOST_PAGE_STEPS:
    raise UsageError("--html", f"expected --steps of at most {MOST_PAGE_STEPS} for a page, got {steps}")
  want = -(-steps // 1000)
  divisors, d = [], 1
  while d * d <= steps:
    if steps % d == 0:
      divisors += [d, steps // d]
    d += 1
  return min(v for v in divisors if v >= want)


@functools.lru_cache(maxsize=None)
def _chunk_program():
  import jax

  from jbp._network import forward
  from jbp._train import run_training

  @functools.partial(jax.jit, static_argnames=("opts", "activation"))
  def chunk(params, state, x, y, values, opts, activation):
    params, state, losses, _ = run_training(params, state, x, y, values, opts)
    return params, state, losses, forward(params, x, activation=activation)

  return chunk


def run(args: argparse.Namespace, stop: Stop, argv: list[str],
        parser: argparse.ArgumentParser) -> int:
  """Runs ``jbp train``; returns the exit status."""
  import numpy as np
  import optax

  from jbp._optimizer import Optimizer
  from jbp._options import as_dtype, make_options
  from jbp._train import init_state

  ckpt = None
  if args.resume is not None:
    if args.html is not None:
      raise UsageError("--html", "expected no --html with --resume (the page needs the params at every "
                                 "record, which a checkpoint does not keep), got --html")
    args, ckpt = resume_args(args, argv, parser)
  if args.optimizer != "sgd" and args.update == "sequential":
    raise UsageError("--update", f"expected simultaneous with --optimizer {args.optimizer} (the sequential "
                                 "order is defined for plain SGD), got sequential")
  if args.html is not None and args.optimizer != "sgd":
    raise UsageError("--html", f"expected --optimizer sgd (the page records the params at each recorded "
                               f"step of plain SGD), got --optimizer {args.optimizer}")
  r = _page_records(args) if args.html is not None else record_every_of(args, 1000)
  outputs = outputs_of(args, stop, RUN_FILES, own=ckpt is not None)
  with outputs:
    params, x, y, what = problem(args)
    if args.html is not None:
      check_drawable("--html", layer_sizes(params))
    kw: dict[str, Any] = dict(activation=args.activation, trainable=args.trainable, optimizer=None,
                              reduction="sum", form="auto", learning_rate=None, update="simultaneous")
    if args.optimizer == "sgd":
      kw.update(learning_rate=args.learning_rate, update=args.update)
    else:  # float hyperparameters are values of the compiled program, not constants in it
      kw["optimizer"] = (Optimizer(optax.sgd, learning_rate=args.learning_rate, momentum=args.momentum)
                         if args.optimizer == "momentum" else
                         Optimizer(optax.adam, learning_rate=args.learning_rate))
    opts, values, dtype = make_options(params, x, y, steps=1, record_every=1, **kw)
    xd, yd = as_dtype(x, dtype), as_dtype(y, dtype)
    fresh_state = init_state(opts, values, params)
    if ckpt is not None:
      check_data(ckpt, x, y, args.resume)
      start = restore(ckpt, host(params), host(fresh_state))
    else:
      start = Progress(host(params), host(fresh_state), 0, (), (), np.zeros((), dtype))
    if args.html is not None:
      start = start._replace(history=(start.params,))
    program = _chunk_program()

    def dispatch(p, state, s, q):
      return program(p, state, xd, yd, values, dataclasses.replace(opts, steps=s, record_every=q),
                     args.activation)

    sizes = layer_sizes(params)
    batch = int(np.prod(np.shape(x)[:-1], dtype=np.int64))
    cost = batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    job = Job(start, dispatch, cost, keep_params=args.html is not None)
    meta = run_meta(args, x, y)
    checkpoints = Checkpoints(outputs, args.out, meta) if args.out is not None else None
    t0 = time.perf_counter()
    extras = {}
    finish = functools.partial(_finish, args=args, outputs=outputs, start=start, x=x, y=y, what=what,
                               r=r, t0=t0, meta=meta, extras=extras, first=params)

    from jbp._show.format import number
    from jbp.cli.bar import ProgressBar

    with ProgressBar(args.steps, disabled=args.no_progress, initial=start.done) as bar:
      stop.bar = bar
      stop.ending(lambda signum: finish(stop.progress or start, signum))
      progress = drive(job, steps=args.steps, record_every=r, stop=stop, bar=bar,
                       describe=lambda last: f"E {number(last)}", checkpoint=checkpoints,
                       checkpoint_every=args.checkpoint_every)
    if (progress.done == args.steps and not stop.requested.is_set() and args.data == "worked"
            and args.optimizer == "sgd" and not args.sizes and ckpt is None and args.steps % r == 0
            and (args.plot is not None or args.html is not None)):
      from jbp._train import train

      other = "sequential" if args.update == "simultaneous" else "simultaneous"
      extras[other] = np.asarray(train(params, x, y, steps=args.steps, record_every=r, update=other,
                                       learning_rate=args.learning_rate, activation=args.activation,
                                       trainable=args.trainable)[1])
    return stop.end(lambda signum: finish(progress, signum))


def _finish(progress: Progress, signum: int, *, args, outputs, start, x, y, what, r, t0, meta, extras,
            first):
  """Saves the run (whole, or as far as it got, with a checkpoint) and prints it: ``(status, line)``."""
  import numpy as np

  from jbp import _data, _files
  from jbp._show import plot
  from jbp._show.format import number, numbers
  from jbp.cli.driver import write_checkpoint

  prog = "jbp train"
  if progress.done == start.done and progress.done < args.steps:
    return nothing_new(outputs, prog, args.resume, start.done, args.steps)(signum)
  done = progress.done
  interrupted = done < args.steps
  steps_axis, losses = progress.losses()
  seconds = time.perf_counter() - t0
  sizes = layer_sizes(first)
  out = progress.outputs
  examples = int(np.shape(x)[0]) if np.ndim(x) == 2 else 1
  files = {name: outputs.target("--out", name) for name in RUN_FILES[:3]} if args.out is not None else {}
  if args.plot is not None:
    files["plot"] = outputs.target("--plot")
  page = args.html is not None and progress.history is not None and len(progress.history) > 1
  if page:
    files["html"] = outputs.target("--html")
  summary = {
      "data": what, "sizes": list(sizes), "activation": args.activation, "init": args.init if args.sizes
      else "example", "seed": args.seed, "optimizer": args.optimizer, "learning_rate": args.learning_rate,
      "update": args.update, "trainable": args.trainable, "dtype": str(losses.dtype),
      "steps": args.steps, "steps_done": done, "interrupted": interrupted, "record_every": r,
      "loss_initial": float(losses[0]), "loss_final": float(losses[-1]), "examples": examples,
      "loss_final_per_example": float(losses[-1]) / examples, "accuracy": accuracy(out, y),
      "seconds": round(seconds, 3),
      "outputs": out.reshape(-1, out.shape[-1]).tolist() if out is not None and out.size <= 64 else None,
      "files": files,
  }
  if args.out is not None:
    outputs.write("--out", lambda p: _data.save_params(p, progress.params), "params.npz")
    outputs.write("--out", lambda p: _files.save_npz(p, {"step": steps_axis, "loss": losses}), "losses.npz")
    if interrupted:
      outputs.write("--out", lambda p: write_checkpoint(os.path.dirname(p), progress, meta), "checkpoint.npz")
  if args.plot is not None:
    label = f"sgd, {args.update} order" if args.optimizer == "sgd" else args.optimizer
    curves = {label: (steps_axis, losses)}
    if extras and not interrupted:
      (other, other_losses), = extras.items()
      curves = {args.update: (steps_axis, losses), other: (steps_axis, other_losses)}
    title = (f"{'-'.join(map(str, sizes))} {args.activation} network on {what}, {args.optimizer} "
             f"learning rate {number(args.learning_rate)}")
    outputs.write("--plot", lambda p: plot.plot_losses(curves, p, title=title))
  if page:
    text = _page(args, progress, x, y, r, extras if not interrupted else {})
    outputs.write("--html", lambda p: open(p, "w", encoding="utf-8").write(text))
  if args.out is not None:
    outputs.write("--out", lambda p: _files.save_json(p, summary), "summary.json")
  outputs.commit()

  if args.json:
    print(json.dumps(summary, indent=2))
  else:
    print(f"trained a {'-'.join(map(str, sizes))} {args.activation} network on {what} "
          f"({summary['dtype']}): {done} of {args.steps} steps, {args.optimizer} learning rate "
          f"{number(args.learning_rate)}, {args.update} order, {seconds:.2f} s")
    print(f"E before: {number(losses[0])}   E after: {number(losses[-1])}")
    if examples > 1:  # E is a sum over the examples: its mean does not grow with the data set
      print(f"E per example (mean of {examples}): before {number(losses[0] / examples)}   after "
            f"{number(losses[-1] / examples)}")
    if summary["accuracy"] is not None:
      right = round(summary["accuracy"] * examples)
      print(f"accuracy: {right} of {examples} examples ({100 * summary['accuracy']:.4g}%), outputs rounded "
            f"at 0.5 against 0/1 targets")
    if out is not None and summary["outputs"] is not None and len(summary["outputs"]) <= 8:
      for xi, yi, oi in zip(np.atleast_2d(np.asarray(x)), np.atleast_2d(np.asarray(y)), np.atleast_2d(out)):
        print(f"  x {numbers(xi)}  target {numbers(yi)}  out {numbers(oi)}")
    for path in files.values():
      print(f"wrote {path}")
  sys.stdout.flush()
  loss = f" (E = {number(losses[-1])})"
  return closing(prog, args, outputs, done, signum, what="params and losses", loss=loss)


def accuracy(out, y) -> "float | None":
  """The share of examples whose outputs, rounded at 0.5, all equal their targets, when every target is
  0 or 1 (classes); None otherwise (or without outputs).

  >>> accuracy([[0.2], [0.7], [0.6]], [[0.0], [1.0], [0.0]]), accuracy([[0.2]], [[0.3]])
  (0.6666666666666666, None)
  """
  import numpy as np

  if out is None:
    return None
  y = np.atleast_2d(np.asarray(y, np.float64))
  if not np.isin(y, (0.0, 1.0)).all():
    return None
  right = ((np.atleast_2d(np.asarray(out, np.float64)) > 0.5) == (y > 0.5)).all(axis=-1)
  return float(right.mean())


def _page(args, progress: Progress, x, y, r, extras) -> str:
  """The page of ``jbp train --html`` from the params the driver kept at each record."""
  import jax
  import numpy as np

  from jbp._recording import TrainingRun
  from jbp._show.training import render_training

  history = progress.history
  assert history is not None  # the driver keeps the params for a page
  n = len(history)
  stacked = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *history)
  losses = progress.losses()[1][:n]
  run = TrainingRun(stacked, losses, progress.outputs, np.asarray(x), np.asarray(y), (n - 1) * r, r,
                    float(args.learning_rate), args.update, args.activation, args.trainable)
  compare = {k: v for k, v in extras.items()} or None
  return render_training(run, compare=compare)
