"""A command's output files: checked before any work, then all of them or none on disk.

A command names every output first: a folder of files (``--out DIR``) or a single
file (``--plot PNG``, ``explain --out FILE``). :meth:`Outputs.prepare` checks them
all before anything is computed (the parent folder exists, a folder is not a file,
nothing is replaced without ``force``, nothing the user saved is in the way) and
proves each place writable by creating a hidden temporary folder beside the
target. The command writes into those temporaries (:meth:`Outputs.write`), and
:meth:`Outputs.commit` moves every output into place once all are written. If one
cannot be placed, the ones already placed are taken back and whatever they
replaced is restored. A failure or Ctrl-C before the commit leaves nothing behind;
the commit defers Ctrl-C until it is done.

``force`` replaces an earlier run: a folder is replaced only when every entry in
it is a plain file the run itself writes, so a user's own files are never removed.

Every error is an :class:`OutputError` (a ``ValueError``) that names the flag and
the path the user gave, never a temporary name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import tempfile
import threading
from typing import NamedTuple

__all__ = ["OutputError", "Outputs", "deferred_interrupt"]


class OutputError(ValueError):
  """An output that cannot be written: ``"<flag>: expected ..., got ..."``."""

  def __init__(self, flag: str, message: str):
    super().__init__(f"{flag}: {message}")
    self.flag = flag
    self.message = message


class _Output(NamedTuple):
  flag: str
  path: str  # as the user gave it
  folder: bool
  names: tuple  # the files of a folder output


STOPS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and a polite request to stop


@contextlib.contextmanager
def deferred_interrupt():
  """Within the block, Ctrl-C (or SIGTERM) is remembered instead of acted on; it is delivered after.

  For short blocks that must not stop half-way (writing and placing the files of a run). The
  list it yields holds the signals that came. Only the main thread receives signals; elsewhere
  the block runs as it is.
  """
  hits = []
  if threading.current_thread() is not threading.main_thread():
    yield hits
    return
  before = {s: signal.getsignal(s) for s in STOPS}
  for s in STOPS:
    signal.signal(s, lambda signum, frame: hits.append(signum))
  try:
    yield hits
  finally:
    for s in STOPS:
      signal.signal(s, before[s] if before[s] is not None else signal.SIG_DFL)
    if hits and callable(before[hits[0]]):  # delivered now, not dropped: KeyboardInterrupt, or an outer note
      before[hits[0]](hits[0], None)


def _beside(path, suffix):
  """A hidden name in the folder of ``path`` that nothing uses yet."""
  folder, base = os.path.split(os.path.abspath(path))
  return os.path.join(folder, f".{base}.{secrets.token_hex(4)}{suffix}")


def _remove(path):
  if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path, ignore_errors=True)
  elif os.path.lexists(path):
    os.unlink(path)


def _listing(names, most=4):
  names = list(names)
  return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


class Outputs:
  """The files one command writes, all of them or none.

  >>> import os, tempfile
  >>> where = tempfile.mkdtemp()
  >>> run = os.path.join(where, "run")
  >>> with Outputs() as out:
  ...   out.folder("--out", run, ("a.txt", "b.txt"))
  ...   out.prepare()                       # every check, before any work
  ...   for name in ("a.txt", "b.txt"):
  ...     _ = out.write("--out", lambda p: open(p, "w").write("done"), name)
  ...   placed = out.commit()
  >>> placed == [run], sorted(os.listdir(run)), os.listdir(where)
  (True, ['a.txt', 'b.txt'], ['run'])
  """

  def __init__(self, *, force: bool = False):
    self.force = bool(force)
    self._outputs = []
    self._members = {}  # flag -> (folder flag, file name): a file asked for inside an output folder
    self._staged = {}  # flag -> temporary folder
    self._committed = False

  def folder(self, flag: str, path, names) -> None:
    """An output folder ``path`` that will hold the files ``names``."""
    self._outputs.append(_Output(flag, os.fspath(path), True, tuple(names)))

  def file(self, flag: str, path) -> None:
    """An output file ``path``."""
    self._outputs.append(_Output(flag, os.fspath(path), False, ()))

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    if not self._committed:
      self.discard()
    return False

  # --- before any work -----------------------------------------------------------------------------------

  def prepare(self) -> None:
    """Checks every output, then creates the hidden temporary folder of each; raises OutputError."""
    self._take_members()
    seen = {}
    for o in self._outputs:
      key = os.path.abspath(o.path)
      if key in seen:
        raise OutputError(o.flag, f"expected a path other than {seen[key]}'s, got {o.path} for both")
      seen[key] = o.flag
      self._check(o)
    try:
      for o in self._outputs:
        self._staged[o.flag] = self._stage(o)
    except BaseException:
      self.discard()
      raise

  def _take_members(self):
    """A file asked for inside an output folder (``--plot run/loss.png`` with ``--out run``) joins it."""
    folders = {os.path.abspath(o.path): o for o in self._outputs if o.folder}
    for o in list(self._outputs):
      parent = os.path.dirname(os.path.abspath(o.path))
      if not o.folder and parent in folders:
        host = folders[parent]
        name = os.path.basename(o.path)
        if name in host.names:
          raise OutputError(o.flag, f"expected a file other than the {name} that {host.flag} holds, got "
                                    f"{o.path}")
        self._members[o.flag] = (host.flag, name)
        i = self._outputs.index(host)
        self._outputs[i] = host = host._replace(names=host.names + (name,))
        folders[parent] = host
    self._outputs = [o for o in self._outputs if o.folder or o.flag not in self._members]

  def _check(self, o: _Output) -> None:
    if not o.path:
      raise OutputError(o.flag, "expected a path, got an empty one")
    parent = os.path.dirname(os.path.abspath(o.path))
    if not os.path.isdir(parent):
      why = "is not a folder" if os.path.exists(parent) else "does not exist"
      raise OutputError(o.flag, f"expected a path in an existing folder, got {o.path} ({parent} {why})")
    if not o.folder:
      if os.path.isdir(o.path):
        raise OutputError(o.flag, f"expected a file name, got {o.path}, which is a folder")
      if os.path.lexists(o.path) and not self.force:
        raise OutputError(o.flag, f"expected a new file (or --force to replace it), got {o.path}, which "
                                  f"exists")
      return
    if os.path.lexists(o.path) and (os.path.islink(o.path) or not os.path.isdir(o.path)):
      raise OutputError(o.flag, f"expected a folder, got {o.path}, which is a file")
    if not os.path.isdir(o.path):
      return
    if os.path.samefile(o.path, os.getcwd()):
      raise OutputError(o.flag, f"expected a folder for the run's files, got {o.path}, the current folder")
    entries = sorted(os.listdir(o.path))
    others = [e for e in entries if e not in o.names or not os.path.isfile(os.path.join(o.path, e))
              or os.path.islink(os.path.join(o.path, e))]
    if others:
      raise OutputError(o.flag, f"expected a new or empty folder, or one of an earlier run, got {o.path}, "
                                f"which holds {_listing(others)}; nothing in it was changed")
    if entries and not self.force:
      raise OutputError(o.flag, f"expected a new or empty folder (or --force to replace the earlier run), "
                                f"got {o.path}, which holds {_listing(entries)}")

  def _stage(self, o: _Output) -> str:
    parent = os.path.dirname(os.path.abspath(o.path))
    try:
      staged = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(os.path.abspath(o.path))}.",
                                suffix=".tmp")
    except OSError as e:
      raise OutputError(o.flag, f"expected a folder where files can be created, got {parent} for {o.path} "
                                f"({e.strerror or e})") from None
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(staged, 0o777 & ~mask)  # mkdtemp's folder is private; an output folder gets the usual mode
    return staged

  # --- the work's results ----------------------------------------------------------------------------------

  def target(self, flag: str, name: str | None = None) -> str:
    """The path the user will find: the file, or ``name`` in the folder."""
    if flag in self._members:
      host, name = self._members[flag]
      return os.path.join(self._output(host).path, name)
    o = self._output(flag)
    return os.path.join(o.path, name) if o.folder else o.path

  def path(self, flag: str, name: str | None = None) -> str:
    """Where to write the output of ``flag`` (``name`` in a folder) now: inside its temporary folder."""
    if flag in self._members:
      flag, name = self._members[flag]
    o = self._output(flag)
    if o.folder and name not in o.names:
      raise KeyError(f"{flag}: {name!r} is not among the files of {o.path}")
    return os.path.join(self._staged[flag], name if o.folder else os.path.basename(os.path.abspath(o.path)))

  def write(self, flag: str, writer, name: str | None = None):
    """Calls ``writer(path)`` with the temporary path of an output; an OSError names the user's path."""
    try:
      return writer(self.path(flag, name))
    except OSError as e:
      raise OutputError(flag, f"expected to write {self.target(flag, name)}, got an error: "
                              f"{e.strerror or e}") from None

  def _output(self, flag):
    for o in self._outputs:
      if o.flag == flag:
        return o
    raise KeyError(f"{flag}: not an output of this command")

  # --- all at once -----------------------------------------------------------------------------------------

  def commit(self) -> list:
    """Moves every output into place, or none of them; returns the paths placed, as the user gave them."""
    placed = []  # (output, backup of what it replaced)
    with deferred_interrupt():
      o = backup = None
      try:
        for o in self._outputs:
          backup = None
          if os.path.lexists(o.path):
            if not o.folder and not self.force:  # it appeared while the command ran
              raise OutputError(o.flag, f"expected a new file (or --force to replace it), got {o.path}, "
                                        f"which appeared while jbp was running")
            if o.folder:
              self._check(o)  # the folder may have changed while the command ran
            backup = _beside(o.path, ".old")
            os.rename(o.path, backup)
          self._place(o, replacing=backup is not None)
          placed.append((o, backup))
          backup = None
      except BaseException as e:
        if backup is not None:  # moved aside, but the new one did not arrive
          os.rename(backup, o.path)
        for done, old in reversed(placed):
          _remove(done.path)
          if old is not None:
            os.rename(old, done.path)
        self.discard()
        if isinstance(e, OSError):
          raise OutputError(o.flag, f"expected to place {o.path}, got an error: {e.strerror or e}") from None
        raise
    for o, old in placed:
      if old is not None:
        _remove(old)
      if not o.folder:
        os.rmdir(self._staged[o.flag])
    self._staged.clear()
    self._committed = True
    return [o.path for o in self._outputs]

  @property
  def committed(self) -> bool:
    """True once :meth:`commit` placed every output."""
    return self._committed

  def _place(self, o: _Output, replacing: bool):
    staged = self._staged[o.flag]
    if o.folder:
      os.rename(staged, o.path)  # fails if a folder with files appeared meanwhile
      return
    src = os.path.join(staged, os.path.basename(os.path.abspath(o.path)))
    if replacing:
      os.rename(src, o.path)
      return
    try:
      os.link(src, o.path)  # never replaces: fails if the file appeared meanwhile
    except FileExistsError:
      raise OutputError(o.flag, f"expected a new file (or --force to replace it), got {o.path}, which "
                                f"appeared while jbp was running") from None
    except OSError:  # a file system without hard links
      if os.path.lexists(o.path):
        raise
      os.rename(src, o.path)
    else:
      os.unlink(src)

  def discard(self) -> None:
    """Removes every temporary folder: nothing of this command is left on disk."""
    for staged in self._staged.values():
      shutil.rmtree(staged, ignore_errors=True)
    self._staged.clear()
