"""The progress bar of long runs: shown once a run passes a second, even before its first chunk ends.

A run updates the bar between chunks, and the first chunk also compiles, which can
take seconds. So a timer thread draws the bar one second into the run and redraws
it every half second (JAX releases the interpreter while it compiles and computes),
and a run that ends within the second never shows one. The bar is tqdm's, on stderr,
and only where stderr is a terminal: a log file or a pipe gets no redrawn lines.

Until the first chunk is done the bar says "compiling"; then its clock restarts at
the end of that compile (:meth:`ProgressBar.start`), so its rate and time left count
training alone: a compile of seconds before a first chunk of 0.05 s made the first
estimate 30 times too long.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Literal

__all__ = ["ProgressBar"]


class ProgressBar:
  """``with ProgressBar(total) as bar: ... bar.update(done, "E 0.1")``; nothing is drawn if ``disabled``."""

  def __init__(self, total: int, *, disabled: bool = False, delay: float = 1.0, desc: str = "training",
               initial: int = 0):
    self.total, self.delay, self.desc = total, delay, desc
    self.n, self.postfix = initial, ""
    self._started = None  # (clock time, steps) where training began, once the first chunk is done
    self._bar = None
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._t0 = time.time()
    shown = not disabled and sys.stderr.isatty()  # no bar in a log file or a pipe
    self._thread = threading.Thread(target=self._tick, daemon=True) if shown else None

  def __enter__(self) -> ProgressBar:
    if self._thread is not None:
      self._thread.start()
    return self

  def __exit__(self, *exc: object) -> Literal[False]:
    self.close()
    return False

  def _tick(self):
    if self._stop.wait(self.delay):
      return
    while True:
      with self._lock:
        self._show().refresh()
      if self._stop.wait(0.5):
        return

  def _show(self):
    if self._bar is None:
      from tqdm import tqdm

      self._bar = tqdm(total=self.total, initial=self.n, unit="step", file=sys.stderr, dynamic_ncols=True,
                       desc=self.desc if self._started else "compiling")
      self._bar.set_postfix_str(self.postfix, refresh=False)
      self._restart()
    return self._bar

  def _restart(self):
    if self._bar is not None and self._started is not None:
      t, n = self._started
      self._bar.set_description_str(self.desc, refresh=False)
      self._bar.start_t = self._bar.last_print_t = time.time() - (time.perf_counter() - t)
      self._bar.last_print_n = self._bar.initial = n

  def start(self, t: float, done: int) -> None:
    """Training began at ``time.perf_counter()`` time ``t`` with ``done`` steps done: the rate counts
    from there."""
    with self._lock:
      self._started = (t, done)
      self._restart()

  def update(self, done: int, postfix: str = "") -> None:
    """``done`` steps of ``total``; ``postfix`` follows the bar (e.g. the current loss)."""
    with self._lock:
      self.n, self.postfix = done, postfix
      if self._stop.is_set():  # closed: the last lines are being printed
        return
      if self._thread is None or (self._bar is None and time.time() - self._t0 < self.delay):
        return
      bar = self._show()
      bar.set_postfix_str(postfix, refresh=False)
      bar.update(done - bar.n)

  def close(self) -> None:
    self._stop.set()
    if self._thread is not None and self._thread.is_alive():
      self._thread.join()
    with self._lock:
      if self._bar is not None:
        self._bar.close()
        self._bar = None
