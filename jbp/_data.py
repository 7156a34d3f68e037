"""Your own data in, params out and back: CSV loading, and params as npz files without pickle.

Reading: :func:`load_csv` takes a CSV file with a header row and the names of
its input and target columns, and refuses missing values, text in numbers and
unknown columns with a message that names the file, line and column.

Writing goes through :mod:`jbp._files` (a temporary file renamed into place, an existing
file kept unless ``force=True``). Params are saved as ``.npz`` of
plain arrays that load with ``allow_pickle=False``, named by layer from 1 at the
input side, as :func:`jbp.explain` names them: ``w1, b1`` hold ``params[0]`` (the
worked example's w1..w4 and b1), ``w2, b2`` hold ``params[1]``, and so on.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
import zlib
from typing import Any, Sequence, cast

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import DTypeLike

from jbp import _checks
from jbp._files import StrPath, save_npz
from jbp._network import Layer

__all__ = ["load_csv", "save_params", "load_params"]

"""A file name: a ``str`` or an ``os.PathLike`` such as ``pathlib.Path``."""


def _columns(name, value):
  if isinstance(value, str):
    value = [v.strip() for v in value.split(",")]
  value = list(value)
  if not value or not all(isinstance(v, str) and v for v in value):
    raise ValueError(f"{name}: expected one or more column names, got {value!r}")
  if len(set(value)) != len(value):
    raise ValueError(f"{name}: expected distinct column names, got {value!r}")
  return value


_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A number as a CSV file writes it: ASCII digits, an optional sign, point and exponent."""
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def _shown(text, most=40):
  """A cell as a message quotes it: whole, or its start and its length."""
  return repr(text) if len(text) <= most else f"{text[:most]!r}... ({len(text)} characters)"


def _rows(path, text):
  """The records of a CSV text; a ``csv.Error`` becomes a ValueError that says what and where."""
  reader = csv.reader(io.StringIO(text))
  rows, line = [], 0  # line: the last line of the last record read
  try:
    for row in reader:
      rows.append(row)
      line = reader.line_num
  except csv.Error as e:
    limit = csv.field_size_limit()
    long = _long_field(text, line, limit)
    if long is not None:
      k, length = long
      where = f"column {rows[0][k].strip()!r}" if rows and k < len(rows[0]) and line else f"field {k + 1}"
      raise ValueError(f"data: expected fields of at most {limit} characters in {path} line {line + 1}, "
                       f"{where}, got one of {length}") from None
    raise ValueError(f"data: expected a UTF-8 CSV file, got {path}, which is not one (line "
                     f"{reader.line_num}: {e})") from None
  return rows


def _long_field(text, lines_before, limit):
  """``(index, length)`` of the first field longer than ``limit`` in the record that starts after
  ``lines_before`` lines of ``text``, as ``csv.reader`` (the excel dialect) splits it; else None."""
  at = 0
  for _ in range(lines_before):
    at = text.find("\n", at) + 1
    if at == 0:
      return None
  k, n, quoted, start = 0, 0, False, True
  while at < len(text):
    ch = text[at]
    if quoted and ch == '"' and text.startswith('"', at + 1):  # a doubled quote: one character
      n, at = n + 1, at + 1
    elif quoted and ch == '"':
      quoted = False
    elif quoted or (ch not in ',"\r\n' or (ch == '"' and not start)):
      n += 1
    elif ch == '"':
      quoted = True
    else:  # the end of a field: a comma, or the end of the record
      if n > limit:
        return k, n
      if ch != ",":
        return None
      k, n = k + 1, 0
    start = ch == "," and not quoted
    at += 1
  return (k, n) if n > limit else None


def load_csv(path: StrPath, inputs: str | Sequence[str],
             targets: str | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
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
    ValueError: an unreadable or empty file, an unknown or repeated column (in
      the arguments, or a column named twice in the header), a row of the wrong
      length, a field longer than ``csv.field_size_limit()`` characters, a
      missing value, text or a non-finite number where a number belongs (a
      number is ASCII decimal: ``1_000`` and digits of other scripts are text);
      the message names the file, line and column. (The library refuses
      non-finite ``x`` and ``y`` too, for data that does not come from a file.)

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
      text = f.read()
  except OSError as e:
    raise ValueError(f"data: expected a readable CSV file, got {path}: {e.strerror or e}") from None
  except UnicodeDecodeError as e:
    raise ValueError(f"data: expected a UTF-8 CSV file, got {path}, which is not one ({e})") from None
  rows = _rows(path, text)
  if not rows:
    raise ValueError(f"data: expected a header row naming the columns, got an empty file {path}")
  header = [h.strip() for h in rows[0]]
  for name, cols in (("inputs", inputs), ("targets", targets)):
    missing = [c for c in cols if c not in header]
    if missing:
      raise ValueError(f"{name}: expected columns of {path} ({', '.join(map(repr, header))}), got "
                       f"{', '.join(map(repr, missing))}, which it lacks")
    twice = next((c for c in cols if header.count(c) > 1), None)
    if twice is not None:  # which of them is meant cannot be told
      at = [str(k + 1) for k, h in enumerate(header) if h == twice]
      raise ValueError(f"data: expected each column named once in the header of {path}, got {twice!r} as "
                       f"columns {', '.join(at[:-1])} and {at[-1]}")
  body = [(n, r) for n, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
  if not body:
    raise ValueError(f"data: expected rows of data below the header of {path}, got none")
  index = {c: header.index(c) for c in inputs + targets}
  x = np.empty((len(body), len(inputs)), np.float64)
  y = np.empty((len(body), len(targets)), np.float64)
  for r, (line, row) in enumerate(body):
    if len(row) != len(header):
      raise ValueError(f"data: expected {len(header)} fields as in the header on {path} line {line}, "
                       f"got {len(row)}")
    for out, cols in ((x, inputs), (y, targets)):
      for k, c in enumerate(cols):
        text = row[index[c]].strip()
        # float() takes more than numbers as a file writes them ('1_000', Arabic-Indic and full-width
        # digits): a cell must be ASCII decimal first.
        if not _NUMBER.fullmatch(text):
          if _NON_FINITE.fullmatch(text):
            raise ValueError(f"data: expected a finite number in {path} line {line}, column {c!r}, "
                             f"got {_shown(text)}")
          got = _shown(text) if text else "an empty cell"
          raise ValueError(f"data: expected a number in {path} line {line}, column {c!r}, got {got}")
        v = float(text)
        if not math.isfinite(v):  # past the float64 range, e.g. 1e999
          raise ValueError(f"data: expected a finite number in {path} line {line}, column {c!r}, "
                           f"got {_shown(text)}")
        out[r, k] = v
  return x, y


def save_params(path: StrPath, params: Sequence[Layer], *, force: bool = False) -> str:
  """Saves params as ``.npz`` arrays ``w1, b1, w2, b2, ...``: layer ``l``, from 1 at the input side.

  ``w1, b1`` hold ``params[0]``, the names :func:`jbp.explain` gives them (in the
  worked example, ``w1`` is ``[[w1, w2], [w3, w4]]`` and ``b1`` the hidden bias).
  A population's leading axes are kept.

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

  >>> import os, tempfile, numpy as np, jbp
  >>> path = os.path.join(tempfile.mkdtemp(), "params.npz")
  >>> _ = jbp.save_params(path, jbp.worked_example().params)
  >>> sorted(np.load(path, allow_pickle=False).files)
  ['b1', 'b2', 'w1', 'w2']
  >>> back = jbp.load_params(path)
  >>> back[1].w.shape, back[1].w.dtype, round(float(back[1].w[0, 1]), 6)
  ((2, 2), dtype('float32'), 0.45)
  """
  arrays = {}
  for l, layer in enumerate(params, start=1):
    arrays[f"w{l}"] = np.asarray(layer.w)
    arrays[f"b{l}"] = np.asarray(layer.b)
  return save_npz(path, arrays, force=force)


def _layer_names(path, files):
  """``[(w, b), ...]`` input side first: ``w1, b1, ...``, or ``w0, b0, ...`` as jbp 0.1.0 saved them."""
  n = sum(1 for k in files if re.fullmatch(r"w\d+", k))
  first = 0 if "w0" in files else 1
  names = [(f"w{l}", f"b{l}") for l in range(first, first + n)]
  if n == 0 or sorted(files) != sorted(k for pair in names for k in pair):
    raise ValueError(f"params: expected arrays w1, b1, w2, b2, ... in {path}, got {sorted(files)}")
  return names


NPZ = "path: expected a .npz file of arrays saved by jbp.save_params or numpy.savez"


def _not_npz(path, why) -> ValueError:
  return ValueError(f"{NPZ}, got {path}, {why}")


def _check_zip(path):
  """Raises ValueError unless ``path`` is a file that starts as a zip archive (an ``.npz`` is one)."""
  try:
    with open(path, "rb") as f:
      start = f.read(4)
  except OSError as e:
    raise _not_npz(path, f"which cannot be read ({e.strerror or e})") from None
  if start == b"\x93NUM":
    raise _not_npz(path, "which holds one array (.npy), not named arrays w1, b1, ...")
  if start not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip's first entry, or an empty zip
    raise _not_npz(path, "which is empty" if not start else "which is not a zip archive, as an .npz is")


def load_params(path: StrPath, dtype: DTypeLike | None = None) -> tuple[Layer, ...]:
  """Params saved by :func:`save_params`, read with ``allow_pickle=False``.

  Args:
    path: an ``.npz`` file (a ``str`` or ``os.PathLike``) of arrays ``w1, b1, w2,
      b2, ...`` (files of jbp 0.1.0, ``w0, b0, ...``, load too), in either byte
      order (big-endian arrays are read as the same numbers in the machine's order).
    dtype: ``None`` keeps the file's dtype, which must then be one for every
      array; a float64 file needs 64-bit mode, never silently becoming float32.
      Or a floating dtype to convert every array to, e.g. ``jnp.float32``.

  Nothing in the file is unpickled: an ``.npz`` of anything but numeric arrays
  named ``w0, b0, w1, b1, ...`` is refused, and a file that is no zip archive
  never reaches NumPy's reader. NaN passes (a population's diverged members).

  Returns:
    a tuple of :class:`jbp.Layer` of JAX arrays; a population keeps its leading axes.

  Raises:
    ValueError: ``path: expected a .npz file of arrays saved by jbp.save_params or
      numpy.savez, got ...`` for a file that cannot be read or is not an ``.npz``
      (empty, a ``.npy``, random bytes, a damaged zip); ``params: expected ...``
      for one whose arrays are not those of params: missing or extra names,
      arrays that are not floating point (pickled objects included), mixed
      dtypes (with ``dtype=None``), float64 with 64-bit mode off, or shapes that
      do not chain. Every message names the file.

  >>> import os, tempfile, jax, jax.numpy as jnp, jbp
  >>> path = os.path.join(tempfile.mkdtemp(), "params.npz")
  >>> with jax.enable_x64(True):
  ...   _ = jbp.save_params(path, jbp.worked_example(jnp.float64).params)
  >>> jbp.load_params(path)  # 64-bit mode is off here
  Traceback (most recent call last):
  ...
  ValueError: params: expected float32 arrays with 64-bit mode off, got float64 in ...
  >>> jbp.load_params(path, dtype=jnp.float32)[0].w.dtype
  dtype('float32')
  """
  # Only a zip archive reaches np.load: anything else would be tried as a pickle (refused, with
  # NumPy's advice to load it "unsafely"). np.load raises many kinds of error on a zip that is not an
  # .npz of plain arrays (BadZipFile on a truncated one, ValueError on a pickled member): each becomes
  # one ValueError that names the file.
  _check_zip(path)
  try:
    z = np.load(path, allow_pickle=False)
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    raise _not_npz(path, f"which cannot be read as one ({e})") from None
  with z:
    names = _layer_names(path, z.files)
    arrays = {}
    for k in z.files:
      try:
        arrays[k] = z[k]
      except ValueError as e:
        if "pickle" in str(e):  # an object array: never unpickled, and NumPy's advice is not repeated
          raise ValueError(f"params: expected floating-point arrays (float16, float32 or float64), got "
                           f"pickled Python objects ({k}) in {path}, which are never unpickled") from None
        raise _not_npz(path, f"which cannot be read ({k}: {e})") from None
      except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise _not_npz(path, f"which cannot be read ({k}: {e})") from None
  ordered = [k for pair in names for k in pair]
  for k in ordered:  # a zip member that is not an .npy array comes back as raw bytes
    a = arrays[k]
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
      got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
      raise ValueError(f"params: expected floating-point arrays (float16, float32 or float64), got {got} "
                       f"({k}) in {path}")
    if not a.dtype.isnative:  # saved on a big-endian machine (or as '>f4'): the same numbers, in our order
      arrays[k] = a.astype(a.dtype.newbyteorder("="))
  if dtype is None:
    first = arrays[ordered[0]].dtype
    other = next((k for k in ordered if arrays[k].dtype != first), None)
    if other is not None:
      raise ValueError(f"params: expected one floating dtype for every array, got {first} ({ordered[0]}) "
                       f"and {arrays[other].dtype} ({other}) in {path}; pass dtype=jnp.float32 (or another) "
                       f"to convert them all")
    x64 = cast(Any, jax.config).jax_enable_x64  # jax.config declares no type for its options
    if first.itemsize == 8 and not x64:
      raise ValueError(f"params: expected float32 arrays with 64-bit mode off, got float64 in {path}. "
                       f"{_checks.X64_HINT}; or pass dtype=jnp.float32 to load them as float32")
    dt = first
  else:
    dt = _checks.check_dtype(dtype)
  params = tuple(Layer(jnp.asarray(arrays[w], dt), jnp.asarray(arrays[b], dt)) for w, b in names)
  try:  # NaN passes: a population's diverged members are NaN, and saved as they are
    _checks.check_params(params, leading=arrays[names[0][0]].shape[:-2], finite=False)
  except (ValueError, TypeError) as e:
    raise ValueError(f"params: expected layers whose shapes chain in {path} (params[l] is saved as "
                     f"w{{l+1}}, b{{l+1}}), got {e}") from None
  return params
