"""Your own data in, results out: CSV loading, and atomic npz/JSON writes without pickle.

Reading: :func:`load_csv` takes a CSV file with a header row and the names of
its input and target columns, and refuses missing values, text in numbers and
unknown columns with a message that names the file, line and column.

Writing: every file is written to a temporary file in the same folder and then
renamed over the target (``os.replace``), so a reader never sees half a file; an
existing file is kept unless ``force=True``. Params are saved as ``.npz`` of
plain arrays (``w0, b0, w1, b1, ...``) that load with ``allow_pickle=False``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
import zipfile
import zlib

import numpy as np

from jbp._network import Layer

__all__ = ["load_csv", "save_params", "load_params", "save_npz", "save_json", "check_writable",
           "atomic_write"]


def _columns(name, value):
  if isinstance(value, str):
    value = [v.strip() for v in value.split(",")]
  value = list(value)
  if not value or not all(isinstance(v, str) and v for v in value):
    raise ValueError(f"{name}: expected one or more column names, got {value!r}")
  if len(set(value)) != len(value):
    raise ValueError(f"{name}: expected distinct column names, got {value!r}")
  return value


def load_csv(path, inputs, targets):
  """Inputs and targets from a CSV file with a header row.

  Args:
    path: the CSV file (a ``str`` or ``os.PathLike``), UTF-8, a leading byte-order
      mark allowed; blank rows are skipped.
    inputs: the input column names, a list of ``str`` or one comma-separated string.
    targets: the target column names, likewise; none of them an input column.

  Returns:
    ``(x, y)``: float64 NumPy arrays of shape ``(rows, len(inputs))`` and
    ``(rows, len(targets))``, in the order the columns are named.

  Raises:
    ValueError: an unreadable or empty file, an unknown or repeated column, a
      row of the wrong length, a missing value, text or a non-finite number where
      a number belongs; the message names the file, line and column.

  >>> import os, tempfile, jbp
  >>> path = os.path.join(tempfile.mkdtemp(), "and.csv")
  >>> _ = open(path, "w").write("a,b,out\\n0,0,0\\n0,1,0\\n1,0,0\\n1,1,1\\n")
  >>> x, y = jbp.load_csv(path, inputs="a,b", targets="out")
  >>> x.shape, y.shape, x.dtype
  ((4, 2), (4, 1), dtype('float64'))
  """
  inputs = _columns("inputs", inputs)
  targets = _columns("targets", targets)
  both = set(inputs) & set(targets)
  if both:
    raise ValueError(f"targets: expected columns other than the inputs, got {sorted(both)} in both")
  try:
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a leading BOM (spreadsheets) is dropped
      rows = list(csv.reader(f))
  except OSError as e:
    raise ValueError(f"data: cannot read {path}: {e.strerror or e}") from None
  except (UnicodeDecodeError, csv.Error) as e:
    raise ValueError(f"data: {path} is not a readable CSV file ({e})") from None
  if not rows:
    raise ValueError(f"data: {path} is empty; expected a header row naming the columns")
  header = [h.strip() for h in rows[0]]
  missing = [c for c in inputs + targets if c not in header]
  if missing:
    raise ValueError(f"data: {path} has no column {', '.join(map(repr, missing))}; its columns are "
                     f"{', '.join(map(repr, header))}")
  body = [(n, r) for n, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
  if not body:
    raise ValueError(f"data: {path} has a header but no rows of data")
  index = {c: header.index(c) for c in inputs + targets}
  x = np.empty((len(body), len(inputs)), np.float64)
  y = np.empty((len(body), len(targets)), np.float64)
  for r, (line, row) in enumerate(body):
    if len(row) != len(header):
      raise ValueError(f"data: {path} line {line}: expected {len(header)} fields as in the header, "
                       f"got {len(row)}")
    for out, cols in ((x, inputs), (y, targets)):
      for k, c in enumerate(cols):
        text = row[index[c]].strip()
        if not text:
          raise ValueError(f"data: {path} line {line}, column {c!r}: missing value")
        try:
          v = float(text)
        except ValueError:
          raise ValueError(f"data: {path} line {line}, column {c!r}: expected a number, "
                           f"got {text!r}") from None
        if not math.isfinite(v):
          raise ValueError(f"data: {path} line {line}, column {c!r}: expected a finite number, got {text!r}")
        out[r, k] = v
  return x, y


def check_writable(path, *, force=False, name="out"):
  """Fails early, before any work, if ``path`` cannot be written.

  Raises:
    FileExistsError: ``path`` exists and ``force`` is False.
    ValueError: its folder is missing or not writable, or ``path`` is a folder.
  """
  path = os.fspath(path)
  if os.path.isdir(path):
    raise ValueError(f"{name}: {path} is a folder; expected a file name")
  if os.path.exists(path) and not force:
    raise FileExistsError(f"{name}: {path} exists; pass --force to overwrite it")
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise ValueError(f"{name}: cannot write {path}: folder {folder} does not exist")
  if not os.access(folder, os.W_OK | os.X_OK):
    raise ValueError(f"{name}: cannot write {path}: folder {folder} is not writable")
  return path


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def atomic_write(path, write, *, force=False, name="out"):
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
  exists = FileExistsError(f"{name}: {path} exists; pass --force to overwrite it")
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


def save_npz(path, arrays: dict, *, force=False, name="out"):
  """Saves a dict of arrays as an uncompressed ``.npz`` (no pickled objects), atomically."""
  plain = {k: np.asarray(v) for k, v in arrays.items()}
  for k, v in plain.items():
    if v.dtype == object:
      raise TypeError(f"{name}: array {k!r} holds Python objects; expected numbers")
  return atomic_write(path, lambda f: np.savez(f, **plain), force=force, name=name)


def save_json(path, obj, *, force=False, name="out"):
  """Saves ``obj`` as indented JSON, atomically."""
  text = json.dumps(obj, indent=2) + "\n"
  return atomic_write(path, lambda f: f.write(text.encode("utf-8")), force=force, name=name)


def save_params(path, params, *, force=False):
  """Saves params as ``.npz`` arrays ``w0, b0, w1, b1, ...`` (layer index from the input side).

  The file is written atomically (a temporary file in the same folder, then
  renamed), holds plain arrays of the params' own dtypes, and loads without
  pickle: :func:`load_params`, or ``numpy.load(path, allow_pickle=False)``.

  Args:
    path: the file to write (a ``str`` or ``os.PathLike``); kept if it exists
      unless ``force``.
    params: a tuple of :class:`jbp.Layer`; ``w`` of shape ``(n_out, n_in)`` and
      ``b`` a scalar or of shape ``(n_out,)``, any numeric dtype (a leading
      population axis, as from :func:`jbp.init_many`, is saved as it is).
    force: overwrite an existing file.

  Returns:
    ``path``, as written.

  Raises:
    FileExistsError: ``path`` exists and ``force`` is False.
    ValueError: ``path`` is a folder, or its folder is missing or not writable.
    TypeError: a leaf holds Python objects rather than numbers.

  >>> import os, tempfile, jbp
  >>> path = os.path.join(tempfile.mkdtemp(), "params.npz")
  >>> _ = jbp.save_params(path, jbp.worked_example().params)
  >>> back = jbp.load_params(path)
  >>> back[1].w.shape, back[1].w.dtype, round(float(back[1].w[0, 1]), 6)
  ((2, 2), dtype('float32'), 0.45)
  """
  arrays = {}
  for l, layer in enumerate(params):
    arrays[f"w{l}"] = np.asarray(layer.w)
    arrays[f"b{l}"] = np.asarray(layer.b)
  return save_npz(path, arrays, force=force)


def load_params(path):
  """Params saved by :func:`save_params`, loaded with ``allow_pickle=False``.

  Nothing in the file is unpickled: an ``.npz`` of anything but numeric arrays
  named ``w0, b0, w1, b1, ...`` is refused.

  Args:
    path: the ``.npz`` file (a ``str`` or ``os.PathLike``).

  Returns:
    a tuple of :class:`jbp.Layer` of NumPy arrays, with the shapes and dtypes
    they were saved with; ``jnp.asarray`` or any jbp function takes them as they are.

  Raises:
    ValueError: the file is missing or unreadable, is not an ``.npz`` file, holds
      other arrays than ``w0, b0, ...``, or an array that is not of numbers; the
      message names the file.

  >>> import os, tempfile, jax, jbp
  >>> path = os.path.join(tempfile.mkdtemp(), "params.npz")
  >>> _ = jbp.save_params(path, jbp.init_params(jax.random.key(0), (3, 4, 1)))
  >>> [(p.w.shape, p.b.shape) for p in jbp.load_params(path)]
  [((4, 3), (4,)), ((1, 4), (1,))]
  """
  # np.load raises many kinds of error on a file that is not an .npz of plain arrays (EOFError on an
  # empty file, BadZipFile on a truncated one, ValueError on pickled data): each becomes one ValueError
  # that names the file.
  try:
    z = np.load(path, allow_pickle=False)
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    raise ValueError(f"params: cannot read {path} as an .npz file of arrays: {e}") from None
  if not isinstance(z, np.lib.npyio.NpzFile):
    raise ValueError(f"params: {path} holds one array (.npy); expected an .npz file of arrays w0, b0, ...")
  with z:
    n = len([k for k in z.files if k.startswith("w")])
    if sorted(z.files) != sorted([f"w{l}" for l in range(n)] + [f"b{l}" for l in range(n)]) or n == 0:
      raise ValueError(f"params: {path} holds {sorted(z.files)}; expected arrays w0, b0, w1, b1, ...")
    try:
      arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
      raise ValueError(f"params: cannot read {path}: {e}") from None
  for k, a in arrays.items():  # a zip member that is not an .npy array comes back as raw bytes
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "biuf":
      raise ValueError(f"params: {path}: {k} is not an array of numbers")
  return tuple(Layer(arrays[f"w{l}"], arrays[f"b{l}"]) for l in range(n))
