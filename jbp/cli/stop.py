"""The one answer to Ctrl-C and SIGTERM: at any moment, within a second, truthful about what is on disk.

How a ``jbp`` process stops (:func:`jbp.cli.program`):

* At start-up, before JAX is imported, SIGINT and SIGTERM are blocked in every thread, and one
  watcher thread takes them with ``signal.sigwait``. No ``KeyboardInterrupt`` is ever raised: one
  raised inside a garbage-collection callback is printed as "Exception ignored" and dropped (JAX's
  ``_xla_gc_callback``, jax-ml/jax#18246), which swallowed early Ctrl-Cs, and one raised while XLA
  compiles left the compile running in its thread pool, so that the interpreter's finalization
  crashed (a null function pointer called in ``PjRtLoadedExecutable::Create``: a segmentation
  fault, exit status -11, in 9 of 19 early interrupts).
* A command tells :class:`Stop` how it would end now, :meth:`Stop.ending`: a function that saves
  what is done and returns the exit status and the last line. Until a command says otherwise the
  ending is "nothing saved" (temporaries removed). The run driver (:mod:`jbp.cli.driver`) moves
  the ending forward after each chunk.
* On a signal the watcher asks the main thread to end (:attr:`Stop.requested`), which the run
  driver checks between chunks and while it waits for one. If the main thread has not taken over
  within :data:`TAKEOVER` seconds (it may be inside a compile, which no signal interrupts), the
  watcher runs the ending itself. Either way exactly one ending runs, under one lock, and the
  process leaves with ``os._exit`` once stdout and stderr are flushed: every file is placed or
  removed by then, and nothing XLA still runs can crash the exit. Measured on the report's
  reproduction (a JAX script interrupting an 8 s compile): ``os._exit`` gave 0 crashes in 12 tries,
  a normal exit 7 in 8.
* The exit status is 130 for SIGINT and 143 for SIGTERM (128 + the signal's number, as a shell
  reports it), never a negative one. A second signal while the ending saves is ignored: the save
  is short, and stopping it half-way would lose what it saves.

In-process callers (``jbp.cli.main(argv)`` from Python, the tests) get no watcher: a Ctrl-C is
Python's ``KeyboardInterrupt``, which the run driver turns into the same ending.

``JBP_TRACE=FILE`` makes a process append one line to FILE at each event of a run: ``ready``
(signals are answered from now on), ``chunk DONE`` (a chunk finished and its state is kept),
``checkpoint DONE`` (written), ``end STATUS``. Scripts that supervise runs, and the tests, wait
for these lines instead of guessing times.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
  from jbp.cli.bar import ProgressBar
  from jbp.cli.driver import Progress

__all__ = ["STOPS", "TAKEOVER", "Stop", "exit_status", "trace"]

STOPS = (signal.SIGINT, signal.SIGTERM)
TAKEOVER = 0.3  # seconds the watcher waits for the main thread to take over an ending

Ending = Callable[[int], "tuple[int, str]"]


def trace(event: str) -> None:
  """Appends ``event`` as a line to the file named by ``JBP_TRACE``, if set (see the module's docstring)."""
  path = os.environ.get("JBP_TRACE")
  if path:
    with open(path, "a", encoding="utf-8") as f:
      f.write(event + "\n")


def exit_status(signum: int) -> int:
  """128 + the signal's number: 130 for SIGINT, 143 for SIGTERM."""
  return 128 + int(signum)


class Stop:
  """The process's stop policy: the watcher, the current ending, and the one lock they share.

  Attributes:
    prog: ``"jbp train"``, for the last line.
    requested: set once a signal came; the run driver polls it.
    signum: the first signal that came, or None.
    lock: held while the main thread publishes state or writes files, so that an ending never
      reads half an update; endings run under it.
  """

  def __init__(self, prog: str = "jbp", *, exits: bool = False):
    self.prog = prog
    self.exits = exits
    self.requested = threading.Event()
    self.signum: Optional[int] = None
    self.lock = threading.RLock()
    self._once = threading.Lock()
    self._started = threading.Event()  # an ending has begun
    self._ending: Optional[Ending] = None
    self._cleanups: list = []
    self.progress: Progress | None = None  # the run's state after its last chunk (jbp.cli.driver.Progress)
    self.bar: ProgressBar | None = None  # the progress bar, closed before the last lines are printed

  # --- what the commands say -------------------------------------------------------------------------------

  def ending(self, fn: Optional[Ending]) -> None:
    """From now on, a signal ends the process with ``fn(signum) -> (status, last line)``."""
    with self.lock:
      self._ending = fn

  def cleanup(self, fn: Callable[[], None]) -> None:
    """Run ``fn`` (remove temporaries) when the process ends with nothing saved."""
    with self.lock:
      self._cleanups.append(fn)

  # --- the end ----------------------------------------------------------------------------------------------

  def request(self, signum: int) -> None:
    """A signal came (from the watcher, or as a ``KeyboardInterrupt`` in-process)."""
    with self.lock:
      if self.signum is None:
        self.signum = signum
    self.requested.set()

  def end(self, fn: Optional[Ending] = None) -> int:
    """Runs one ending (``fn``, or the current one, or "nothing saved"), prints its line, and leaves.

    Called by the main thread when a run finishes or stops, and by the watcher when the main
    thread does not take over. Only the first call runs: a later one, from the other thread,
    waits for the process to exit (program) or returns the first one's status (in-process).
    """
    self._once.acquire()  # never released: one ending a process
    self._started.set()
    with self.lock:
      if self.bar is not None:
        self.bar.close()
      fn = fn or self._ending or self._abort
      status, line = fn(self.signum if self.signum is not None else 0)
    if line:
      print(line, file=sys.stderr)
    trace(f"end {status}")
    if self.exits:
      _leave(status)
    return status

  def _abort(self, signum: int) -> "tuple[int, str]":
    for fn in self._cleanups:
      try:
        fn()
      except OSError:
        pass
    return exit_status(signum or signal.SIGINT), f"{self.prog}: interrupted; nothing saved"

  # --- the watcher ------------------------------------------------------------------------------------------

  def watch(self) -> None:
    """Blocks SIGINT and SIGTERM in this thread (and every thread it starts) and starts the watcher.

    Call it from the main thread before any other thread exists (before JAX is imported), so
    that every thread inherits the mask and only the watcher takes the signals.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
    threading.Thread(target=self._watch, name="jbp-stop", daemon=True).start()
    trace("ready")

  def _watch(self) -> None:
    signum = signal.sigwait(STOPS)
    self.request(signum)
    with self.lock:
      has_ending = self._ending is not None
    if has_ending and self._started.wait(TAKEOVER):
      return  # the main thread ends the run, and leaves
    self.end()  # nothing to save yet, or the main thread is busy (compiling): end from here


def _leave(status: int) -> None:
  """Flushes stdout and stderr and leaves at once, whatever XLA's threads are doing."""
  for f in (sys.stdout, sys.stderr):
    try:
      f.flush()
    except (OSError, ValueError):
      pass
  os._exit(status)
