"""The ``jbp`` command line's parser: every flag, its check and its help, without importing JAX.

An error is one line, ``jbp <subcommand>: error: --flag: expected ..., got ...``,
naming the flag as it was typed (:class:`UsageError`); :func:`build_parser` is cheap
to call, so ``jbp --help`` and ``jbp --version`` answer before JAX is loaded.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from typing import Any, Iterable, Sequence, TypeVar, overload

from jbp._show.names import MAX_LAYERS, MAX_NEURONS

__all__ = ["UsageError", "build_parser", "typed_flag", "EXPLAIN_EXAMPLES", "TRAIN_EXAMPLES",
           "ENSEMBLE_EXAMPLES", "sizes_text", "subparser"]

class UsageError(Exception):
  """A bad argument: ``<prog>: error: <flag>: <message>`` on one line, exit status 2."""

  def __init__(self, flag: str, message: str, prog: str | None = None):
    super().__init__(f"{flag}: {message}" if flag else message)
    self.flag, self.message, self.prog = flag, message, prog


def typed_flag(argv: Sequence[str] | None, option_strings: Sequence[str]) -> str:
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


_N = TypeVar("_N")


class _Parser(argparse.ArgumentParser):
  """argparse with one error format, and no abbreviated flags (``--step`` is not ``--steps``)."""

  def __init__(self, *args, **kwargs):
    kwargs.setdefault("allow_abbrev", False)
    super().__init__(*args, **kwargs)

  # The overloads repeat typeshed's, which an override must match one by one.
  @overload
  def parse_known_args(self, args: Iterable[str] | None = None,
                       namespace: None = None) -> tuple[argparse.Namespace, list[str]]: ...
  @overload
  def parse_known_args(self, args: Iterable[str] | None, namespace: _N) -> tuple[_N, list[str]]: ...
  @overload
  def parse_known_args(self, *, namespace: _N) -> tuple[_N, list[str]]: ...

  def parse_known_args(self, args: Iterable[str] | None = None,
                       namespace: Any = None) -> tuple[Any, list[str]]:
    self._argv = list(sys.argv[1:] if args is None else args)
    return super().parse_known_args(args, namespace)

  @overload
  def parse_args(self, args: Iterable[str] | None = None, namespace: None = None) -> argparse.Namespace: ...
  @overload
  def parse_args(self, args: Iterable[str] | None, namespace: _N) -> _N: ...
  @overload
  def parse_args(self, *, namespace: _N) -> _N: ...

  def parse_args(self, args: Iterable[str] | None = None, namespace: Any = None) -> Any:
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
      flag = typed_flag(getattr(self, "_argv", ()), names) if names[0].startswith("-") else names[0]
      raise UsageError(flag, _reword(err.message, flag), self.prog)
    raise UsageError("", message, self.prog)


class _Help(argparse.HelpFormatter):
  """Wraps a one-paragraph description to the terminal, as the flags' help is wrapped; keeps text of
  several lines (the examples) as written."""

  def _fill_text(self, text, width, indent):
    if "\n" in text:
      return "".join(indent + line for line in text.splitlines(keepends=True))
    return super()._fill_text(text, width, indent)


_RAW = _Help

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


def _number(text, ok, expected):
  """``text`` as a float for which ``ok`` holds (NaN never does), else argparse's error saying what was
  expected."""
  try:
    v = float(text)
  except ValueError:
    v = math.nan
  if not ok(v):
    raise argparse.ArgumentTypeError(f"expected {expected}, got {_got(text)}")
  return v


def _positive_number(text):
  return _number(text, lambda v: 0 < v < math.inf, "a positive finite number")


def _fraction(text):
  return _number(text, lambda v: 0 <= v < 1, "a number from 0 up to (not including) 1")


def _seconds(text):
  return _number(text, lambda v: 0 <= v < math.inf, "a number of seconds >= 0 (0: no checkpoints)")


def _positive_int(text):
  try:
    v = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
  if v < 1:
    raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {v}")
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


def sizes_text(sizes: Iterable[int]) -> str:
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
  prec = t.add_mutually_exclusive_group()
  prec.add_argument("--float64", dest="float32", action="store_false",
                    help="compute in float64 (default: the command line turns 64-bit mode on for itself, to "
                         "match the published digits; the library keeps JAX's default, float32)")
  prec.add_argument("--float32", dest="float32", action="store_true", help="compute in float32")
  p.add_argument("--json", action="store_true", help="print machine-readable JSON")
  p.set_defaults(float32=False)
  return g


def build_parser() -> argparse.ArgumentParser:
  """The parser of ``jbp`` and its subcommands ``explain``, ``train`` and ``ensemble``.

  A bad argument raises :class:`UsageError` (which :func:`jbp.cli.main` prints as
  one line) instead of exiting.

  >>> from jbp.cli import build_parser
  >>> args = build_parser().parse_args(["explain", "--update", "sequential"])
  >>> args.command, args.update
  ('explain', 'sequential')
  """
  from jbp import __version__  # jbp's __init__ imports nothing heavy until a name is used

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
  parser.set_defaults(command=None)
  sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

  ex = sub.add_parser("explain", help="print every number of one training step",
                      description="Print every intermediate value of one training step, computed by "
                                  "the same code that trains, to 9 decimals as the worked example prints "
                                  "them.",
                      epilog=EXPLAIN_EXAMPLES, formatter_class=_RAW)
  _add_network_options(ex)
  d = ex.add_argument_group("the derivation")
  d.add_argument("--format", choices=("text", "markdown", "json", "svg", "html"), default="text",
                  help="text for a terminal (default), Markdown with LaTeX math, JSON, the network as an SVG "
                       "drawing, or a self-contained HTML page that steps through the derivation on it")
  d.add_argument("--step", type=_positive_int, default=1,
                  help="explain step K (K - 1 steps are trained first; default 1)")
  d.add_argument("--names", choices=("worked", "systematic"),
                  help="the worked example's names (i1, h1, o1, w1..w8, b1, b2) or systematic ones (x1, "
                       "h1_1, y1, w1_11, b1: layer 1 is the input side, as in params.npz); default: worked "
                       "for a 2-2-2 network with one bias a layer")
  o = ex.add_argument_group("outputs")
  o.add_argument("--out", metavar="FILE", help="write to FILE instead of printing")
  o.add_argument("--force", action="store_true", help="replace an existing --out file")
  ex.set_defaults(command="explain")

  tr = sub.add_parser("train", help="train a network and save params, losses and a summary",
                      description="Train a network on the worked example, XOR or a CSV file, in one "
                                  "compiled loop run in chunks (a progress bar for long runs; Ctrl-C "
                                  "stops and saves what was done).",
                      epilog=TRAIN_EXAMPLES, formatter_class=_RAW)
  _add_network_options(tr)
  training = next(g for g in tr._action_groups if g.title == "training")
  training.add_argument("--optimizer", choices=("sgd", "momentum", "adam"), default="sgd",
                  help="sgd (default; either update order), or momentum / adam via optax "
                       "(simultaneous order)")
  training.add_argument("--momentum", type=_fraction, default=0.9,
                  help="momentum of --optimizer momentum, from 0 up to 1 (default 0.9)")
  _add_run_options(tr, records=1000, library="jbp.train",
                   out="params.npz, losses.npz and summary.json",
                   plot="the loss curve (log axis); for the worked example with sgd, both update orders")
  outputs = next(g for g in tr._action_groups if g.title == "outputs and long runs")
  outputs.add_argument("--html", metavar="FILE",
                       help="write a self-contained page of the run: the loss curve (for the worked example, "
                            "both update orders), the weights at each recorded step on a slider, outputs and "
                            f"settings (sgd; networks of at most {MAX_LAYERS} layers of {MAX_NEURONS} "
                            "neurons)")
  tr.set_defaults(command="train")

  en = sub.add_parser("ensemble", help="train a population of random initializations at once",
                      description="Train n random initializations of one network at once (one compiled "
                                  "program), at one or several learning rates, and report how many "
                                  "converge, when, and the spread of their final losses. Runs in chunks of "
                                  "about half a second: a progress bar, and Ctrl-C saves what was done.",
                      epilog=ENSEMBLE_EXAMPLES, formatter_class=_RAW)
  _add_network_options(en)
  en.set_defaults(learning_rate=None)
  pop = en.add_argument_group("population")
  pop.add_argument("--n", type=_positive_int, default=1000, help="population size (default 1000)")
  pop.add_argument("--learning-rates", type=_rates, metavar="LR,LR,..", dest="learning_rates",
                  help="one or more learning rates (default 0.5; or --learning-rate); several make a "
                       "sweep: every member trained with every rate")
  pop.add_argument("--threshold", type=_positive_number, default=1e-3,
                  help="a member has converged when its final loss E, the sum of 0.5 (target - out)^2 "
                       "over outputs and examples, is below this (default 0.001); with a data set of N "
                       "examples, N times the mean you want")
  _add_run_options(en, records=100, library="jbp.train_many",
                   out="params.npz (the members' params), losses.npz and summary.json",
                   plot="the distribution of final losses and the convergence map (learning rate x "
                        "initialization)")
  en.set_defaults(command="ensemble")
  return parser


MOST_STEPS = 2**53  # a run's updates: exact in a float64, and centuries of training


def _steps(text):
  v = _positive_int(text)
  if v > MOST_STEPS:
    raise argparse.ArgumentTypeError(f"expected an integer from 1 to 2**53 = {MOST_STEPS}, got {v}")
  return v


def _add_run_options(p, *, records: int, library: str, out: str, plot: str):
  """The options `train` and `ensemble` share: steps, recording, output files, checkpoints, progress."""
  t = next(g for g in p._action_groups if g.title == "training")
  t.add_argument("--steps", type=_steps, default=10_000,
                 help=f"updates (default 10000, the worked example's; {library} has no default)")
  t.add_argument("--record-every", type=_positive_int, dest="record_every",
                 help=f"record the loss every this many steps, and after the last (default: about {records} "
                      f"records; {library} records every step unless told)")
  o = p.add_argument_group("outputs and long runs")
  o.add_argument("--out", metavar="DIR",
                 help=f"save {out} in DIR, a new or empty folder (or an earlier run's, with --force); a "
                      f"run stopped early is saved there too, with a checkpoint to resume from")
  o.add_argument("--plot", metavar="PNG", help=f"write to PNG: {plot}")
  o.add_argument("--force", action="store_true", help="replace the files of an earlier run")
  o.add_argument("--checkpoint-every", type=_seconds, default=60.0, metavar="SECONDS",
                 dest="checkpoint_every",
                 help="with --out, save DIR/checkpoint.npz every this many seconds of training, so that a "
                      "killed run loses at most that much (default 60; 0: only when stopped)")
  o.add_argument("--resume", metavar="DIR",
                 help="continue the run saved in DIR (stopped by Ctrl-C, SIGTERM or a kill) from its "
                      "checkpoint, with its own options, and save the whole run there")
  o.add_argument("--no-progress", action="store_true",
                 help="no progress bar (there is none where stderr is not a terminal)")


def subparser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
  """The parser of ``command`` (``"train"``), or ``parser`` itself for None."""
  if command is None:
    return parser
  return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
