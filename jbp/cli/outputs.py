"""A command's output files: checked before any work, then all of them or none on disk.

A command names every output first: a folder of files (``--out DIR``) or a single
file (``--plot PNG``, ``explain --out FILE``). :meth:`Outputs.prepare` checks them
all before anything is computed (the parent folder exists, a folder is not a file,
nothing is replaced without ``force``, nothing the user saved is in the way) and
proves each place writable by creating a hidden temporary folder beside the
target. The command writes into those temporaries (:meth:`Outputs.write`), and
:meth:`Outputs.commit` moves every output into place once all are written. If one
cannot be placed, the ones already placed are taken back and whatever they
replaced is restored. A failure before the commit leaves nothing behind. Signals
never interrupt a commit: the command line's stop policy (:mod:`jbp.cli.stop`) runs
endings under one lock, and the commit runs inside an ending.

A run folder that already exists (an earlier run's, replaced with ``force``, or this
run's own checkpoint, :mod:`jbp.cli.driver`) is not swapped whole: each new file
replaces its namesake with one atomic rename, ``summary.json`` last, and the files
of the earlier run that the new one does not write (its ``checkpoint.npz``, say)
are removed after. A machine that stops half-way leaves every file whole, and the
checkpoint that a resume reads.

``force`` replaces an earlier run: a folder is replaced only when every entry in
it is a plain file the run itself writes, so a user's own files are never removed.

Every error is an :class:`OutputError` (a ``ValueError``) that names the flag and
the path the user gave, never a temporary name.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import tempfile
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Literal, NamedTuple

if TYPE_CHECKING:
  from jbp._files import StrPath

__all__ = ["OutputError", "Outputs"]


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


def _beside(path, suffix):
  """A hidden name in the folder of ``path`` that nothing uses yet."""
  folder, base = os.path.split(os.path.abspath(path))
  return os.path.join(folder, f".{base}.{secrets.token_hex(4)}{suffix}")


OWNER = ".owner"  # in a temporary folder: locked (flock) by the process that writes it, while it lives


def _hold(staged: str):
  """Creates and locks the owner file of a temporary folder; the lock dies with the process."""
  f = open(os.path.join(staged, OWNER), "w")
  fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
  return f


def _remove_stale(parent: str, base: str) -> None:
  """Removes the temporaries of ``base`` that a process left when it was killed (SIGKILL, out of
  memory): those whose owner file no living process holds. Another run's live temporaries stay."""
  pattern = re.compile(rf"\.{re.escape(base)}\.[A-Za-z0-9_]+\.tmp")
  try:
    names = os.listdir(parent)
  except OSError:
    return
  for name in names:
    path = os.path.join(parent, name)
    if not pattern.fullmatch(name) or not os.path.isdir(path) or os.path.islink(path):
      continue
    try:
      with open(os.path.join(path, OWNER)) as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # taken: nobody holds it
    except OSError:
      continue  # held by a running process, or no owner file: not ours to judge
    shutil.rmtree(path, ignore_errors=True)


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
    self._outputs: list[_Output] = []
    # flag -> (folder flag, file name): a file asked for inside an output folder
    self._members: dict[str, tuple[str, str]] = {}
    self._staged: dict[str, str] = {}  # flag -> temporary folder
    self._committed = False
    self._own: set[str] = set()  # flags whose folder holds this run's own checkpoint
    self._locks: dict[str, IO[str]] = {}  # flag -> the open, locked owner file of its temporary folder

  def folder(self, flag: str, path: StrPath, names: Iterable[str]) -> None:
    """An output folder ``path`` that will hold the files ``names``."""
    self._outputs.append(_Output(flag, os.fspath(path), True, tuple(names)))

  def own(self, flag: str) -> None:
    """The folder of ``flag`` now holds this run's own files (its checkpoint): replace them at commit
    without ``force``."""
    self._own.add(flag)

  def file(self, flag: str, path: StrPath) -> None:
    """An output file ``path``."""
    self._outputs.append(_Output(flag, os.fspath(path), False, ()))

  def __enter__(self) -> Outputs:
    return self

  def __exit__(self, *exc: object) -> Literal[False]:
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
    if os.path.islink(o.path):
      raise OutputError(o.flag, f"expected a folder, got {o.path}, which is a symbolic link (to "
                                f"{os.readlink(o.path)}); give the folder itself")
    if os.path.lexists(o.path) and not os.path.isdir(o.path):
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
    if entries and not self.force and o.flag not in self._own:
      raise OutputError(o.flag, f"expected a new or empty folder (or --force to replace the earlier run), "
                                f"got {o.path}, which holds {_listing(entries)}")

  def _stage(self, o: _Output) -> str:
    parent = os.path.dirname(os.path.abspath(o.path))
    _remove_stale(parent, os.path.basename(os.path.abspath(o.path)))
    try:
      staged = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(os.path.abspath(o.path))}.",
                                suffix=".tmp")
    except OSError as e:
      raise OutputError(o.flag, f"expected a folder where files can be created, got {parent} for {o.path} "
                                f"({e.strerror or e})") from None
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(staged, 0o777 & ~mask)  # mkdtemp's folder is private; an output folder gets the usual mode
    self._locks[o.flag] = _hold(staged)
    return staged

  def _release(self) -> None:
    """Closes and removes the owner files, before the temporaries are placed."""
    for flag, f in self._locks.items():
      f.close()
      with contextlib.suppress(OSError):
        os.unlink(os.path.join(self._staged[flag], OWNER))
    self._locks.clear()

  # --- the work's results ----------------------------------------------------------------------------------

  def target(self, flag: str, name: str | None = None) -> str:
    """The path the user will find: the file, or ``name`` in the folder."""
    if flag in self._members:
      host, name = self._members[flag]
      return os.path.join(self._output(host).path, name)
    o = self._output(flag)
    if not o.folder:
      return o.path
    if name is None:
      raise KeyError(f"{flag}: expected the name of a file in {o.path}, got none")
    return os.path.join(o.path, name)

  def path(self, flag: str, name: str | None = None) -> str:
    """Where to write the output of ``flag`` (``name`` in a folder) now: inside its temporary folder."""
    if flag in self._members:
      flag, name = self._members[flag]
    o = self._output(flag)
    if not o.folder:
      return os.path.join(self._staged[flag], os.path.basename(os.path.abspath(o.path)))
    if name is None or name not in o.names:
      raise KeyError(f"{flag}: {name!r} is not among the files of {o.path}")
    return os.path.join(self._staged[flag], name)

  def write(self, flag: str, writer: Callable[[str], Any], name: str | None = None) -> Any:
    """Calls ``writer(path)`` with the temporary path of an output; an OSError names the user's path."""
    try:
      return writer(self.path(flag, name))
    except OSError as e:
      raise OutputError(flag, f"expected to write {self.target(flag, name)}, got an error: "
                              f"{e.strerror or e}") from None

  def _output(self, flag: str) -> _Output:
    for o in self._outputs:
      if o.flag == flag:
        return o
    raise KeyError(f"{flag}: not an output of this command")

  # --- all at once -----------------------------------------------------------------------------------------

  def commit(self) -> list:
    """Moves every output into place, or none of them; returns the paths placed, as the user gave them."""
    placed = []  # (output, backup of what it replaced)
    self._release()
    o: _Output | None = None
    backup: str | None = None
    try:
      for o in self._outputs:
        backup = None
        if o.folder and os.path.isdir(o.path) and not os.path.islink(o.path):
          self._check(o)  # the folder may have changed while the command ran
          self._merge(o)
          continue
        if os.path.lexists(o.path):
          if not o.folder and not self.force:  # it appeared while the command ran
            raise OutputError(o.flag, f"expected a new file (or --force to replace it), got {o.path}, "
                                      f"which appeared while jbp was running")
          backup = _beside(o.path, ".old")
          os.rename(o.path, backup)
        self._place(o, replacing=backup is not None)
        placed.append((o, backup))
        backup = None
    except BaseException as e:
      if backup is not None and o is not None:  # moved aside, but the new one did not arrive
        os.rename(backup, o.path)
      for done, old in reversed(placed):
        _remove(done.path)
        if old is not None:
          os.rename(old, done.path)
      self.discard()
      if isinstance(e, OSError) and o is not None:
        raise OutputError(o.flag, f"expected to place {o.path}, got an error: {e.strerror or e}") from None
      raise
    for out, old in placed:
      if old is not None:
        _remove(old)
      if not out.folder:
        os.rmdir(self._staged[out.flag])
    self._staged.clear()
    self._committed = True
    return [o.path for o in self._outputs]

  @property
  def committed(self) -> bool:
    """True once :meth:`commit` placed every output."""
    return self._committed

  def _merge(self, o: _Output) -> None:
    """Places a folder's files into the existing folder one by one, summary.json last."""
    staged = self._staged[o.flag]
    new = sorted(os.listdir(staged), key=lambda name: (name == "summary.json", name))
    for name in new:
      os.replace(os.path.join(staged, name), os.path.join(o.path, name))
    for name in os.listdir(o.path):
      if name not in new and name in o.names:
        os.unlink(os.path.join(o.path, name))
    os.rmdir(staged)

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
    for f in self._locks.values():
      f.close()
    self._locks.clear()
    for staged in self._staged.values():
      shutil.rmtree(staged, ignore_errors=True)
    self._staged.clear()
