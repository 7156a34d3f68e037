"""The ``jbp`` command line.

``jbp`` alone runs the worked example in float64 and prints each published
figure next to jbp's value under each update order. ``jbp explain`` prints the
derivation of one training step; ``jbp train`` trains a network on the worked
example, XOR or a CSV file and saves what it learnt.

Errors in arguments or data print one line on stderr and exit with status 2.
Ctrl-C during training saves what was done and exits with status 130.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


class UsageError(Exception):
  """A bad argument: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
  def error(self, message):
    raise UsageError(f"{self.prog}: {message}")


_RAW = argparse.RawDescriptionHelpFormatter

EXPLAIN_EXAMPLES = """examples:
  # the worked example's first step, every number
  jbp explain
  # the sequential order: the hidden deltas use the already-updated output weights
  jbp explain --update sequential
  # Markdown with LaTeX math, or every number as JSON
  jbp explain --format markdown --out step.md
  jbp explain --json
  # a page that steps through the derivation on the network's diagram (opens from disk), or the diagram
  jbp explain --format html --update sequential --out step.html
  jbp explain --format svg --out net.svg
  # the second step (one step is trained first)
  jbp explain --step 2
  # another network on XOR: a batch of 4, per-example terms summed
  jbp explain --data xor --sizes 2,3,1
  # your own data: a CSV file with a header row naming its columns
  jbp explain --data my.csv --inputs a,b --targets out --sizes 2,3,1
"""

TRAIN_EXAMPLES = """examples:
  # the worked example, 10,000 steps of SGD
  jbp train
  # the published (sequential) order; saves params.npz, losses.npz and summary.json in run1/,
  # and a figure of the loss under both update orders
  jbp train --update sequential --out run1 --plot run1.png
  # XOR with biases trained too, and the loss curve as a PNG
  jbp train --data xor --sizes 2,4,1 --trainable all --steps 5000 --plot xor.png
  # Adam via optax, the summary as JSON
  jbp train --data xor --optimizer adam --learning-rate 0.05 --steps 2000 --json
  # your own CSV; --force replaces the files of an earlier run
  jbp train --data my.csv --inputs a,b --targets out --sizes 2,4,1 --seed 3 --out run2 --force
  # a page of the run: the loss curve, and the weights at each recorded step on a slider
  jbp train --steps 2000 --html run.html

The saved params load without pickle: numpy.load("run1/params.npz", allow_pickle=False).
"""


ENSEMBLE_EXAMPLES = """examples:
  # 1000 random 2-2-2 networks on the worked example: how many reach E < 0.001, and when
  jbp ensemble --n 1000 --steps 5000
  # a sweep over learning rates, with the distribution of final losses and a convergence map
  jbp ensemble --n 200 --learning-rates 0.1,0.5,2,8 --steps 2000 --plot sweep.png
  # XOR in the sequential order, the summary as JSON and saved in run3/
  jbp ensemble --data xor --n 100 --update sequential --steps 2000 --threshold 0.05 --json --out run3
"""


def _rates(text):
  try:
    rates = tuple(float(s) for s in text.split(","))
  except ValueError:
    rates = ()
  if not rates or not all(r > 0 and r < float("inf") for r in rates):
    raise argparse.ArgumentTypeError(f"expected positive numbers separated by commas such as 0.1,0.5,2, "
                                     f"got {text!r}")
  return rates


def _positive_int(name):
  def parse(text):
    try:
      v = int(text)
    except ValueError:
      raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if v < 1:
      raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {v}")
    return v
  parse.__name__ = name
  return parse


def _number(text):
  try:
    return float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _seed(text):
  # jax.random.key takes a 64-bit signed integer; a larger one would fail later with an OverflowError.
  try:
    v = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
  if not -2**63 <= v < 2**63:
    raise argparse.ArgumentTypeError(f"expected an integer from -2**63 to 2**63 - 1, got {v}")
  return v


def _sizes(text):
  try:
    sizes = tuple(int(s) for s in text.split(","))
  except ValueError:
    sizes = ()
  if len(sizes) < 2 or min(sizes) < 1:
    raise argparse.ArgumentTypeError(f"expected two or more positive integers such as 2,3,1, got {text!r}")
  return sizes


def _add_network_options(p, *, steps_default=None):
  g = p.add_argument_group("network and data")
  g.add_argument("--data", default="worked", metavar="worked|xor|CSV",
                 help="the worked example (default), xor, or a CSV file with a header row")
  g.add_argument("--inputs", metavar="COLS", help="CSV input columns, comma-separated (with --data CSV)")
  g.add_argument("--targets", metavar="COLS", help="CSV target columns, comma-separated (with --data CSV)")
  g.add_argument("--sizes", type=_sizes, metavar="N,N,..",
                 help="layer sizes, input first, e.g. 2,3,1 (random init); default: the example's own "
                      "network (worked, xor 2-5-1), or a hidden layer of 4 for a CSV")
  g.add_argument("--seed", type=_seed, default=0, help="seed of the random initialization (default 0)")
  g.add_argument("--init", choices=("uniform", "glorot"), default="uniform",
                 help="random init: uniform [0, 1) with one bias a layer, as the reference program "
                      "(default), or glorot with one bias a neuron")
  g.add_argument("--activation", choices=("sigmoid", "tanh", "relu", "identity"), default="sigmoid")
  t = p.add_argument_group("training")
  t.add_argument("--learning-rate", "--lr", type=_number, default=0.5, dest="learning_rate",
                 help="step size (default 0.5)")
  t.add_argument("--update", choices=("simultaneous", "sequential"), default="simultaneous",
                 help="update order (default simultaneous; sequential reproduces the published figures)")
  t.add_argument("--trainable", choices=("weights", "all"), default="weights",
                 help="what trains: the weights only, as the worked example (default), or biases too")
  prec = p.add_mutually_exclusive_group()
  prec.add_argument("--float64", dest="float32", action="store_false", help="compute in float64 (default)")
  prec.add_argument("--float32", dest="float32", action="store_true", help="compute in float32")
  p.add_argument("--json", action="store_true", help="print machine-readable JSON")
  p.set_defaults(float32=False)
  return g


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(
      prog="jbp",
      description="Backpropagation in JAX: the worked 2-2-2 example, reproduced digit for digit.",
      epilog=("examples:\n"
              "  jbp                 the worked example's published figures, both update orders\n"
              "  jbp --json          the same as JSON\n"
              "  jbp --float32       in float32 (will not match every digit)\n"
              "  jbp explain         the derivation of one training step, every number\n"
              "  jbp train --help    train on the worked example, XOR or your own CSV"),
      formatter_class=_RAW)
  parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
  parser.add_argument("--float32", action="store_true",
                      help="compute in float32 instead of float64")
  parser.set_defaults(func=cmd_figures)
  sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

  ex = sub.add_parser("explain", help="print every number of one training step",
                      description="Print every intermediate value of one training step, computed by "
                                  "the same code that trains, to 9 decimals.",
                      epilog=EXPLAIN_EXAMPLES, formatter_class=_RAW)
  _add_network_options(ex)
  ex.add_argument("--format", choices=("text", "markdown", "json", "svg", "html"), default="text",
                  help="text for a terminal (default), Markdown with LaTeX math, JSON, the network as an SVG "
                       "drawing, or a self-contained HTML page that steps through the derivation on it")
  ex.add_argument("--step", type=_positive_int("step"), default=1,
                  help="explain step K (K - 1 steps are trained first; default 1)")
  ex.add_argument("--names", choices=("worked", "systematic"),
                  help="the worked example's names (i1, h1, o1, w1..w8) or systematic ones (x1, h1_1, "
                       "y1, w1_11); default: worked for a 2-2-2 network with one bias a layer")
  ex.add_argument("--out", metavar="FILE", help="write to FILE instead of printing")
  ex.add_argument("--force", action="store_true", help="overwrite an existing --out file")
  ex.set_defaults(func=cmd_explain)

  tr = sub.add_parser("train", help="train a network and save params, losses and a summary",
                      description="Train a network on the worked example, XOR or a CSV file, in one "
                                  "compiled loop run in chunks (a progress bar for long runs; Ctrl-C "
                                  "stops and saves what was done).",
                      epilog=TRAIN_EXAMPLES, formatter_class=_RAW)
  _add_network_options(tr)
  tr.add_argument("--optimizer", choices=("sgd", "momentum", "adam"), default="sgd",
                  help="sgd (default; either update order), or momentum / adam via optax "
                       "(simultaneous order)")
  tr.add_argument("--momentum", type=_number, default=0.9, help="momentum of --optimizer momentum (0.9)")
  _add_run_options(tr, records=1000, out="params.npz, losses.npz and summary.json",
                   plot="the loss curve (log axis); for the worked example with sgd, both update orders")
  tr.add_argument("--html", metavar="FILE",
                  help="write a self-contained page of the run: the loss curve (for the worked example, both "
                       "update orders), the weights at each recorded step on a slider, outputs and settings "
                       "(sgd; networks of at most 4 layers of 8 neurons)")
  tr.set_defaults(func=cmd_train)

  en = sub.add_parser("ensemble", help="train a population of random initializations at once",
                      description="Train n random initializations of one network at once (one compiled "
                                  "program), at one or several learning rates, and report how many "
                                  "converge, when, and the spread of their final losses.",
                      epilog=ENSEMBLE_EXAMPLES, formatter_class=_RAW)
  _add_network_options(en)
  en.set_defaults(learning_rate=None)
  en.add_argument("--n", type=_positive_int("n"), default=1000, help="population size (default 1000)")
  en.add_argument("--learning-rates", type=_rates, metavar="LR,LR,..", dest="learning_rates",
                  help="one or more learning rates (default 0.5; or --learning-rate); several make a "
                       "sweep: every member trained with every rate")
  en.add_argument("--threshold", type=_number, default=1e-3,
                  help="a member has converged when its final loss is below this (default 0.001)")
  _add_run_options(en, records=100, out="losses.npz and summary.json",
                   plot="the distribution of final losses and the convergence map (learning rate x "
                        "initialization)")
  en.set_defaults(func=cmd_ensemble)
  return parser


def _add_run_options(p, *, records: int, out: str, plot: str):
  """The options `train` and `ensemble` share: steps, recording, output files, progress."""
  p.add_argument("--steps", type=_positive_int("steps"), default=10_000, help="updates (default 10000)")
  p.add_argument("--record-every", type=_positive_int("record-every"), dest="record_every",
                 help="record the loss every this many steps; must divide --steps (default: about "
                      f"{records} records)")
  p.add_argument("--out", metavar="DIR", help=f"save {out} in DIR")
  p.add_argument("--plot", metavar="PNG", help=f"write to PNG: {plot}")
  p.add_argument("--force", action="store_true", help="overwrite existing output files")
  p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _enable_x64(enabled: bool):
  # The command line is an application: it may set JAX's configuration for its own
  # process. The library never does.
  import jax

  jax.config.update("jax_enable_x64", bool(enabled))


def cmd_figures(args) -> int:
  import jax.numpy as jnp

  from jbp._figures import format_figures, worked_example_figures

  _enable_x64(not args.float32)
  dtype = jnp.float32 if args.float32 else jnp.float64
  rows = worked_example_figures(dtype)
  if args.json:
    print(json.dumps({"dtype": jnp.dtype(dtype).name, "figures": [
        {"name": r.name, "published": r.published, "values": r.values, "matches": r.matches}
        for r in rows]}, indent=2))
  else:
    print(format_figures(rows, jnp.dtype(dtype).name))
  return 0


def _problem(args):
  """``(params, x, y, description)`` from the network and data options."""
  import jax
  import jax.numpy as jnp

  from jbp._data import load_csv
  from jbp._example import worked_example, xor
  from jbp._init import init_params

  _enable_x64(not args.float32)
  dtype = jnp.float32 if args.float32 else jnp.float64
  if args.data in ("worked", "xor"):
    if args.inputs or args.targets:
      raise UsageError(f"jbp: --inputs/--targets name CSV columns; --data {args.data} has none")
    ex = worked_example(dtype) if args.data == "worked" else xor(dtype, key=jax.random.key(args.seed))
    params, x, y = ex.params, ex.inputs, ex.targets
    what = "the worked example" if args.data == "worked" else "XOR"
  else:
    if not args.inputs or not args.targets:
      raise UsageError("jbp: --data CSV needs --inputs and --targets naming its columns")
    x, y = load_csv(args.data, args.inputs, args.targets)
    x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
    params = None
    what = os.path.basename(args.data)
  n_in, n_out = x.shape[-1], y.shape[-1]
  sizes = args.sizes or (None if params is not None else (n_in, 4, n_out))
  if sizes is not None:
    if sizes[0] != n_in or sizes[-1] != n_out:
      raise UsageError(f"jbp: --sizes: the data has {n_in} input(s) and {n_out} target(s), so sizes must "
                       f"start with {n_in} and end with {n_out}; got {','.join(map(str, sizes))}")
    params = init_params(jax.random.key(args.seed), sizes, method=args.init,
                         shared_bias=args.init == "uniform", dtype=dtype)
  return params, x, y, what


def _write_text(path, text, force):
  from jbp._data import atomic_write

  atomic_write(path, lambda f: f.write(text.encode("utf-8")), force=force)


def cmd_explain(args) -> int:
  from jbp._explain import check_explainable, explain, render_json, render_markdown, render_text
  from jbp._page import render_html
  from jbp._svg import render_svg
  from jbp._train import train

  if args.out:
    from jbp._data import check_writable

    check_writable(args.out, force=args.force)
  if args.sizes:
    check_explainable(args.sizes)
  params, x, y, _ = _problem(args)
  kw = dict(activation=args.activation, trainable=args.trainable)
  if args.step > 1:
    params, _ = train(params, x, y, steps=args.step - 1, learning_rate=args.learning_rate,
                      update=args.update, record_every=args.step - 1, **kw)
  record = explain(params, x, y, learning_rate=args.learning_rate, update=args.update, names=args.names, **kw)
  fmt = "json" if args.json else args.format
  if fmt == "json":
    text = json.dumps({"step": args.step, **json.loads(render_json(record))}, indent=2) + "\n"
  elif fmt == "markdown":
    text = render_markdown(record)
  elif fmt in ("svg", "html"):
    title = f"Step {args.step}: the params after {args.step - 1} step(s)" if args.step > 1 else None
    text = render_svg(record, title=title) if fmt == "svg" else render_html(record, title=title)
  else:
    text = render_text(record)
  if args.step > 1 and fmt in ("text", "markdown"):
    text = (f"Step {args.step}: the params after {args.step - 1} step{'s' if args.step > 2 else ''}.\n\n" if
            fmt == "text" else f"*Step {args.step}: the params after {args.step - 1} step(s).*\n\n") + text
  if args.out:
    _write_text(args.out, text, args.force)
  else:
    sys.stdout.write(text)
  return 0


def _loss_text(v) -> str:
  return f"{v:.9f}" if abs(v) >= 1e-6 else f"{v:.9e}"


def _record_every(steps, given, target=1000):
  """``given``, or the smallest divisor of ``steps`` that records at most about ``target`` losses."""
  if given:
    return given
  for r in range(max(1, -(-steps // target)), steps + 1):
    if steps % r == 0:
      return r
  return steps


def cmd_train(args) -> int:
  import numpy as np
  import optax
  from tqdm import tqdm

  from jbp import _checks
  from jbp._data import check_writable, save_json, save_npz, save_params
  from jbp._network import forward
  from jbp._progress import default_chunk, train_chunked
  from jbp._train import train

  if args.optimizer != "sgd" and args.update == "sequential":
    raise UsageError(f"jbp train: --optimizer {args.optimizer}: the sequential update order is plain SGD; "
                     "use --optimizer sgd or --update simultaneous")
  # Every output is checked before any work, so a bad path fails in a second, not after training.
  outputs = {}
  if args.out:
    if os.path.exists(args.out) and not os.path.isdir(args.out):
      raise ValueError(f"out: {args.out} exists and is not a folder")
    try:
      os.makedirs(args.out, exist_ok=True)
    except OSError as e:
      raise ValueError(f"out: cannot create folder {args.out}: {e.strerror or e}") from None
    for name in ("params.npz", "losses.npz", "summary.json"):
      outputs[name] = check_writable(os.path.join(args.out, name), force=args.force)
  if args.plot:
    from jbp._plot import require_matplotlib

    require_matplotlib()
    check_writable(args.plot, force=args.force, name="plot")
  if args.html:
    if args.optimizer != "sgd":
      raise UsageError(f"jbp train: --html records the params at each recorded step with plain SGD; "
                       f"use --optimizer sgd, not {args.optimizer}")
    check_writable(args.html, force=args.force, name="html")

  params, x, y, what = _problem(args)
  if args.html:
    from jbp._explain import MAX_LAYERS, MAX_NEURONS
    from jbp._network import sizes_of

    if len(params) > MAX_LAYERS or max(sizes_of(params)) > MAX_NEURONS:
      raise UsageError(f"jbp train: --html draws every weight, so it takes networks of at most {MAX_LAYERS} "
                       f"layers of at most {MAX_NEURONS} neurons; got sizes "
                       f"{','.join(map(str, sizes_of(params)))}")
  r = _record_every(args.steps, args.record_every)
  if args.steps % r:
    raise UsageError(f"jbp train: --record-every: expected a divisor of --steps {args.steps}, got {r}")
  kw = dict(activation=args.activation, trainable=args.trainable)
  t0 = time.perf_counter()
  if args.optimizer == "sgd":
    kw.update(learning_rate=args.learning_rate, update=args.update)
  else:
    _checks.check_learning_rate(args.learning_rate)
    kw["optimizer"] = (optax.sgd(args.learning_rate, momentum=args.momentum)
                       if args.optimizer == "momentum" else optax.adam(args.learning_rate))
  # A progress bar once a run passes 2 s: steps done, current loss, steps per second.
  bar = tqdm(total=args.steps, unit="step", delay=2.0, disable=args.no_progress, file=sys.stderr,
             dynamic_ncols=True, desc="training")

  def progress(done, loss):
    bar.update(done - bar.n)
    bar.set_postfix(loss=f"{loss:.6g}", refresh=False)

  try:
    final, losses, done, interrupted = train_chunked(
        params, x, y, steps=args.steps, chunk_steps=default_chunk(args.steps, r), record_every=r,
        callback=progress, catch_interrupt=True, **kw)
  finally:
    bar.close()
  kw = dict(activation=args.activation, trainable=args.trainable)
  losses = np.asarray(losses)
  seconds = time.perf_counter() - t0
  steps_axis = np.arange(len(losses)) * r
  if interrupted:
    steps_axis[-1] = done  # the last entry is the loss after the last completed update

  sizes = tuple(int(p.w.shape[1]) for p in final[:1]) + tuple(int(p.w.shape[0]) for p in final)
  out = np.asarray(forward(final, x, activation=args.activation))
  summary = {
      "data": what, "sizes": list(sizes), "activation": args.activation, "init": args.init if args.sizes
      else "example", "seed": args.seed, "optimizer": args.optimizer, "learning_rate": args.learning_rate,
      "update": args.update, "trainable": args.trainable, "dtype": str(np.asarray(losses).dtype),
      "steps": args.steps, "steps_done": done, "interrupted": interrupted, "record_every": r,
      "loss_initial": float(losses[0]), "loss_final": float(losses[-1]), "seconds": round(seconds, 3),
      "outputs": out.reshape(-1, out.shape[-1]).tolist() if out.size <= 64 else None,
      "files": {},
  }
  if args.out:
    save_params(outputs["params.npz"], final, force=args.force)
    save_npz(outputs["losses.npz"], {"step": steps_axis, "loss": losses}, force=args.force)
    summary["files"] = dict(outputs)
  if args.plot:
    from jbp._plot import plot_losses

    label = f"sgd, {args.update} order" if args.optimizer == "sgd" else args.optimizer
    curves = {label: (steps_axis, losses)}
    if args.data == "worked" and args.optimizer == "sgd" and not args.sizes and not interrupted:
      other = "sequential" if args.update == "simultaneous" else "simultaneous"
      _, other_losses = train(params, x, y, steps=args.steps, record_every=r,
                              learning_rate=args.learning_rate, update=other, **kw)
      curves = {args.update: (steps_axis, losses), other: (steps_axis, np.asarray(other_losses))}
    title = (f"{'-'.join(map(str, sizes))} {args.activation} network on {what}, {args.optimizer} "
             f"learning rate {args.learning_rate:g}")
    plot_losses(curves, args.plot, title=title, force=args.force)
    summary["files"]["plot"] = args.plot
  if args.html and done:
    _write_training_page(args, params, x, y, done, r, compare=args.data == "worked" and not args.sizes
                         and not interrupted)
    summary["files"]["html"] = args.html
  if args.out:
    save_json(outputs["summary.json"], summary, force=args.force)
  if args.json:
    print(json.dumps(summary, indent=2))
  else:
    print(f"trained a {'-'.join(map(str, sizes))} {args.activation} network on {what} "
          f"({summary['dtype']}): {done} of {args.steps} steps, {args.optimizer} learning rate "
          f"{args.learning_rate:g}, {args.update} order, {seconds:.2f} s")
    print(f"E before: {_loss_text(losses[0])}   E after: {_loss_text(losses[-1])}")
    if summary["outputs"] is not None and len(summary["outputs"]) <= 8:
      for xi, yi, oi in zip(np.atleast_2d(np.asarray(x)), np.atleast_2d(np.asarray(y)), np.atleast_2d(out)):
        print(f"  x {np.array2string(xi, precision=4)}  target {np.array2string(yi, precision=4)}  "
              f"out {np.array2string(oi, precision=9)}")
    for path in summary["files"].values():
      print(f"wrote {path}")
  if interrupted:
    where = f"partial results saved in {args.out}" if args.out else "nothing saved (no --out)"
    print(f"jbp: interrupted after {done} of {args.steps} steps (E = {losses[-1]:.9g}); {where}",
          file=sys.stderr)
    return 130
  return 0


def _write_training_page(args, params, x, y, steps, record_every, *, compare):
  """The page of ``jbp train --html``: the run recorded again, keeping the params at each recorded step.

  Plain SGD repeats bit for bit, so the recording equals the run just made; for the worked example,
  the other update order is drawn beside it.
  """
  from jbp._data import atomic_write
  from jbp._run import record_training, render_training
  from jbp._train import train

  kw = dict(learning_rate=args.learning_rate, activation=args.activation, trainable=args.trainable)
  run = record_training(params, x, y, steps=steps, record_every=record_every, update=args.update, **kw)
  others = None
  if compare:
    other = "sequential" if args.update == "simultaneous" else "simultaneous"
    others = {other: train(params, x, y, steps=steps, record_every=record_every, update=other, **kw)[1]}
  page = render_training(run, compare=others)
  atomic_write(args.html, lambda f: f.write(page.encode("utf-8")), force=args.force, name="html")


def _prepare_out(args, names):
  from jbp._data import check_writable

  outputs = {}
  if args.out:
    if os.path.exists(args.out) and not os.path.isdir(args.out):
      raise ValueError(f"out: {args.out} exists and is not a folder")
    try:
      os.makedirs(args.out, exist_ok=True)
    except OSError as e:
      raise ValueError(f"out: cannot create folder {args.out}: {e.strerror or e}") from None
    for name in names:
      outputs[name] = check_writable(os.path.join(args.out, name), force=args.force)
  if args.plot:
    from jbp._plot import require_matplotlib

    require_matplotlib()
    check_writable(args.plot, force=args.force, name="plot")
  return outputs


def cmd_ensemble(args) -> int:
  import jax
  import jax.numpy as jnp
  import numpy as np
  from tqdm import tqdm

  import jbp
  from jbp import _progress
  from jbp._data import save_json, save_npz

  if args.learning_rate is not None and args.learning_rates is not None:
    raise UsageError("jbp ensemble: give --learning-rate or --learning-rates, not both")
  rates = args.learning_rates or ((args.learning_rate,) if args.learning_rate is not None else (0.5,))
  if not np.isfinite(args.threshold) or args.threshold <= 0:
    raise UsageError(f"jbp ensemble: --threshold: expected a positive number, got {args.threshold!r}")
  if not hasattr(jbp, "train_many"):
    raise ValueError("ensemble: this version of jbp has no populations (jbp.train_many)")
  outputs = _prepare_out(args, ("losses.npz", "summary.json"))
  example, x, y, what = _problem(args)
  sizes = args.sizes or tuple([int(x.shape[-1])] + [int(p.w.shape[0]) for p in example])
  dtype = jnp.float32 if args.float32 else jnp.float64
  r = args.record_every or _record_every(args.steps, None, target=100)
  if args.steps % r:
    raise UsageError(f"jbp ensemble: --record-every: expected a divisor of --steps {args.steps}, got {r}")
  t0 = time.perf_counter()
  pop = jbp.init_many(jax.random.key(args.seed), args.n, sizes, method=args.init,
                      shared_bias=args.init == "uniform", dtype=dtype)
  # Every member at every rate: member i, rate j is entry i * m + j (as jbp.sweep lays them out).
  m = len(rates)
  grid = jax.tree_util.tree_map(lambda a: jnp.repeat(a, m, axis=0), pop)
  lrs = jnp.tile(jnp.asarray(rates, dtype), args.n) if m > 1 else rates[0]
  kw = dict(update=args.update, record_every=r, activation=args.activation, trainable=args.trainable)
  chunk = _progress.default_chunk(args.steps, r)
  bar = tqdm(total=args.steps, unit="step", delay=2.0, disable=args.no_progress, file=sys.stderr,
             dynamic_ncols=True, desc="training")
  # Plain SGD carries only the params, so chunks of jbp.train_many (the same compiled chunk each
  # time) give the numbers of one uninterrupted call; Ctrl-C keeps the completed chunks.
  state, interrupted = (grid, (), 0, None), False
  try:
    while state[2] < args.steps:
      p, pieces, done, _ = state
      n_steps = min(chunk, args.steps - done)
      res = jbp.train_many(p, x, y, steps=n_steps, learning_rate=lrs, **kw)
      recorded = np.asarray(res.losses)
      state = (res.params, pieces + (recorded[:, :-1],), done + n_steps, recorded[:, -1:])
      bar.update(n_steps)
      bar.set_postfix(median_loss=f"{np.nanmedian(recorded[:, -1]):.4g}", refresh=False)
  except KeyboardInterrupt:
    interrupted = True
  finally:
    bar.close()
  _, pieces, done, last = state
  if last is None:
    raise KeyboardInterrupt  # nothing completed
  losses = np.concatenate(pieces + (last,), axis=1).reshape(args.n, m, -1)  # (n, m, T)
  seconds = time.perf_counter() - t0
  s = jbp.summarize(losses, args.threshold, record_every=r)
  rows = []
  for j, lr in enumerate(rates):
    steps_j = s.first_step[:, j]
    reached = steps_j[steps_j >= 0]
    rows.append({
        "learning_rate": lr, "converged": float(s.fraction[j]), "diverged": float(s.fraction_diverged[j]),
        "median_steps_to_threshold": float(np.median(reached)) if reached.size else None,
        "final_loss_quantiles": {f"{q:g}": float(v) for q, v in zip(s.quantiles, s.final_quantiles[:, j])},
    })
  summary = {"data": what, "sizes": list(sizes), "activation": args.activation, "init": args.init,
             "seed": args.seed, "n": args.n, "steps": args.steps, "steps_done": done,
             "interrupted": interrupted, "update": args.update,
             "trainable": args.trainable, "dtype": jnp.dtype(dtype).name, "threshold": args.threshold,
             "record_every": r, "seconds": round(seconds, 3), "learning_rates": rows, "files": {}}
  if args.out:
    steps_axis = np.arange(losses.shape[-1]) * r
    steps_axis[-1] = done
    save_npz(outputs["losses.npz"], {"learning_rates": np.asarray(rates), "losses": losses,
                                     "step": steps_axis}, force=args.force)
    summary["files"]["losses.npz"] = outputs["losses.npz"]
  if args.plot:
    from jbp._plot import plot_population

    plot_population(losses[:, :, -1].T, args.plot, threshold=args.threshold, learning_rates=list(rates),
                    title=f"{'-'.join(map(str, sizes))} {args.activation} on {what}, {args.update}",
                    force=args.force)
    summary["files"]["plot"] = args.plot
  if args.out:
    save_json(outputs["summary.json"], summary, force=args.force)
    summary["files"]["summary.json"] = outputs["summary.json"]
  if args.json:
    print(json.dumps(summary, indent=2))
  else:
    _print_ensemble(args, summary, s, rows, sizes, what, seconds)
  if interrupted:
    where = f"partial results saved in {args.out}" if args.out else "nothing saved (no --out)"
    print(f"jbp: interrupted after {done} of {args.steps} steps; {where}", file=sys.stderr)
    return 130
  return 0


def _print_ensemble(args, summary, s, rows, sizes, what, seconds):
  print(f"{args.n} random {'-'.join(map(str, sizes))} {args.activation} networks ({args.init} init, seed "
        f"{args.seed}) on {what}: {summary['steps_done']} of {args.steps} steps, {args.update} order, "
        f"{summary['dtype']}, {seconds:.2f} s")
  qs = "  ".join(f"{'p' + format(100 * q, 'g'):>9}" for q in s.quantiles)
  print(f"{'learning rate':>13}  {'E < ' + format(args.threshold, 'g'):>10}  {'diverged':>8}  "
        f"{'median steps':>12}  {qs}")
  for row in rows:
    med = row["median_steps_to_threshold"]
    qv = "  ".join(f"{v:>9.3e}" for v in row["final_loss_quantiles"].values())
    print(f"{row['learning_rate']:>13g}  {row['converged']:>10.1%}  {row['diverged']:>8.1%}  "
          f"{'-' if med is None else f'{med:g}':>12}  {qv}")
  print("E < t: members whose final loss is below t; median steps: updates until it first was (among "
        "those); pNN: the final loss at the NN-th percentile of the population.")
  for path in summary["files"].values():
    print(f"wrote {path}")


def main(argv=None) -> int:
  parser = build_parser()
  try:
    args = parser.parse_args(argv)
    return args.func(args)
  except UsageError as e:
    print(str(e), file=sys.stderr)
    return 2
  except (ValueError, TypeError, OSError, ImportError) as e:
    message = " ".join(str(e).split())
    print(f"jbp: error: {message}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print("jbp: interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
