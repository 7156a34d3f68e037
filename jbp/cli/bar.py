"""The progress bar of long runs: shown once a run passes a second, even before its first chunk ends.

A run updates the bar between chunks, and the first chunk also compiles, which can
take seconds. So a timer thread draws the bar one second into the run and redraws
it every half second (JAX releases the interpreter while it compiles and computes),
and a run that ends within the second never shows one. The bar is tqdm's, on stderr,
and only where stderr is a terminal: a log file or a pipe gets no redrawn lines.

Until a step has been timed the bar says "compiling". Its speed and time left are
not tqdm's (steps over the wall-clock time since the start, compiles included: a
compile of seconds before a first chunk of 0.05 s made the first estimate 30 times
too long) but the run driver's: the seconds a step took in the last chunk of a size
already compiled (:meth:`ProgressBar.update`'s ``seconds_per_step``).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Literal

__all__ = ["ProgressBar", "time_left"]

FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


def time_left(steps_left: int, seconds_per_step) -> str:
  """``"1.2e+07 step/s, 00:07 left"``: the speed and the time left at ``seconds_per_step``.

  >>> time_left(50_000_000, 1e-7), time_left(10, None)
  ('1e+07 step/s, 00:05 left', '')
  """
  if not seconds_per_step:
    return ""
  left = int(round(steps_left * seconds_per_step))
  hours, rest = divmod(left, 3600)
  clock = f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"
  return f"{1 / seconds_per_step:.2g} step/s, {clock} left"


class ProgressBar:
  """``with ProgressBar(total) as bar: ... bar.update(done, "E 0.1")``; nothing is drawn if ``disabled``."""

  def __init__(self, total: int, *, disabled: bool = False, delay: float = 1.0, desc: str = "training",
               initial: int = 0):
    self.total, self.delay, self.desc = total, delay, desc
    self.n, self.postfix = initial, ""
    self._per_step = None  # seconds a step, once the driver has timed one
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
                       bar_format=FORMAT, desc="compiling")
      self._redraw()
    return self._bar

  def _redraw(self):
    bar = self._bar
    if bar is None:
      return
    bar.set_description_str(self.desc if self._per_step else "compiling", refresh=False)
    speed = time_left(self.total - self.n, self._per_step)
    bar.set_postfix_str(", ".join(p for p in (speed, self.postfix) if p), refresh=False)
    bar.update(self.n - bar.n)

  def update(self, done: int, postfix: str = "", seconds_per_step=None) -> None:
    """``done`` steps of ``total``; ``postfix`` follows the bar (e.g. the current loss);
    ``seconds_per_step``, once measured, gives the speed and the time left."""
    with self._lock:
      self.n, self.postfix = done, postfix
      if seconds_per_step:
        self._per_step = seconds_per_step
      if self._stop.is_set():  # closed: the last lines are being printed
        return
      if self._thread is None or (self._bar is None and time.time() - self._t0 < self.delay):
        return
      self._show()
      self._redraw()

  def close(self) -> None:
    self._stop.set()
    if self._thread is not None and self._thread.is_alive():
      self._thread.join()
    with self._lock:
      if self._bar is not None:
        self._bar.close()
        self._bar = None
