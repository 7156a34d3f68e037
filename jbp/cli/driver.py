"""The one run driver of the command line: chunks, progress, checkpoints and stopping.

``jbp train`` and ``jbp ensemble`` both run a :class:`Job` through :func:`drive`:

* **Chunks.** The compiled training program (:func:`jbp.train`'s for one network,
  :func:`jbp.train_many`'s for a population) runs again and again, each time from the state the
  last chunk returned. Plain SGD and optax's optimizers carry nothing else between steps, so the
  chunks compute what one uninterrupted call computes, bit for bit, whatever their sizes. A chunk
  never crosses a multiple of ``record_every``, so the recorded losses are those of one call.
* **Sizes chosen at once.** The first chunk's size comes from an estimate of a step's cost (the
  network's products times the examples and members), aimed at :data:`PROBE_SECONDS` of compute:
  small, so that work is kept, and the bar moves, within a second of the compile. The first chunk
  compiles (and on a CPU, where JAX may run a program inside the call, its time mixes compile and
  compute), so a second chunk of the same size measures a step, and sizes the others to about
  :data:`CHUNK_SECONDS`. No divisor is searched for: a record interval longer than a chunk is split
  into chunks that end on it.
* **Stopping.** While a chunk runs, the main thread polls for its result and for a stop request
  (:mod:`jbp.cli.stop`), so a signal is answered at once, keeping the state after the last finished
  chunk; the chunk in flight is dropped. After each chunk the state is published, under the stop
  lock, as host arrays: an ending run from the watcher thread needs no JAX.
* **Checkpoints.** Every ``checkpoint_every`` seconds (and never while nothing new was done), the
  state is written to the run's folder as one file, ``checkpoint.npz``, replaced atomically: a
  SIGKILL loses at most that interval, and ``--resume DIR`` continues from it, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional, Sequence

import numpy as np

from jbp.cli.bar import ProgressBar
from jbp.cli.stop import Stop, trace

if TYPE_CHECKING:
  import argparse

__all__ = ["CHECKPOINT", "CHUNK_SECONDS", "PROBE_SECONDS", "Job", "Progress", "drive", "next_chunk",
           "probe_size", "host", "restore", "read_checkpoint", "write_checkpoint", "data_digest"]

PROBE_SECONDS = 0.05  # the first chunk's compute, estimated: well under a second
CHUNK_SECONDS = 0.5  # later chunks' compute, measured
MOST_STEPS = 2**31 - 1  # a chunk's steps: the compiled loop counts in int32
CHECKPOINT = "checkpoint.npz"
CHECKPOINT_FORMAT = 1


class Progress(NamedTuple):
  """A run's state after ``done`` steps, as host arrays; immutable, replaced whole after each chunk.

  Attributes:
    params: the params (a population's with its leading axis), NumPy arrays.
    opt_state: the optimizer's state (None for plain SGD), NumPy arrays.
    done: updates done.
    rec_steps: the update count of each recorded loss: ``0, r, 2r, ...`` up to ``done``.
    rec_losses: the recorded losses, each of the record's shape (``()`` or ``(n,)``).
    last: the loss after ``done`` updates.
    outputs: the network's outputs after ``done`` updates, or None.
    history: the params at each recorded step (kept for a training page), or None.
  """

  params: Any
  opt_state: Any
  done: int
  rec_steps: tuple
  rec_losses: tuple
  last: np.ndarray
  outputs: Any = None
  history: Optional[tuple] = None

  def losses(self) -> "tuple[np.ndarray, np.ndarray]":
    """``(steps, losses)``: every recorded loss and the last one if it fell between records; the
    losses' last axis is the record's."""
    steps, losses = self.rec_steps, self.rec_losses
    if not steps or steps[-1] != self.done:
      steps, losses = steps + (self.done,), losses + (self.last,)
    return np.asarray(steps, np.int64), np.stack(losses, axis=-1)


class Job(NamedTuple):
  """What a command trains, for :func:`drive`.

  Attributes:
    start: the state before the first chunk (a fresh run's, or a checkpoint's).
    dispatch: ``dispatch(params, opt_state, steps, record_every) -> (params, opt_state, losses,
      outputs)``, device arrays computed asynchronously; ``params`` and ``opt_state`` are what the
      last call returned (device arrays), or the start's.
    cost: an estimate of one step's cost, in multiply-adds (the probe's size comes from it).
    keep_params: also keep the params at every recorded step (a training page).
  """

  start: Progress
  dispatch: Callable
  cost: float
  keep_params: bool = False


def probe_size(cost: float, steps_left: int, seconds: float = PROBE_SECONDS) -> int:
  """The first chunk's steps: about ``seconds`` of compute at a cautious speed, at least 1.

  A step is taken to cost 0.2 µs plus 1 ns a multiply-add (a 2-2-2 network steps in 0.1 µs on a
  CPU core; a population of them at about 2e8 network-steps a second).

  >>> probe_size(8, 10**9), probe_size(8 * 200_000, 10**9), probe_size(8, 100)
  (240384, 31, 100)
  """
  per_step = 2e-7 + 1e-9 * cost
  return int(max(1, min(steps_left, seconds // per_step)))


def next_chunk(done: int, steps: int, record_every: int, size: int) -> "tuple[int, int]":
  """``(s, q)``: the next chunk's steps and its record interval: at most ``size`` steps (at least 1),
  never past ``steps``, and never across a multiple of ``record_every``.

  >>> next_chunk(0, 10_000, 100, 2_550), next_chunk(0, 10**9, 100_000_007, 10**6)
  ((2500, 100), (1000000, 1000000))
  >>> next_chunk(100_000_000, 10**9, 100_000_007, 10**6)  # the last 7 steps before a record
  (7, 7)
  """
  r, size = record_every, max(1, size)
  if done % r == 0 and size >= r:
    s = min(size // r * r, steps - done)
    return s, r
  s = min(size, r - done % r, steps - done)
  return s, s


def _ready(arrays, stop: Stop) -> bool:
  """Waits for ``arrays``, polling every 2 ms; False if a stop came first."""
  while not all(a.is_ready() for a in arrays):
    if stop.requested.wait(0.002):
      return False
  return True


def _leaves(tree):
  import jax

  return jax.tree_util.tree_leaves(tree)


def drive(job: Job, *, steps: int, record_every: int, stop: Stop, bar: ProgressBar,
          describe: Callable[[np.ndarray], str], checkpoint: Optional[Callable[[Progress], None]] = None,
          checkpoint_every: float = 60.0, clock: Callable[[], float] = time.perf_counter) -> Progress:
  """Runs ``job`` to ``steps`` updates, or until a stop request; returns the state after the last chunk.

  Args:
    job: what to train.
    steps: the run's total updates.
    record_every: the loss is kept every this many updates.
    stop: the stop policy; a request ends the loop at once, and the state after the last finished
      chunk is returned. A ``KeyboardInterrupt`` (in-process callers) is taken as a request.
    bar: the progress bar, updated after each chunk.
    describe: the bar's postfix from the last losses.
    checkpoint: ``checkpoint(progress)`` writes a checkpoint; called every ``checkpoint_every``
      seconds (0: never) under the stop lock.
    checkpoint_every: seconds between checkpoints.
    clock: the clock chunks are timed with.
  """
  progress = job.start
  params, opt_state = progress.params, progress.opt_state
  r = record_every
  size = probe_size(job.cost, steps - progress.done)
  if job.keep_params:
    size = min(size, r)
  per_step = None  # seconds a step, measured on a chunk of a compiled size
  compiled = set()  # chunk shapes (steps, record_every) already compiled
  last_checkpoint = clock()
  with stop.lock:
    stop.progress = progress
  try:
    while progress.done < steps and not stop.requested.is_set():
      s, q = next_chunk(progress.done, steps, r, size)
      t0 = clock()
      new_params, new_state, losses, outputs = job.dispatch(params, opt_state, s, q)
      if not _ready(_leaves((new_params, new_state, losses, outputs)), stop):
        break
      t1 = clock()
      params, opt_state = new_params, new_state
      got = np.asarray(losses)
      at = progress.done + q * np.arange(got.shape[-1] - 1)  # the last entry: after the chunk
      keep = np.flatnonzero(at % r == 0)
      done = progress.done + s
      history = progress.history
      if job.keep_params and done % r == 0:
        history = (history or ()) + (host(params),)
      new = Progress(host(params), host(opt_state), done,
                     progress.rec_steps + tuple(int(a) for a in at[keep]),
                     progress.rec_losses + tuple(got[..., k] for k in keep), got[..., -1],
                     None if outputs is None else np.asarray(outputs), history)
      with stop.lock:
        progress = new
        stop.progress = new
      trace(f"chunk {progress.done}")
      # A chunk of a new size compiles first (on a CPU the compute may run inside the call too), so
      # only a chunk of a size already compiled measures a step: the probe runs twice.
      fresh = (s, q) not in compiled
      compiled.add((s, q))
      if not fresh:
        first = per_step is None
        per_step = max((t1 - t0) / s, 1e-12)
        if first:
          size = int(min(MOST_STEPS, max(1, CHUNK_SECONDS // per_step)))
          if job.keep_params:
            size = min(size, r)
      bar.update(progress.done, describe(progress.last), per_step)
      if checkpoint is not None and checkpoint_every and clock() - last_checkpoint >= checkpoint_every:
        with stop.lock:
          checkpoint(progress)
        trace(f"checkpoint {progress.done}")
        last_checkpoint = clock()
  except KeyboardInterrupt:  # in-process callers; a program's signals never raise
    stop.request(signal.SIGINT)
  return progress


def host(tree: Any) -> Any:
  """``tree`` with NumPy arrays for leaves (None stays None)."""
  import jax

  return None if tree is None else jax.tree_util.tree_map(np.asarray, tree)


# --- checkpoints -----------------------------------------------------------------------------------------


def data_digest(*arrays: Any) -> str:
  """A SHA-256 of the arrays' shapes, dtypes and bytes: the data a checkpoint was trained on."""
  h = hashlib.sha256()
  for a in arrays:
    a = np.ascontiguousarray(a)
    h.update(f"{a.shape}{a.dtype.str}".encode())
    h.update(a.tobytes())
  return h.hexdigest()


def write_checkpoint(folder: str, progress: Progress, meta: dict) -> str:
  """Writes ``folder/checkpoint.npz`` atomically (a hidden temporary, fsync, rename): the params, the
  optimizer state, the recorded losses and ``meta`` (the run's options, as JSON text).

  The file holds plain arrays only and loads without pickle. ``folder`` is created if missing.
  """
  import jax

  from jbp._files import atomic_write

  os.makedirs(folder, exist_ok=True)
  arrays = {"meta": np.asarray(json.dumps({**meta, "format": CHECKPOINT_FORMAT, "done": progress.done})),
            "rec_steps": np.asarray(progress.rec_steps, np.int64), "last": np.asarray(progress.last)}
  if progress.rec_losses:
    arrays["rec_losses"] = np.stack(progress.rec_losses, axis=-1)
  for k, leaf in enumerate(jax.tree_util.tree_leaves(progress.params)):
    arrays[f"param_{k}"] = np.asarray(leaf)
  for k, leaf in enumerate(jax.tree_util.tree_leaves(progress.opt_state)):
    arrays[f"state_{k}"] = np.asarray(leaf)
  path = os.path.join(folder, CHECKPOINT)
  atomic_write(path, lambda f: np.savez(f, **arrays), force=True, name="--out")
  _sync_folder(folder)
  return path


def _sync_folder(folder: str) -> None:
  """fsync a folder, so that a rename in it survives a machine that stops (where the OS allows)."""
  try:
    fd = os.open(folder, os.O_RDONLY)
  except OSError:
    return
  try:
    os.fsync(fd)
  except OSError:
    pass
  finally:
    os.close(fd)


class Checkpoint(NamedTuple):
  """A checkpoint read back: its ``meta`` dict and the arrays, by name."""

  meta: dict
  arrays: dict


def read_checkpoint(folder: str, flag: str = "--resume") -> Checkpoint:
  """Reads ``folder/checkpoint.npz`` (without pickle); a ValueError names ``flag`` if it is not one."""
  path = os.path.join(folder, CHECKPOINT)
  if not os.path.isdir(folder):
    raise ValueError(f"{flag}: expected the folder of an interrupted run, got {folder}, which "
                     f"{'is not a folder' if os.path.exists(folder) else 'does not exist'}")
  if not os.path.isfile(path):
    raise ValueError(f"{flag}: expected a folder holding {CHECKPOINT} (a run stopped before its end), "
                     f"got {folder}, which holds none")
  try:
    with np.load(path, allow_pickle=False) as z:
      arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
  except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
    raise ValueError(f"{flag}: expected a checkpoint written by jbp, got {path}, which cannot be read "
                     f"({' '.join(str(e).split())[:120]})") from None
  if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
    raise ValueError(f"{flag}: expected a checkpoint of format {CHECKPOINT_FORMAT}, got {path}, of format "
                     f"{meta.get('format') if isinstance(meta, dict) else None}")
  return Checkpoint(meta, arrays)


def restore(ckpt: Checkpoint, like_params: Any, like_state: Any) -> Progress:
  """The :class:`Progress` a checkpoint holds, its leaves put in the structures of ``like_*``."""
  import jax

  a = ckpt.arrays

  def fill(like, prefix):
    if like is None:
      return None
    leaves, tree = jax.tree_util.tree_flatten(like)
    got = [a[f"{prefix}_{k}"] for k in range(len(leaves))]
    for k, (want, have) in enumerate(zip(leaves, got)):
      if np.shape(want) != have.shape or np.asarray(want).dtype != have.dtype:
        raise ValueError(f"--resume: expected {prefix} {k} of shape {np.shape(want)} and dtype "
                         f"{np.asarray(want).dtype}, got {have.shape} {have.dtype}")
    return jax.tree_util.tree_unflatten(tree, got)

  rec_steps = tuple(int(s) for s in a["rec_steps"])
  rec = a.get("rec_losses")
  rec_losses = tuple(rec[..., k] for k in range(rec.shape[-1])) if rec is not None else ()
  return Progress(fill(like_params, "param"), fill(like_state, "state"), int(ckpt.meta["done"]), rec_steps,
                  rec_losses, a["last"])


def given_flags(argv: Sequence[str], parser: argparse.ArgumentParser) -> set:
  """The ``dest`` of every option typed in ``argv`` (``--lr 0.1`` or ``--lr=0.1``)."""
  typed = {token.split("=", 1)[0] for token in argv if token.startswith("-")}
  return {a.dest for a in parser._actions if a.option_strings and typed & set(a.option_strings)}
