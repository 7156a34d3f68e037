"""The progress bar of long runs: shown once a run passes a second, even before its first chunk ends.

A run updates the bar between chunks, and the first chunk also compiles, which can
take seconds. So a timer thread draws the bar one second into the run and redraws
it every half second (JAX releases the interpreter while it compiles and computes),
and a run that ends within the second never shows one. The bar is tqdm's, on stderr.
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["ProgressBar"]


class ProgressBar:
  """``with ProgressBar(total) as bar: ... bar.update(done, "E 0.1")``; nothing is drawn if ``disabled``."""

  def __init__(self, total: int, *, disabled: bool = False, delay: float = 1.0, desc: str = "training"):
    self.total, self.delay, self.desc = total, delay, desc
    self.n, self.postfix = 0, ""
    self._bar = None
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._t0 = time.time()
    self._thread = None if disabled else threading.Thread(target=self._tick, daemon=True)

  def __enter__(self):
    if self._thread is not None:
      self._thread.start()
    return self

  def __exit__(self, *exc):
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
                       desc=self.desc)
      self._bar.start_t = self._t0  # the run's own start: elapsed time and rate count from it
      self._bar.set_postfix_str(self.postfix, refresh=False)
    return self._bar

  def update(self, done: int, postfix: str = "") -> None:
    """``done`` steps of ``total``; ``postfix`` follows the bar (e.g. the current loss)."""
    with self._lock:
      self.n, self.postfix = done, postfix
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
