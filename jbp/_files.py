"""Files written whole or not at all: the one atomic writer of the library and the command line.

Every file jbp writes (params, plots, JSON summaries, the command line's checkpoints) goes through
:func:`atomic_write`: it is written to a temporary file in the same folder, flushed to disk, then
renamed into place, so a reader never sees half a file. An existing file is kept unless
``force=True``, and a file that appears while we write is never replaced. This module loads no JAX:
the pictures and the command line use it before (or without) any computation.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import IO, Any, Callable, Mapping, Union

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["StrPath", "atomic_write", "check_writable", "save_json", "save_npz"]

StrPath = Union[str, "os.PathLike[str]"]


def check_writable(path: StrPath, *, force: bool = False, name: str = "out") -> str:
  """Fails early, before any work, if ``path`` cannot be written.

  Raises:
    FileExistsError: ``path`` exists and ``force`` is False.
    ValueError: its folder is missing or not writable, or ``path`` is a folder.
  """
  path = os.fspath(path)
  if os.path.isdir(path):
    raise ValueError(f"{name}: expected a file name, got {path}, which is a folder")
  if os.path.exists(path) and not force:
    raise FileExistsError(_exists(name, path))
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise ValueError(f"{name}: expected a path in an existing folder, got {path} ({folder} does not "
                     f"exist)")
  if not os.access(folder, os.W_OK | os.X_OK):
    raise ValueError(f"{name}: expected a path in a writable folder, got {path} ({folder} is not writable)")
  return path


def _exists(name, path):
  return f"{name}: expected a new file (or force=True to replace it), got {path}, which exists"


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def atomic_write(path: StrPath, write: Callable[[IO[bytes]], object], *, force: bool = False,
                 name: str = "out") -> str:
  """Writes ``path`` through ``write(file)`` into a temporary file, then renames it into place.

  The temporary file lives in the same folder (so the rename is atomic) and is
  removed if ``write`` fails. An existing ``path`` is kept unless ``force``.
  """
  path = check_writable(path, force=force, name=name)
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
  try:
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's file is private; give it a new file's usual mode
    with os.fdopen(fd, "wb") as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    if force:
      os.replace(tmp, path)
    else:
      _place_new(tmp, path, name)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise
  return path


def _place_new(tmp, path, name):
  """Moves ``tmp`` to ``path`` only if ``path`` does not exist, atomically where the OS allows.

  A hard link fails if the target exists, so a file that appears while we write is
  never replaced; where the file system has no hard links, fall back to a check and
  a rename (a window of microseconds).
  """
  exists = FileExistsError(_exists(name, path))
  try:
    os.link(tmp, path)
  except FileExistsError:
    raise exists from None
  except OSError:
    if os.path.exists(path):
      raise exists from None
    os.replace(tmp, path)
  else:
    os.unlink(tmp)


def save_npz(path: StrPath, arrays: Mapping[str, ArrayLike], *, force: bool = False,
             name: str = "out") -> str:
  """Saves a dict of arrays as an uncompressed ``.npz`` (no pickled objects), atomically."""
  plain: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}  # Any, as savez takes **arrays
  for k, v in plain.items():
    if v.dtype == object:
      raise TypeError(f"{name}: array {k!r} holds Python objects; expected numbers")
  return atomic_write(path, lambda f: np.savez(f, **plain), force=force, name=name)


def save_json(path: StrPath, obj: Any, *, force: bool = False, name: str = "out") -> str:
  """Saves ``obj`` as indented JSON, atomically."""
  text = json.dumps(obj, indent=2) + "\n"
  return atomic_write(path, lambda f: f.write(text.encode("utf-8")), force=force, name=name)
