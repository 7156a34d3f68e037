"""The ``jbp`` command line.

``jbp`` alone runs the worked example in float64 and prints each published
figure next to jbp's value under each update order. ``jbp explain`` prints the
derivation of one training step; ``jbp train`` trains a network on the worked
example, XOR or a CSV file and saves what it learnt; ``jbp ensemble`` trains a
population of random initializations at once.

The command line speaks one way:

* An error is one line on stderr, ``jbp <subcommand>: error: --flag: expected ...,
  got ...``, naming the flag as it was typed, and the exit status is 2.
* Every output (``--out``, ``--plot``, ``--html``) is checked before any work, and a
  run is all or nothing on disk (:mod:`jbp.cli.outputs`).
* Ctrl-C and SIGTERM are answered at any moment (:mod:`jbp.cli.stop`): what was done
  is saved, with a checkpoint to ``--resume`` from, the last line on stderr says
  what is on disk, and the exit status is 130 (SIGINT) or 143 (SIGTERM). Long runs
  write a checkpoint every ``--checkpoint-every`` seconds (:mod:`jbp.cli.driver`).
* Numbers have 9 significant digits, or scientific notation below 1e-4
  (:mod:`jbp._format`); ``jbp`` and ``jbp explain`` print the worked example's
  fixed 9 decimals, to be read against the published figures.

The layers: :mod:`jbp.cli.parser` (flags, no JAX), :mod:`jbp.cli.stop` (signals),
:mod:`jbp.cli.outputs` (files), :mod:`jbp.cli.driver` (chunks and checkpoints),
and one module a command, each importing JAX and the library only when it runs.
"""

from __future__ import annotations

import sys

from jbp.cli.stop import Stop, exit_status

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, as jbp/__init__.py
if TYPE_CHECKING:
  from jbp.cli.parser import UsageError, build_parser  # loaded on first use, by __getattr__

__all__ = ["main", "program", "build_parser", "UsageError"]

COMMANDS = {None: "figures", "explain": "explain", "train": "train", "ensemble": "ensemble"}


def program() -> None:
  """The ``jbp`` program (``python -m jbp``, the ``jbp`` entry point): :func:`main` with the signal policy
  of :mod:`jbp.cli.stop`, leaving with its exit status without ever returning."""
  stop = Stop(_prog(sys.argv[1:]), exits=True)
  stop.watch()  # before argparse, JAX or anything else starts a thread
  status = main(sys.argv[1:], stop=stop)  # a command that saves ends the process itself
  stop.end(lambda signum: (exit_status(signum) if signum else status, ""))


def _prog(argv: list[str]) -> str:
  """``"jbp train"``: the program's name for its messages, known before anything is parsed."""
  return f"jbp {argv[0]}" if argv and argv[0] in COMMANDS else "jbp"


def main(argv: list[str] | None = None, *, stop: Stop | None = None) -> int:
  """Runs ``jbp`` with the arguments ``argv`` (``None``: ``sys.argv[1:]``), in this process.

  Args:
    argv: the arguments after the program's name, a list of ``str``.
    stop: the stop policy (the program's; in-process callers get one without a signal watcher,
      where Ctrl-C is a ``KeyboardInterrupt``).

  Returns:
    the exit status: 0 on success, 2 for a bad argument or bad data (one line on
    stderr, no traceback), 130 when Ctrl-C stopped a run (143 for SIGTERM).

  >>> from jbp.cli import main
  >>> main(["explain", "--step", "0"])  # prints "jbp explain: error: --step: ..." on stderr
  2
  """
  import importlib

  from jbp.cli.common import library_error
  from jbp.cli.parser import UsageError, build_parser

  argv = sys.argv[1:] if argv is None else list(argv)
  parser = build_parser()
  prog, command = "jbp", None
  stop = stop or Stop(_prog(argv))
  try:
    args = parser.parse_args(argv)
    command = args.command
    prog = f"jbp {command}" if command else "jbp"
    stop.prog = prog
    module = importlib.import_module(f"jbp.cli.{COMMANDS[command]}")
    return module.run(args, stop, argv, parser)
  except UsageError as e:
    where = e.prog or prog
    print(f"{where}: error: {e.flag}: {e.message}" if e.flag else f"{where}: error: {e.message}",
          file=sys.stderr)
    return 2
  except (ValueError, TypeError, OSError, ImportError) as e:
    flag, message = library_error(e, parser, argv, command)
    print(f"{prog}: error: {flag}: {message}" if flag else f"{prog}: error: {message}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:  # in-process only: the program's signals never raise
    print(f"{prog}: interrupted; nothing saved", file=sys.stderr)
    return 130


def __getattr__(name: str) -> object:
  if name in ("build_parser", "UsageError"):
    from jbp.cli import parser

    return getattr(parser, name)
  if name in ("EXPLAIN_EXAMPLES", "TRAIN_EXAMPLES", "ENSEMBLE_EXAMPLES"):
    from jbp.cli import parser

    return getattr(parser, name)
  raise AttributeError(f"module 'jbp.cli' has no attribute {name!r}")
