"""The ``jbp`` command line.

``jbp`` alone runs the worked example in float64 and prints each published
figure next to jbp's value under each update order. ``jbp explain`` prints the
derivation of one training step; ``jbp train`` trains a network on the worked
example, XOR or a CSV file and saves what it learnt; ``jbp ensemble`` trains a
population of random initializations at once.

The command line speaks one way:

* An error is one line on stderr, ``jbp <subcommand>: error: --flag: expected ...,
  got ...``, naming the flag as it was typed, and the exit status is 2.
* Every output (``--out``, ``--plot``) is checked before any work, and a run is
  all or nothing on disk (:mod:`jbp._outputs`): a failure leaves nothing, Ctrl-C
  leaves the run so far, complete and marked ``"interrupted": true``. Either way
  the last line says which, and Ctrl-C exits with status 130. SIGTERM stops a run
  as Ctrl-C does.
* Numbers have 9 significant digits, or scientific notation below 1e-4
  (:mod:`jbp._format`); ``jbp`` and ``jbp explain`` print the worked example's
  fixed 9 decimals, to be read against the published figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import sys
import threading
import time


class UsageError(Exception):
  """A bad argument: ``<prog>: error: <flag>: <message>`` on one line, exit status 2."""

  def __init__(self, flag: str, message: str, prog: str | None = None):
    super().__init__(f"{flag}: {message}" if flag else message)
    self.flag, self.message, self.prog = flag, message, prog


def _typed(argv, option_strings):
  """The option string the user typed last (``--lr`` or ``--learning-rate``); else the first."""
  for token in reversed(argv or ()):
    name = token.split("=", 1)[0]
    if name in option_strings:
      return name
  return option_strings[0]


def _reword(message: str, flag: str) -> str:
  """argparse's own messages in the one form, ``expected ..., got ...``."""
  m = re.fullmatch(r"invalid choice: (.*) \(choose from (.*)\)", message)
  if m:
    choices = ", ".join(c.strip().strip("'") for c in m.group(2).split(","))
    return f"expected one of {choices}, got {m.group(1)}"
  if re.fullmatch(r"expected (one|at least one|at most one) argument", message):
    return "expected a value, got none"
  m = re.fullmatch(r"not allowed with argument (.*)", message)
  if m:
    return f"expected at most one of {flag} and {m.group(1)}, got both"
  return message


class _Parser(argparse.ArgumentParser):
  """argparse with one error format, and no abbreviated flags (``--step`` is not ``--steps``)."""

  def __init__(self, *args, **kwargs):
    kwargs.setdefault("allow_abbrev", False)
    super().__init__(*args, **kwargs)

  def parse_known_args(self, args=None, namespace=None):
    self._argv = list(sys.argv[1:] if args is None else args)
    return super().parse_known_args(args, namespace)

  def parse_args(self, args=None, namespace=None):
    ns, extras = self.parse_known_args(args, namespace)
    if extras:
      command = getattr(ns, "command", None)
      prog = f"{self.prog} {command}" if command else self.prog
      token = extras[0]
      what = "an unknown one" if token.startswith("-") else "an unexpected argument"
      shown = token if token.isprintable() and token.split() == [token] else repr(token)
      raise UsageError(shown, f"expected an option listed by {prog} --help, got {what}", prog)
    return ns

  def error(self, message):
    err = sys.exc_info()[1]
    if isinstance(err, argparse.ArgumentError) and err.argument_name:
      names = err.argument_name.split("/")
      flag = _typed(getattr(self, "_argv", ()), names) if names[0].startswith("-") else names[0]
      raise UsageError(flag, _reword(err.message, flag), self.prog)
    raise UsageError("", message, self.prog)


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


def _got(text):
  """How a message shows what was typed: a number as it is, anything else quoted."""
  try:
    float(text)
  except ValueError:
    return repr(text)
  return text


def _rates(text):
  try:
    rates = tuple(float(s) for s in text.split(","))
  except ValueError:
    rates = ()
  if not rates or not all(0 < r < math.inf for r in rates):
    raise argparse.ArgumentTypeError(f"expected positive numbers separated by commas such as 0.1,0.5,2, "
                                     f"got {text!r}")
  return rates


def _positive_int(text):
  try:
    v = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
  if v < 1:
    raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {v}")
  return v


def _positive_number(text):
  try:
    v = float(text)
  except ValueError:
    v = math.nan
  if not 0 < v < math.inf:
    raise argparse.ArgumentTypeError(f"expected a positive finite number, got {_got(text)}")
  return v


def _fraction(text):
  try:
    v = float(text)
  except ValueError:
    v = math.nan
  if not 0 <= v < 1:
    raise argparse.ArgumentTypeError(f"expected a number from 0 up to (not including) 1, got {_got(text)}")
  return v


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


def _sizes_text(sizes):
  return ",".join(map(str, sizes))


def _add_network_options(p):
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
                 help="random init: uniform [0, 1) with one bias a layer, as the example's reference "
                      "program drew them (default, so runs reproduce its experiments), or glorot with one "
                      "bias a neuron (jbp.init_params's default, the usual choice for larger networks)")
  g.add_argument("--activation", choices=("sigmoid", "tanh", "relu", "identity"), default="sigmoid",
                 help="the activation of every layer, the output layer included (default sigmoid, as the "
                      "worked example and the library)")
  t = p.add_argument_group("training")
  t.add_argument("--learning-rate", "--lr", type=_positive_number, default=0.5, dest="learning_rate",
                 help="step size (default 0.5, the worked example's; jbp.train has no default)")
  t.add_argument("--update", choices=("simultaneous", "sequential"), default="simultaneous",
                 help="update order (default simultaneous, as the library; sequential reproduces the "
                      "published figures)")
  t.add_argument("--trainable", choices=("weights", "all"), default="weights",
                 help="what trains: the weights only, as the worked example (default, as the library), "
                      "or biases too")
  prec = p.add_mutually_exclusive_group()
  prec.add_argument("--float64", dest="float32", action="store_false",
                    help="compute in float64 (default: the command line turns 64-bit mode on for itself, to "
                         "match the published digits; the library keeps JAX's default, float32)")
  prec.add_argument("--float32", dest="float32", action="store_true", help="compute in float32")
  p.add_argument("--json", action="store_true", help="print machine-readable JSON")
  p.set_defaults(float32=False)
  return g


def build_parser() -> argparse.ArgumentParser:
  """The parser of ``jbp`` and its subcommands ``explain``, ``train`` and ``ensemble``.

  Each subcommand's parsed arguments carry ``func``, the function that runs it.
  A bad argument raises :class:`UsageError` (which :func:`main` prints as one
  line) instead of exiting.

  >>> from jbp.cli import build_parser
  >>> args = build_parser().parse_args(["explain", "--update", "sequential"])
  >>> args.command, args.update, args.func.__name__
  ('explain', 'sequential', 'cmd_explain')
  """
  from jbp import __version__

  parser = _Parser(
      prog="jbp",
      description="Backpropagation in JAX: the worked 2-2-2 example, reproduced digit for digit.",
      epilog=("examples:\n"
              "  jbp                 the worked example's published figures, both update orders\n"
              "  jbp --json          the same as JSON\n"
              "  jbp --float32       in float32 (will not match every digit)\n"
              "  jbp explain         the derivation of one training step, every number\n"
              "  jbp train --help    train on the worked example, XOR or your own CSV\n"
              "  jbp ensemble --help train many random initializations at once"),
      formatter_class=_RAW)
  parser.add_argument("--version", action="version", version=f"jbp {__version__}",
                      help="print jbp's version and exit")
  parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
  parser.add_argument("--float32", action="store_true",
                      help="compute in float32 instead of float64")
  parser.set_defaults(func=cmd_figures)
  sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

  ex = sub.add_parser("explain", help="print every number of one training step",
                      description="Print every intermediate value of one training step, computed by "
                                  "the same code that trains, to 9 decimals as the worked example prints "
                                  "them.",
                      epilog=EXPLAIN_EXAMPLES, formatter_class=_RAW)
  _add_network_options(ex)
  ex.add_argument("--format", choices=("text", "markdown", "json", "svg", "html"), default="text",
                  help="text for a terminal (default), Markdown with LaTeX math, JSON, the network as an SVG "
                       "drawing, or a self-contained HTML page that steps through the derivation on it")
  ex.add_argument("--step", type=_positive_int, default=1,
                  help="explain step K (K - 1 steps are trained first; default 1)")
  ex.add_argument("--names", choices=("worked", "systematic"),
                  help="the worked example's names (i1, h1, o1, w1..w8, b1, b2) or systematic ones (x1, "
                       "h1_1, y1, w1_11, b1: layer 1 is the input side, as in params.npz); default: worked "
                       "for a 2-2-2 network with one bias a layer")
  ex.add_argument("--out", metavar="FILE", help="write to FILE instead of printing")
  ex.add_argument("--force", action="store_true", help="replace an existing --out file")
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
  tr.add_argument("--momentum", type=_fraction, default=0.9,
                  help="momentum of --optimizer momentum, from 0 up to 1 (default 0.9)")
  _add_run_options(tr, records=1000, library="jbp.train",
                   out="params.npz, losses.npz and summary.json",
                   plot="the loss curve (log axis); for the worked example with sgd, both update orders")
  tr.add_argument("--html", metavar="FILE",
                  help="write a self-contained page of the run: the loss curve (for the worked example, both "
                       "update orders), the weights at each recorded step on a slider, outputs and settings "
                       "(sgd; networks of at most 4 layers of 8 neurons)")
  tr.set_defaults(func=cmd_train)

  en = sub.add_parser("ensemble", help="train a population of random initializations at once",
                      description="Train n random initializations of one network at once (one compiled "
                                  "program), at one or several learning rates, and report how many "
                                  "converge, when, and the spread of their final losses. Runs in chunks of "
                                  "about a second: a progress bar, and Ctrl-C saves what was done.",
                      epilog=ENSEMBLE_EXAMPLES, formatter_class=_RAW)
  _add_network_options(en)
  en.set_defaults(learning_rate=None)
  en.add_argument("--n", type=_positive_int, default=1000, help="population size (default 1000)")
  en.add_argument("--learning-rates", type=_rates, metavar="LR,LR,..", dest="learning_rates",
                  help="one or more learning rates (default 0.5; or --learning-rate); several make a "
                       "sweep: every member trained with every rate")
  en.add_argument("--threshold", type=_positive_number, default=1e-3,
                  help="a member has converged when its final loss is below this (default 0.001)")
  _add_run_options(en, records=100, library="jbp.train_many",
                   out="params.npz (the members' params), losses.npz and summary.json",
                   plot="the distribution of final losses and the convergence map (learning rate x "
                        "initialization)")
  en.set_defaults(func=cmd_ensemble)
  return parser


def _add_run_options(p, *, records: int, library: str, out: str, plot: str):
  """The options `train` and `ensemble` share: steps, recording, output files, progress."""
  p.add_argument("--steps", type=_positive_int, default=10_000,
                 help=f"updates (default 10000, the worked example's; {library} has no default)")
  p.add_argument("--record-every", type=_positive_int, dest="record_every",
                 help=f"record the loss every this many steps; must divide --steps (default: about {records} "
                      f"records; {library} records every step unless told)")
  p.add_argument("--out", metavar="DIR",
                 help=f"save {out} in DIR, a new or empty folder (or an earlier run's, with --force)")
  p.add_argument("--plot", metavar="PNG", help=f"write to PNG: {plot}")
  p.add_argument("--force", action="store_true", help="replace the files of an earlier run")
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
    for flag, value in (("--inputs", args.inputs), ("--targets", args.targets)):
      if value is not None:
        raise UsageError(flag, f"expected CSV column names with --data FILE.csv, got {value!r} with --data "
                               f"{args.data}, which has no columns")
    ex = worked_example(dtype) if args.data == "worked" else xor(dtype, key=jax.random.key(args.seed))
    params, x, y = ex.params, ex.inputs, ex.targets
    what = "the worked example" if args.data == "worked" else "XOR"
  else:
    for flag, value, kind in (("--inputs", args.inputs, "input"), ("--targets", args.targets, "target")):
      if not value:
        raise UsageError(flag, f"expected the {kind} columns of {args.data}, comma-separated, got none")
    x, y = load_csv(args.data, args.inputs, args.targets)
    x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
    params = None
    what = os.path.basename(args.data)
  n_in, n_out = x.shape[-1], y.shape[-1]
  sizes = args.sizes or (None if params is not None else (n_in, 4, n_out))
  if sizes is not None:
    if sizes[0] != n_in or sizes[-1] != n_out:
      raise UsageError("--sizes", f"expected sizes that start with {n_in} input{'s' * (n_in != 1)} and end "
                                  f"with {n_out} target{'s' * (n_out != 1)} for --data {args.data}, got "
                                  f"{_sizes_text(sizes)}")
    params = init_params(jax.random.key(args.seed), sizes, method=args.init,
                         shared_bias=args.init == "uniform", dtype=dtype)
  return params, x, y, what


def _outputs(args, folder_files=None):
  """The command's outputs (``--out``, ``--plot``, ``--html``), every one checked now, before any work.

  ``folder_files``: the files of an ``--out`` folder; ``None`` makes ``--out`` a file.
  """
  from jbp._outputs import Outputs

  if getattr(args, "plot", None) is not None:
    from jbp._plot import require_matplotlib

    require_matplotlib()
  outputs = Outputs(force=args.force)
  if args.out is not None:
    if folder_files is None:
      outputs.file("--out", args.out)
    else:
      outputs.folder("--out", args.out, folder_files)
  if getattr(args, "plot", None) is not None:
    outputs.file("--plot", args.plot)
  if getattr(args, "html", None) is not None:
    outputs.file("--html", args.html)
  outputs.prepare()
  return outputs


def _save(outputs, writes):
  """Writes ``[(flag, name, writer), ...]`` and places them all; Ctrl-C meanwhile waits until they are.

  Returns True if Ctrl-C came while saving (the run is saved whole all the same).
  """
  from jbp._outputs import deferred_interrupt

  try:
    with deferred_interrupt():
      for flag, name, writer in writes:
        outputs.write(flag, writer, name)
      outputs.commit()
  except KeyboardInterrupt:
    if not outputs.committed:
      raise
    return True
  return False


def cmd_explain(args) -> int:
  import jax.numpy as jnp

  from jbp import _explain
  from jbp._page import render_html
  from jbp._svg import render_svg
  from jbp._train import train

  sizes = args.sizes
  most_layers, most_neurons, most_examples = _explain.MAX_LAYERS, _explain.MAX_NEURONS, _explain.MAX_EXAMPLES
  if sizes and (len(sizes) - 1 > most_layers or max(sizes) > most_neurons):
    raise UsageError("--sizes", f"expected at most {most_layers} layers of at most {most_neurons} neurons "
                                f"(explain prints every quantity), got {_sizes_text(sizes)}")
  with _outputs(args) as outputs:
    params, x, y, what = _problem(args)
    worked_shape = [p.w.shape for p in params] == [(2, 2), (2, 2)] and all(jnp.ndim(p.b) == 0 for p in params)
    if args.names == "worked" and not worked_shape:
      raise UsageError("--names", "expected systematic (or no --names) for a network other than the worked "
                                  "example's 2-2-2 with one bias a layer, got worked")
    if x.ndim == 2 and x.shape[0] > most_examples:
      raise UsageError("--data", f"expected at most {most_examples} examples (explain prints every example's "
                                 f"terms), got {x.shape[0]} in {what}")
    kw = dict(activation=args.activation, trainable=args.trainable)
    if args.step > 1:
      params, _ = train(params, x, y, steps=args.step - 1, learning_rate=args.learning_rate,
                        update=args.update, record_every=args.step - 1, **kw)
    record = _explain.explain(params, x, y, learning_rate=args.learning_rate, update=args.update,
                              names=args.names, **kw)
    fmt = "json" if args.json else args.format
    if fmt == "json":
      text = json.dumps({"step": args.step, **json.loads(_explain.render_json(record))}, indent=2) + "\n"
    elif fmt == "markdown":
      text = _explain.render_markdown(record)
    elif fmt in ("svg", "html"):
      title = f"Step {args.step}: the params after {args.step - 1} step(s)" if args.step > 1 else None
      text = render_svg(record, title=title) if fmt == "svg" else render_html(record, title=title)
    else:
      text = _explain.render_text(record)
    if args.step > 1 and fmt in ("text", "markdown"):
      text = (f"Step {args.step}: the params after {args.step - 1} step{'s' if args.step > 2 else ''}.\n\n" if
              fmt == "text" else f"*Step {args.step}: the params after {args.step - 1} step(s).*\n\n") + text
    if args.out is None:
      sys.stdout.write(text)
      return 0
    late = _save(outputs, [("--out", None, lambda p: open(p, "w", encoding="utf-8").write(text))])
  if late:
    print(f"jbp explain: interrupted while saving; {args.out} was written whole first", file=sys.stderr)
    return 130
  return 0


def _record_every(args, target):
  """``--record-every``, or the smallest divisor of ``--steps`` recording at most about ``target`` losses."""
  steps, r = args.steps, args.record_every
  if r is None:
    r = next(r for r in range(max(1, -(-steps // target)), steps + 1) if steps % r == 0)
  if steps % r:
    raise UsageError("--record-every", f"expected a divisor of --steps {steps}, got {r}")
  return r


RUN_FILES = ("params.npz", "losses.npz", "summary.json")


def _saved_phrase(args, outputs, done, what):
  """What an interrupted run kept, and where."""
  if args.out is not None:
    extra = f", and the figure in {outputs.target('--plot')}" if args.plot is not None else ""
    return (f"{what} after {done} steps {'are' if ' and ' in what else 'is'} saved in {args.out}{extra} "
            f"(summary.json says \"interrupted\": true)")
  if args.plot is not None:
    return f"the figure of the first {done} steps is saved in {args.plot}"
  return "nothing saved (no --out or --plot)"


def cmd_train(args) -> int:
  import numpy as np
  import optax

  from jbp import _data, _plot, _progress
  from jbp._bar import ProgressBar
  from jbp._format import number, numbers
  from jbp._network import forward
  from jbp._optimizer import Optimizer
  from jbp._train import train

  if args.optimizer != "sgd" and args.update == "sequential":
    raise UsageError("--update", f"expected simultaneous with --optimizer {args.optimizer} (the sequential "
                                 "order is defined for plain SGD), got sequential")
  if args.html is not None and args.optimizer != "sgd":
    raise UsageError("--html", f"expected --optimizer sgd (the page records the params at each recorded "
                               f"step of plain SGD), got --optimizer {args.optimizer}")
  r = _record_every(args, 1000)
  with _outputs(args, RUN_FILES) as outputs:
    params, x, y, what = _problem(args)
    if args.html is not None:
      from jbp._explain import MAX_LAYERS, MAX_NEURONS

      sizes = (params[0].w.shape[1],) + tuple(p.w.shape[0] for p in params)
      if len(params) > MAX_LAYERS or max(sizes) > MAX_NEURONS:
        raise UsageError("--html", f"expected a network of at most {MAX_LAYERS} layers of at most "
                                   f"{MAX_NEURONS} neurons (the page draws every weight), got "
                                   f"{_sizes_text(sizes)}")
    kw = dict(activation=args.activation, trainable=args.trainable)
    if args.optimizer == "sgd":
      kw.update(learning_rate=args.learning_rate, update=args.update)
    else:  # float hyperparameters are values of the compiled program, not constants in it
      kw["optimizer"] = (Optimizer(optax.sgd, learning_rate=args.learning_rate, momentum=args.momentum)
                         if args.optimizer == "momentum" else
                         Optimizer(optax.adam, learning_rate=args.learning_rate))
    t0 = time.perf_counter()
    with ProgressBar(args.steps, disabled=args.no_progress) as bar:
      final, losses, done, interrupted = _progress.train_chunked(
          params, x, y, steps=args.steps, chunk_steps=_progress.default_chunk(args.steps, r), record_every=r,
          callback=lambda done, loss: bar.update(done, f"E {number(loss)}"), catch_interrupt=True, **kw)
    losses = np.asarray(losses)
    seconds = time.perf_counter() - t0
    steps_axis = np.arange(len(losses)) * r
    if interrupted:
      steps_axis[-1] = done  # the last entry is the loss after the last completed update

    sizes = tuple(int(p.w.shape[1]) for p in final[:1]) + tuple(int(p.w.shape[0]) for p in final)
    out = np.asarray(forward(final, x, activation=args.activation))
    files = {name: outputs.target("--out", name) for name in RUN_FILES} if args.out is not None else {}
    if args.plot is not None:
      files["plot"] = outputs.target("--plot")
    if args.html is not None and done:
      files["html"] = outputs.target("--html")
    summary = {
        "data": what, "sizes": list(sizes), "activation": args.activation, "init": args.init if args.sizes
        else "example", "seed": args.seed, "optimizer": args.optimizer, "learning_rate": args.learning_rate,
        "update": args.update, "trainable": args.trainable, "dtype": str(losses.dtype),
        "steps": args.steps, "steps_done": done, "interrupted": interrupted, "record_every": r,
        "loss_initial": float(losses[0]), "loss_final": float(losses[-1]), "seconds": round(seconds, 3),
        "outputs": out.reshape(-1, out.shape[-1]).tolist() if out.size <= 64 else None, "files": files,
    }
    writes, one_order = [], False
    if args.out is not None:
      writes += [("--out", "params.npz", lambda p: _data.save_params(p, final)),
                 ("--out", "losses.npz", lambda p: _data.save_npz(p, {"step": steps_axis, "loss": losses}))]
    if args.plot is not None:
      label = f"sgd, {args.update} order" if args.optimizer == "sgd" else args.optimizer
      curves = {label: (steps_axis, losses)}
      if args.data == "worked" and args.optimizer == "sgd" and not args.sizes and not interrupted:
        other = "sequential" if args.update == "simultaneous" else "simultaneous"
        try:
          _, other_losses = train(params, x, y, steps=args.steps, record_every=r, update=other,
                                  learning_rate=args.learning_rate, activation=args.activation,
                                  trainable=args.trainable)
          curves = {args.update: (steps_axis, losses), other: (steps_axis, np.asarray(other_losses))}
        except KeyboardInterrupt:  # the run itself is complete: save it, with one curve
          one_order = True
      title = (f"{'-'.join(map(str, sizes))} {args.activation} network on {what}, {args.optimizer} "
               f"learning rate {number(args.learning_rate)}")
      writes.append(("--plot", None, lambda p: _plot.plot_losses(curves, p, title=title)))
    if args.html is not None and done:
      page = _training_page(args, params, x, y, done, r,
                            compare=args.data == "worked" and not args.sizes and not interrupted)
      writes.append(("--html", None, lambda p: open(p, "w", encoding="utf-8").write(page)))
    if args.out is not None:
      writes.append(("--out", "summary.json", lambda p: _data.save_json(p, summary)))
    late = _save(outputs, writes)

  if args.json:
    print(json.dumps(summary, indent=2))
  else:
    print(f"trained a {'-'.join(map(str, sizes))} {args.activation} network on {what} "
          f"({summary['dtype']}): {done} of {args.steps} steps, {args.optimizer} learning rate "
          f"{number(args.learning_rate)}, {args.update} order, {seconds:.2f} s")
    print(f"E before: {number(losses[0])}   E after: {number(losses[-1])}")
    if summary["outputs"] is not None and len(summary["outputs"]) <= 8:
      for xi, yi, oi in zip(np.atleast_2d(np.asarray(x)), np.atleast_2d(np.asarray(y)), np.atleast_2d(out)):
        print(f"  x {numbers(xi)}  target {numbers(yi)}  out {numbers(oi)}")
    for path in files.values():
      print(f"wrote {path}")
  if interrupted:
    print(f"jbp train: interrupted after {done} of {args.steps} steps (E = {number(losses[-1])}); "
          f"{_saved_phrase(args, outputs, done, 'the params and losses')}", file=sys.stderr)
    return 130
  if one_order or late:
    also = "; the figure shows one update order" if one_order else ""
    print(f"jbp train: interrupted after training finished; the run was saved whole{also}", file=sys.stderr)
    return 130
  return 0


def _training_page(args, params, x, y, steps, record_every, *, compare):
  """The page of ``jbp train --html``: the run recorded again, keeping the params at each recorded step.

  Plain SGD repeats bit for bit, so the recording equals the run just made; for the worked example,
  the other update order is drawn beside it.
  """
  from jbp._run import record_training, render_training
  from jbp._train import train

  kw = dict(learning_rate=args.learning_rate, activation=args.activation, trainable=args.trainable)
  run = record_training(params, x, y, steps=steps, record_every=record_every, update=args.update, **kw)
  others = None
  if compare:
    other = "sequential" if args.update == "simultaneous" else "simultaneous"
    others = {other: train(params, x, y, steps=steps, record_every=record_every, update=other, **kw)[1]}
  return render_training(run, compare=others)


def cmd_ensemble(args) -> int:
  import functools

  import jax
  import jax.numpy as jnp
  import numpy as np

  import jbp
  from jbp import _data, _plot
  from jbp._bar import ProgressBar
  from jbp._chunks import train_many_chunked
  from jbp._format import number

  if args.learning_rate is not None and args.learning_rates is not None:
    raise UsageError("--learning-rates", "expected either --learning-rate or --learning-rates, got both")
  rates = args.learning_rates or ((args.learning_rate,) if args.learning_rate is not None else (0.5,))
  r = _record_every(args, 100)
  with _outputs(args, RUN_FILES) as outputs:
    example, x, y, what = _problem(args)
    sizes = args.sizes or tuple([int(x.shape[-1])] + [int(p.w.shape[0]) for p in example])
    dtype = jnp.float32 if args.float32 else jnp.float64
    m = len(rates)
    t0 = time.perf_counter()
    with ProgressBar(args.steps, disabled=args.no_progress) as bar:
      pop = jbp.init_many(jax.random.key(args.seed), args.n, sizes, method=args.init,
                          shared_bias=args.init == "uniform", dtype=dtype)
      # Every member at every rate: member i, rate j is entry i * m + j (as jbp.sweep lays them out).
      grid = jax.tree_util.tree_map(lambda a: jnp.repeat(a, m, axis=0), pop)
      lrs = jnp.tile(jnp.asarray(rates, dtype), args.n) if m > 1 else rates[0]
      step = functools.partial(jbp.train_many, x=x, y=y, learning_rate=lrs, update=args.update,
                               activation=args.activation, trainable=args.trainable)

      def progress(done, last):
        finite = last[np.isfinite(last)]
        bar.update(done, f"median E {number(np.median(finite)) if finite.size else 'nan'}")

      run = train_many_chunked(step, grid, steps=args.steps, record_every=r, callback=progress)
    seconds = time.perf_counter() - t0
    done = run.steps_done
    losses = run.losses.reshape(args.n, m, -1)  # (n, m, T)
    s = jbp.summarize(losses, args.threshold, record_every=r)
    first_step = np.where(s.first_step >= 0, run.steps[s.first_step // r], -1)  # the last may be off-grid
    rows = []
    for j, lr in enumerate(rates):
      reached = first_step[:, j][first_step[:, j] >= 0]
      rows.append({
          "learning_rate": lr, "converged": float(s.fraction[j]), "diverged": float(s.fraction_diverged[j]),
          "median_steps_to_threshold": float(np.median(reached)) if reached.size else None,
          "final_loss_quantiles": {f"{q:g}": float(v) for q, v in zip(s.quantiles, s.final_quantiles[:, j])},
      })
    files = {name: outputs.target("--out", name) for name in RUN_FILES} if args.out is not None else {}
    if args.plot is not None:
      files["plot"] = outputs.target("--plot")
    summary = {"data": what, "sizes": list(sizes), "activation": args.activation, "init": args.init,
               "seed": args.seed, "n": args.n, "steps": args.steps, "steps_done": done,
               "interrupted": run.interrupted, "update": args.update,
               "trainable": args.trainable, "dtype": jnp.dtype(dtype).name, "threshold": args.threshold,
               "record_every": r, "seconds": round(seconds, 3), "learning_rates": rows, "files": files}
    writes = []
    if args.out is not None:
      # The members' params as train_many (n, ...) or sweep (n, m, ...) return them.
      lead = (args.n, m) if m > 1 else (args.n,)
      members = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape(lead + a.shape[1:]), tuple(run.params))
      writes += [("--out", "params.npz", lambda p: _data.save_params(p, members)),
                 ("--out", "losses.npz", lambda p: _data.save_npz(p, {
                     "learning_rates": np.asarray(rates), "losses": losses, "step": run.steps}))]
    if args.plot is not None:
      title = f"{'-'.join(map(str, sizes))} {args.activation} on {what}, {args.update}"
      writes.append(("--plot", None, lambda p: _plot.plot_population(
          losses[:, :, -1].T, p, threshold=args.threshold, learning_rates=list(rates), title=title)))
    if args.out is not None:
      writes.append(("--out", "summary.json", lambda p: _data.save_json(p, summary)))
    late = _save(outputs, writes)

  if args.json:
    print(json.dumps(summary, indent=2))
  else:
    _print_ensemble(args, summary, rows, sizes, what, seconds)
  if run.interrupted:
    print(f"jbp ensemble: interrupted after {done} of {args.steps} steps; "
          f"{_saved_phrase(args, outputs, done, 'the members' + chr(39) + ' params and losses')}",
          file=sys.stderr)
    return 130
  if late:
    print("jbp ensemble: interrupted after training finished; the run was saved whole", file=sys.stderr)
    return 130
  return 0


def _print_ensemble(args, summary, rows, sizes, what, seconds):
  from jbp._format import number

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


def _library_error(e, parser, argv, command):
  """``(flag, message)`` of a library error ``"name: ..."``, the name turned into the flag that sets it."""
  if getattr(e, "flag", None):  # an output error names its flag itself
    return e.flag, e.message
  message = " ".join(str(e).split())
  m = re.match(r"([a-z_]+)(?:\[\d+\])?(?:\.\w+)?: (.*)", message)
  if m is None:
    return "", message
  dest = {"x": "data", "y": "data", "params": "sizes"}.get(m.group(1), m.group(1))
  p = parser
  if command is not None:
    p = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
  for action in p._actions:
    if action.dest == dest and action.option_strings:
      return _typed(argv, action.option_strings), m.group(2)
  return "", message


@contextlib.contextmanager
def _terminate_as_interrupt():
  """While a command runs, SIGTERM stops it as Ctrl-C does: what was done is saved, or nothing is."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return

  def stop(signum, frame):
    raise KeyboardInterrupt

  before = signal.signal(signal.SIGTERM, stop)
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, before if before is not None else signal.SIG_DFL)


def main(argv=None) -> int:
  """Runs ``jbp`` with the arguments ``argv`` (``None``: ``sys.argv[1:]``).

  Args:
    argv: the arguments after the program's name, a list of ``str``.

  Returns:
    the exit status: 0 on success, 2 for a bad argument or bad data (one line on
    stderr, no traceback), 130 when Ctrl-C stopped a run (what was done is saved).

  >>> from jbp.cli import main
  >>> main(["explain", "--step", "0"])  # prints "jbp explain: error: --step: ..." on stderr
  2
  """
  argv = sys.argv[1:] if argv is None else list(argv)
  parser = build_parser()
  prog, command = "jbp", None
  try:
    args = parser.parse_args(argv)
    command = args.command
    prog = f"jbp {command}" if command else "jbp"
    with _terminate_as_interrupt():
      return args.func(args)
  except UsageError as e:
    where = e.prog or prog
    print(f"{where}: error: {e.flag}: {e.message}" if e.flag else f"{where}: error: {e.message}",
          file=sys.stderr)
    return 2
  except (ValueError, TypeError, OSError, ImportError) as e:
    flag, message = _library_error(e, parser, argv, command)
    print(f"{prog}: error: {flag}: {message}" if flag else f"{prog}: error: {message}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print(f"{prog}: interrupted; nothing saved", file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
