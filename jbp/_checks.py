"""Eager argument checks at the public boundary.

Every check here runs before anything is traced or compiled and reads only what
is known statically (shapes, dtypes, Python values). Values that may be traced
(a learning rate under ``jax.vmap``, say) are checked only when they are concrete.
Messages name the argument, say what was expected and what was given.

Data (``x`` and ``y``) and params must be finite. That is checked with NumPy on
host values only: a traced value under ``jit``/``vmap``/``grad`` has no value to
look at, so it passes through, and a NaN in it flows through the computation as NaN.
"""

from __future__ import annotations

import functools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

from jbp._layer import Layer

X64_HINT = ('64-bit mode is off; enable it at start-up with '
            'jax.config.update("jax_enable_x64", True) (or the environment variable '
            'JAX_ENABLE_X64=1), or for a block of code with `with jax.enable_x64(True):`')


def x64_enabled() -> bool:
  """True if JAX's 64-bit mode is on (here, or in a ``jax.enable_x64`` block)."""
  return bool(jax.config.read("jax_enable_x64"))


def is_concrete(x) -> bool:
  """True if ``x`` holds a known value (not a tracer under jit/vmap/grad)."""
  return not isinstance(x, Tracer)


def check_dtype(dtype, name: str = "dtype"):
  """Returns the canonical floating dtype for ``dtype`` (None: JAX's default float).

  Raises ValueError for a non-floating dtype, and for float64 while 64-bit mode is
  off, instead of JAX's silent fall-back to float32.
  """
  if dtype is None:
    return jnp.result_type(float)
  try:
    dt = np.dtype(dtype)
  except TypeError:
    raise ValueError(f"{name}: expected a floating dtype such as jnp.float32, got {dtype!r}") from None
  if not jnp.issubdtype(dt, jnp.floating):
    raise ValueError(f"{name}: expected a floating dtype such as jnp.float32, got {dt}")
  if dt.itemsize == 8 and not x64_enabled():
    raise ValueError(f"{name}: float64 was asked for, but {X64_HINT}.")
  return dt


INT32_MAX = 2**31 - 1
"""The largest count jbp takes: a compiled loop counts its steps (and a population its members) in int32."""


def check_int(name: str, value, *, minimum: int = 1, maximum: int = INT32_MAX) -> int:
  """A Python (or NumPy) integer from ``minimum`` to ``maximum``; bools and floats are refused.

  The default maximum is :data:`INT32_MAX`: ``steps``, ``record_every`` and the
  like count the iterations of a compiled loop, whose counter is an int32, and a
  larger count would overflow it (or, with 64-bit mode on, wrap silently).

  >>> check_int("steps", 2**63 - 1)
  Traceback (most recent call last):
  ...
  ValueError: steps: expected an integer from 1 to 2147483647, got 9223372036854775807
  """
  if isinstance(value, bool) or not isinstance(value, numbers.Integral):
    raise TypeError(f"{name}: expected an integer >= {minimum}, got {type(value).__name__} {value!r}")
  value = int(value)
  if value < minimum:
    raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
  if value > maximum:
    raise ValueError(f"{name}: expected an integer from {minimum} to {maximum}, got {value}")
  return value


def check_record_every(record_every, steps: int) -> int:
  record_every = check_int("record_every", record_every)
  if steps % record_every:
    raise ValueError(
        f"record_every: expected a divisor of steps={steps}, got {record_every} "
        f"({steps} % {record_every} = {steps % record_every})")
  return record_every


@functools.lru_cache(maxsize=None)
def _positive_range(dtype) -> tuple:
  """``(smallest, largest)`` positive numbers of a floating ``dtype``, as Python floats."""
  info = jnp.finfo(dtype)
  return float(info.smallest_subnormal), float(info.max)


def check_in_dtype(name: str, value, dtype, *, positive: bool = True):
  """Raises ValueError if a concrete ``value`` becomes an infinity (or, if ``positive``, zero) in ``dtype``.

  A hyperparameter reaches the compiled program in the params' dtype: ``1e39`` is
  an infinity in float32, ``1e-50`` is zero. Values inside the dtype's range are
  accepted with two comparisons; only the others are converted to look closer.

  >>> check_in_dtype("learning_rate", 1e39, jnp.float32)
  Traceback (most recent call last):
  ...
  ValueError: learning_rate: expected a positive number finite in float32, got 1e+39
  """
  if dtype is None or not is_concrete(value):
    return
  smallest, largest = _positive_range(np.dtype(dtype))
  a = np.abs(np.asarray(value, np.float64))
  if np.all(a <= largest) and (not positive or np.all(a >= smallest)):
    return
  with np.errstate(over="ignore", under="ignore"):
    cast = np.asarray(value, np.float64).astype(dtype).astype(np.float64)
  bad = ~np.isfinite(cast) | ((cast <= 0) if positive else False)
  if bad.any():
    at = tuple(int(i) for i in np.argwhere(bad)[0])
    first = float(np.asarray(value, np.float64)[at])
    where = f" (at index {at})" if at else ""
    what = "a positive number" if positive else "a number"
    raise ValueError(f"{name}: expected {what} finite in {np.dtype(dtype).name}, got {first!r}{where}")


def check_learning_rate(learning_rate, *, name: str = "learning_rate", shape=(), dtype=None):
  """A finite, positive learning rate of the given shape (checked when concrete).

  With ``dtype`` (the params'), the rate must also be a positive finite number
  in that dtype, as the compiled program sees it (see :func:`check_in_dtype`).
  """
  if type(learning_rate) is float and shape == ():  # the common case, without NumPy's machinery
    if not 0.0 < learning_rate < math.inf:
      raise ValueError(f"{name}: expected a positive finite number, got {learning_rate!r}")
    if dtype is not None:
      smallest, largest = _positive_range(dtype)
      if not smallest <= learning_rate <= largest:
        check_in_dtype(name, learning_rate, dtype)
    return learning_rate
  if learning_rate is None:
    raise ValueError(f"{name}: expected a positive finite number, got None")
  if isinstance(learning_rate, (str, bytes)) or callable(learning_rate):
    raise TypeError(f"{name}: expected a positive finite number, got {type(learning_rate).__name__} "
                    f"{learning_rate!r} (pass a schedule as optimizer=optax.sgd(schedule))")
  got_shape = tuple(np.shape(learning_rate))
  if got_shape != tuple(shape):
    raise ValueError(f"{name}: expected shape {tuple(shape)}, got shape {got_shape}")
  if is_concrete(learning_rate):
    arr = np.asarray(learning_rate)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
      raise TypeError(f"{name}: expected a real number, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
      first = float(arr[bad].flat[0])
      where = "" if arr.ndim == 0 else f" (at index {tuple(int(i) for i in np.argwhere(bad)[0])})"
      raise ValueError(f"{name}: expected a positive finite number, got {first!r}{where}")
    check_in_dtype(name, arr, dtype)
  return learning_rate


def check_choice(name: str, value, choices):
  if not isinstance(value, str) or value not in choices:
    raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
  return value


def is_floating(dtype) -> bool:
  """True for a floating dtype, bfloat16 and the other ML floats included."""
  return dtype.kind == "f" or (dtype.kind == "V" and jnp.issubdtype(dtype, jnp.floating))


def _shape_dtype(name: str, value):
  """``(shape, dtype)`` of an array-like of real numbers (see :func:`check_array`)."""
  if isinstance(value, (jax.Array, np.ndarray)):  # the common case, at the cost of two attributes
    shape, dtype = value.shape, value.dtype
  elif isinstance(value, (str, bytes)) or value is None:
    raise TypeError(f"{name}: expected an array of numbers, got {type(value).__name__} {value!r}")
  else:
    try:
      shape = tuple(np.shape(value))
      dtype = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
    except (TypeError, ValueError) as e:
      raise TypeError(f"{name}: expected an array of numbers, got {type(value).__name__} ({e})") from None
  dtype = np.dtype(dtype)
  if not (dtype.kind in "iu" or is_floating(dtype)):
    raise TypeError(f"{name}: expected an array of real numbers, got dtype {dtype}")
  return tuple(shape), dtype


def check_array(name: str, value):
  """An array-like of real numbers, returned with its shape."""
  return _shape_dtype(name, value)[0]


def _host(value):
  """``value`` as a NumPy array of floats, if it is one whose values this process can read; else None.

  A tracer (under ``jit``, ``vmap`` or ``grad``) has no value yet, nor has a global
  array that this process cannot read whole (several hosts); integers are finite.
  """
  if not is_concrete(value):
    return None
  # Every array is fully addressable in one process; asking costs more than asking how many processes.
  if isinstance(value, jax.Array) and jax.process_count() > 1 and not value.is_fully_addressable:
    return None
  a = np.asarray(value)
  return a if is_floating(a.dtype) else None


def _all_finite(a) -> bool:
  # A few values (the worked example's) are checked faster one by one than by NumPy's machinery.
  return all(map(math.isfinite, a.ravel().tolist())) if a.size <= 64 else bool(np.isfinite(a).all())


def _non_finite(name: str, a, bad, expected="finite numbers") -> ValueError:
  at = tuple(int(i) for i in np.argwhere(bad)[0])
  return ValueError(f"{name}: expected {expected}, got {float(a[at])!r} at index {at}")


def check_finite(name: str, value):
  """Raises ValueError if ``value`` holds NaN or an infinity; host data only.

  A tracer (under ``jit``, ``vmap`` or ``grad``) has no value yet and passes, as
  does a global array that this process cannot read whole (several hosts).

  >>> check_finite("x", [0.5, float("nan")])
  Traceback (most recent call last):
  ...
  ValueError: x: expected finite numbers, got nan at index (1,)
  """
  a = _host(value)
  if a is not None and not _all_finite(a):
    raise _non_finite(name, a, ~np.isfinite(a))


def check_finite_params(params, *, name: str = "params", leading=()):
  """Raises ValueError naming the first leaf of ``params`` that holds NaN or an infinity; host values only.

  One check a leaf; a traced leaf passes, as in :func:`check_finite`. In a
  population (``leading`` axes), a member that is NaN in every leaf passes: that
  is how :func:`jbp.train_many` returns a diverged member, and training it again
  marks it diverged again.

  >>> import jbp
  >>> p = jbp.worked_example().params
  >>> check_finite_params((jbp.Layer(p[0].w.at[1, 0].set(float("nan")), p[0].b), p[1]))
  Traceback (most recent call last):
  ...
  ValueError: params[0].w: expected finite numbers, got nan at index (1, 0)
  """
  host = [_host(leaf) for layer in params for leaf in layer]  # w, b of layer 0, then of layer 1, ...
  if all(a is None or _all_finite(a) for a in host):
    return
  names = [f"{name}[{i}].{part}" for i in range(len(params)) for part in "wb"]  # only for an error
  bad = [(n, a) for n, a in zip(names, host) if a is not None and not _all_finite(a)]
  if not leading:
    n, a = bad[0]
    raise _non_finite(n, a, ~np.isfinite(a))
  known = [a for a in host if a is not None]
  if len(known) < len(host):  # a traced leaf: whether a member diverged cannot be told
    return
  k = len(leading)
  diverged = np.ones(leading, bool)  # members that are NaN in every leaf
  for a in known:
    diverged &= np.isnan(a).reshape(tuple(leading) + (-1,)).all(-1)
  for n, a in bad:
    wrong = ~np.isfinite(a) & ~diverged.reshape(diverged.shape + (1,) * (a.ndim - k))
    if wrong.any():
      raise _non_finite(n, a, wrong, "finite numbers (or a member NaN in every leaf, as train_many returns "
                                     "a diverged one)")


def check_data_array(name: str, value):
  """An array-like of finite real numbers (finiteness checked on host data only), returned with its shape."""
  shape = check_array(name, value)
  check_finite(name, value)
  return shape


def check_data(x, y, sizes, *, batched_ok: bool = True):
  """Checks x against the network's input size and y against its output size.

  x: (n_in,) or (batch, n_in); y: (n_out,) or (batch, n_out) with the same batch,
  both finite (on host data; see :func:`check_finite`).
  Returns the batch size, or None for a single example.
  """
  n_in, n_out = sizes[0], sizes[-1]
  xs = check_data_array("x", x)
  ys = check_data_array("y", y)
  if len(xs) == 1 or not batched_ok:
    if xs != (n_in,):
      raise ValueError(f"x: expected shape ({n_in},) or (batch, {n_in}) for a network with "
                       f"{n_in} inputs, got shape {xs}")
  elif len(xs) != 2 or xs[1] != n_in:
    raise ValueError(f"x: expected shape ({n_in},) or (batch, {n_in}) for a network with "
                     f"{n_in} inputs, got shape {xs}")
  batch = xs[0] if len(xs) == 2 else None
  want = (n_out,) if batch is None else (batch, n_out)
  if ys != want:
    raise ValueError(f"y: expected shape {want} to match x of shape {xs} and a network with "
                     f"{n_out} outputs, got shape {ys}")
  return batch


def check_params(params, *, name: str = "params", leading=(), finite: bool = True):
  """Checks a tuple (or list) of Layer(w, b) whose shapes chain; returns the layer sizes.

  ``leading`` is a tuple of leading (population) axes every leaf must carry.
  ``finite``: also refuse NaN and infinities in concrete leaves (:func:`check_finite_params`);
  False where only the shapes matter.
  Returns sizes such as (2, 2, 2) for the worked example.
  """
  if not isinstance(params, (tuple, list)) or len(params) == 0:
    raise TypeError(f"{name}: expected a non-empty tuple of jbp.Layer(w, b), got {type(params).__name__}")
  k = len(leading)
  sizes = []
  dtype = None
  for i, layer in enumerate(params):
    if not isinstance(layer, Layer):
      raise TypeError(f"{name}[{i}]: expected jbp.Layer(w, b), got {type(layer).__name__}")
    (ws, wdt), (bs, bdt) = (_shape_dtype(f"{name}[{i}].{part}", leaf) for part, leaf in zip("wb", layer))
    if ws[:k] != tuple(leading) or bs[:k] != tuple(leading):
      raise ValueError(f"{name}[{i}]: expected leading axes {tuple(leading)} on w and b, "
                       f"got w of shape {ws} and b of shape {bs}")
    ws, bs = ws[k:], bs[k:]
    if len(ws) != 2:
      raise ValueError(f"{name}[{i}].w: expected shape (n_out, n_in), got shape {ws}")
    if bs not in ((), (ws[0],)):
      raise ValueError(f"{name}[{i}].b: expected a scalar or shape ({ws[0]},) to match w of shape "
                       f"{ws}, got shape {bs}")
    if i == 0:
      sizes.append(ws[1])
    elif ws[1] != sizes[-1]:
      raise ValueError(f"{name}[{i}].w: expected {sizes[-1]} inputs (the outputs of layer {i - 1}), "
                       f"got shape {ws}: layer shapes do not chain")
    sizes.append(ws[0])
    for dt, part in ((wdt, "w"), (bdt, "b")):
      if not is_floating(dt):
        raise TypeError(f"{name}[{i}].{part}: expected a floating dtype, got {dt}")
      if dt.itemsize == 8 and not x64_enabled():  # JAX would compute in float32, silently
        raise ValueError(f"{name}[{i}].{part}: expected float32 (or float16) arrays with 64-bit mode off, "
                         f"got float64, but {X64_HINT}; or convert the params to float32")
      if dtype is None:
        dtype = dt
      elif dt != dtype:
        raise TypeError(f"{name}[{i}].{part}: expected every leaf to have dtype {dtype}, got {dt}")
  if finite:
    check_finite_params(params, name=name, leading=leading)
  return tuple(sizes)
