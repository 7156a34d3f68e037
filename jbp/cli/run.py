"""What ``jbp train`` and ``jbp ensemble`` share around the driver: resuming, checkpoints, the ending.

A run's options are stored in its checkpoint. ``--resume DIR`` reads them back: a flag typed again
must have the value the run was started with (a different one is an error naming it), and only
what does not change the numbers (outputs, progress, checkpoint interval, printing) may be new.
"""

from __future__ import annotations

import os
import re
import signal
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
  import argparse

  from numpy.typing import ArrayLike

  from jbp.cli.driver import Checkpoint
  from jbp.cli.outputs import Outputs

from jbp.cli.common import RUN_FILES
from jbp.cli.driver import CHECKPOINT, Progress, data_digest, given_flags, read_checkpoint, write_checkpoint
from jbp.cli.parser import UsageError, subparser, typed_flag
from jbp.cli.stop import exit_status

__all__ = ["PRESENTATION", "resume_args", "run_meta", "Checkpoints", "interrupted_status", "closing"]

PRESENTATION = frozenset({"resume", "out", "force", "plot", "html", "json", "no_progress", "checkpoint_every",
                          "command", "threshold"})
"""The flags that change no number of a run: they may differ when it is resumed."""


def run_meta(args: argparse.Namespace, x: ArrayLike, y: ArrayLike) -> dict:
  """What a checkpoint records of a run: jbp's version, the command, its options and the data's digest."""
  from jbp import __version__

  options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()
             if k not in PRESENTATION}
  return {"jbp": __version__, "command": args.command, "options": options, "data": data_digest(x, y)}


def resume_args(args: argparse.Namespace, argv: list[str],
                parser: argparse.ArgumentParser) -> tuple[argparse.Namespace, Checkpoint]:
  """``args`` with the options of the run in ``--resume DIR`` (and ``--out DIR``); the checkpoint too.

  Raises:
    UsageError: the folder holds no checkpoint of this command and version, or a typed flag
      differs from the run's.
  """
  from jbp import __version__

  _remove_stale_temporaries(args.resume)
  try:
    ckpt = read_checkpoint(args.resume)
  except ValueError as e:
    raise UsageError("--resume", str(e).split(": ", 1)[1]) from None
  meta = ckpt.meta
  if meta.get("jbp") != __version__:
    raise UsageError("--resume", f"expected a checkpoint written by jbp {__version__}, got one by jbp "
                                 f"{meta.get('jbp')} in {args.resume}; finish it with that version")
  if meta.get("command") != args.command:
    raise UsageError("--resume", f"expected a checkpoint of jbp {args.command}, got one of jbp "
                                 f"{meta.get('command')} in {args.resume}")
  if args.out is not None and os.path.abspath(args.out) != os.path.abspath(args.resume):
    raise UsageError("--out", f"expected no --out with --resume (the run is saved where it was, in "
                              f"{args.resume}), got {args.out}")
  sub = subparser(parser, args.command)
  given = given_flags(argv, sub)
  for dest, saved in meta["options"].items():
    mine = getattr(args, dest, None)
    mine = list(mine) if isinstance(mine, tuple) else mine
    if dest in given and mine != saved:
      flag = typed_flag(argv, next(a.option_strings for a in sub._actions if a.dest == dest))
      raise UsageError(flag, f"expected {_shown(saved)} as the run in {args.resume} was started, or no "
                             f"{flag}, got {_shown(mine)}")
    setattr(args, dest, tuple(saved) if isinstance(saved, list) else saved)
  args.out = args.resume
  return args, ckpt


def _remove_stale_temporaries(folder):
  """A checkpoint being written when the process was killed leaves its hidden temporary: remove it."""
  try:
    names = os.listdir(folder)
  except OSError:
    return
  for name in names:
    if re.fullmatch(rf"\.{re.escape(CHECKPOINT)}\.\w+\.tmp", name):
      os.unlink(os.path.join(folder, name))


def _shown(v):
  if isinstance(v, list):
    return ",".join(map(str, v))
  return str(v)


def check_data(ckpt: Checkpoint, x: ArrayLike, y: ArrayLike, folder: str | None) -> None:
  """The data must be what the run was trained on (a CSV file may have changed)."""
  if ckpt.meta.get("data") != data_digest(x, y):
    raise UsageError("--resume", f"expected the data the run in {folder} was trained on, got other data "
                                 f"(the CSV file changed?)")


class Checkpoints:
  """Writes a run's checkpoints into its ``--out`` folder (:func:`jbp.cli.driver.write_checkpoint`).

  The first one creates the folder; with ``--force`` over an earlier run, that run's files go then,
  so that the folder never mixes two runs.
  """

  def __init__(self, outputs: Outputs, folder: str, meta: dict):
    self.outputs, self.folder, self.meta = outputs, folder, meta
    self.written = False

  def __call__(self, progress: Progress) -> None:
    if not self.written and os.path.isdir(self.folder):
      for name in RUN_FILES:
        if name != CHECKPOINT and os.path.isfile(os.path.join(self.folder, name)):
          os.unlink(os.path.join(self.folder, name))
    write_checkpoint(self.folder, progress, self.meta)
    self.written = True
    self.outputs.own("--out")


def interrupted_status(signum: int) -> int:
  return exit_status(signum or signal.SIGINT)


def closing(prog: str, args, outputs, done: int, signum: int, *, what: str,
            loss: str = "") -> "tuple[int, str]":
  """A finished or stopped run's exit status and last line, true of what was just saved.

  ``what``: the saved arrays (``"params and losses"``); ``loss``: `` (E = ...)`` after the steps.
  """
  if done < args.steps:
    if args.out is not None:
      extra = f", and the figure in {outputs.target('--plot')}" if args.plot is not None else ""
      saved = (f"the {what} after {done} steps are saved in {args.out}{extra} (summary.json says "
               f"\"interrupted\": true); continue with: {prog} --resume {args.out}")
    elif args.plot is not None:
      saved = f"the figure of the first {done} steps is saved in {args.plot}"
    else:
      saved = "nothing saved (no --out or --plot)"
    line = f"{prog}: interrupted after {done} of {args.steps} steps{loss}; {saved}"
    return interrupted_status(signum), line
  if signum:
    return interrupted_status(signum), f"{prog}: interrupted after training finished; the run was saved whole"
  return 0, ""


def nothing_new(outputs: Outputs, prog: str, folder: str | None, done: int,
                steps: int) -> Callable[[int], tuple[int, str]]:
  """The ending of a run stopped before its first chunk: temporaries removed; a checkpoint, if any, kept."""

  def end(signum: int) -> tuple[int, str]:
    outputs.discard()
    if folder is not None and os.path.isfile(os.path.join(folder, CHECKPOINT)):
      return interrupted_status(signum), (f"{prog}: interrupted; the checkpoint in {folder} ({done} of "
                                          f"{steps} steps) is kept: jbp {prog.split()[-1]} --resume {folder}")
    return interrupted_status(signum), f"{prog}: interrupted; nothing saved"

  return end
