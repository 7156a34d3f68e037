"""Cheap repeated calls: what depends only on shapes, dtypes and options is checked once.

Every public function checks its arguments before anything runs (``jbp._checks``), and most of
what it checks (the layer sizes, that the shapes chain, the run's :class:`~jbp._options.Options`,
the dtype) follows from the arguments' types, shapes and dtypes and the options alone. A repeated
call with the same ones takes those from a cache, keyed as ``jax.jit`` keys its own: the params'
structure with each leaf's type, shape and dtype, the data's, every option with its type (so that
``steps=2.0`` or ``True`` is refused as before, never taken for ``2`` or ``1``), and the 64-bit
mode and the default backend. Anything else (a list of layers, a tracer, an unhashable option, an
optimizer object) takes the full checks every call.

What depends on values is checked on every call: that ``x``, ``y`` and the params (except for
:func:`jbp.forward`, which shows a diverged run's outputs) are finite, and the learning rate. A
``jax.Array`` cannot change, so it is checked once while it lives (the check copies it to the host,
which on a GPU is a transfer); a NumPy array may be written in place, so it is checked every time.

Measured (``benchmarks/calls.py``, one process, 30 interleaved rounds, against a trivial jitted call
``jax.jit(lambda x: x)(x)`` of 3.8 µs; 2-core Intel Xeon, JAX 0.10.2, the worked example in float64):
``jbp.train(..., steps=2)`` went from 9.9x to 3.7x, ``jbp.forward`` from 7.1x to 2.2x, ``jbp.loss``
from 9.9x to 2.6x and ``jbp.backprop`` from 10.6x to 3.8x. Most of what is left is JAX's dispatch of
the program: each output costs about 1 µs and each input 0.2 µs, and a Python float argument 1.6 µs
(jit makes a device scalar of it at every call). So :func:`jbp.train`'s program returns only the
trained leaves, flat (the frozen ones, the worked example's biases, go back as the caller gave
them), and a float learning rate is passed as a JAX scalar made once for its value
(:func:`scalar`): the program's call went from 3.85x to 3.0x.
"""

from __future__ import annotations

import weakref

import jax
import numpy as np
from jax.core import Tracer

from jbp import _checks
from jbp._layer import Layer

__all__ = ["cached", "lookup", "store", "params_key", "array_key", "option_key", "ints_key", "check_finite",
           "as_dtype", "scalar", "Unkeyable", "check_finite_params"]

MAX_ENTRIES = 256  # distinct signatures kept; past that the cache starts again
_CACHE: dict = {}
_SEEN: dict = {}  # id(jax.Array) -> (weakref to it, its key, found finite)
_LAST_PARAMS: tuple = ((), None)  # weakrefs to the leaves of the last params keyed, and their key
_SCALARS: dict = {}  # (float, 64-bit mode) -> the JAX scalar made of it
_ARRAYS = {np.ndarray}  # leaf types whose shape and dtype say all the checks need
_JAX_ARRAYS: set = set()  # those of them that are immutable (concrete jax.Array types)


class Unkeyable(Exception):
  """An argument the cache does not key (the call takes the full checks)."""


def _array_type(a):
  t = type(a)
  if t in _ARRAYS:
    return t
  if isinstance(a, jax.Array) and not isinstance(a, Tracer):
    _ARRAYS.add(t)
    _JAX_ARRAYS.add(t)
    return t
  raise Unkeyable


def array_key(a):
  """``(type, shape, dtype)`` of a NumPy array or a concrete ``jax.Array``; raises :class:`Unkeyable` else.

  A ``jax.Array`` cannot change, so its key is kept while it lives (reading ``shape`` costs more).
  """
  t = type(a)
  if t in _JAX_ARRAYS:
    seen = _SEEN.get(id(a))
    if seen is not None and seen[0]() is a:
      return seen[1]
    key = t, a.shape, a.dtype
    _remember(a, key)
    return key
  return (t if t in _ARRAYS else _array_type(a)), a.shape, a.dtype


def _remember(a, key, finite=False):
  try:
    ref = weakref.ref(a)
  except TypeError:  # an array type without weak references is simply not remembered
    return
  if len(_SEEN) >= MAX_ENTRIES:
    _SEEN.clear()
  _SEEN[id(a)] = (ref, key, finite)


def params_key(params):
  """The key of a tuple of :class:`jbp.Layer` of arrays: each leaf's type, shape and dtype, flat.

  The last params keyed are remembered by weak references to their leaves, when every leaf is a
  ``jax.Array``: the same leaves again (in a new tuple or not) have the same key.
  """
  global _LAST_PARAMS
  if type(params) is not tuple:
    raise Unkeyable
  refs, last = _LAST_PARAMS
  if len(refs) == 2 * len(params):
    i = 0
    for layer in params:
      if type(layer) is not Layer or refs[i]() is not layer[0] or refs[i + 1]() is not layer[1]:
        break
      i += 2
    else:
      return last
  key = []
  arrays = _ARRAYS
  immutable = True
  for layer in params:
    if type(layer) is not Layer:
      raise Unkeyable
    w, b = layer
    tw, tb = type(w), type(b)
    if tw not in arrays:
      _array_type(w)
    if tb not in arrays:
      _array_type(b)
    immutable = immutable and tw in _JAX_ARRAYS and tb in _JAX_ARRAYS
    key += (tw, w.shape, w.dtype, tb, b.shape, b.dtype)
  key = tuple(key)
  if immutable:
    try:
      _LAST_PARAMS = (tuple(weakref.ref(leaf) for layer in params for leaf in layer), key)
    except TypeError:  # no weak references: not remembered
      pass
  return key


def option_key(v):
  """An option with its type, recursively through tuples (``True`` is not ``1``, ``2.0`` not ``2``)."""
  t = type(v)
  if t is str:
    return v
  if isinstance(v, tuple):  # Layer(w=bool, b=bool), an Activation (a NamedTuple), ...
    return t, tuple(option_key(e) for e in v)
  hash(v)  # TypeError: unhashable
  return t, v


def ints_key(*values):
  """Integer options as they are (raises :class:`Unkeyable` for anything but a Python ``int``)."""
  for v in values:
    if type(v) is not int:
      raise Unkeyable
  return values


_BACKEND = []


def _default_backend():
  """``jax.default_backend()``, read once: it is fixed when JAX starts its backends."""
  if not _BACKEND:
    _BACKEND.append(jax.default_backend())
  return _BACKEND[0]


def lookup(key):
  """The value cached for ``key`` with the 64-bit mode and the default backend, or None."""
  return _CACHE.get((key, _checks.x64_enabled(), _default_backend()))


def store(key, value):
  """Caches ``value`` for ``key`` (as :func:`lookup` reads it) and returns it."""
  if len(_CACHE) >= MAX_ENTRIES:
    _CACHE.clear()
  _CACHE[(key, _checks.x64_enabled(), _default_backend())] = value
  return value


def cached(kind: str, key_fn, make):
  """``(make(), True)`` once for each key, ``(the value it made, False)`` on later calls.

  The key is ``(kind, key_fn())`` with the 64-bit mode and the default backend. ``key_fn`` raises
  :class:`Unkeyable` (or ``TypeError`` for an unhashable option) for arguments the cache does not
  take: then ``make()`` runs every call. ``make`` raising caches nothing.
  """
  try:
    key = (kind, key_fn())
    value = lookup(key)
  except (Unkeyable, TypeError):
    return make(), True
  if value is not None:
    return value, False
  return store(key, make()), True


def check_finite_params(params):
  """:func:`jbp._checks.check_finite_params`, skipped when every leaf is a live ``jax.Array`` found finite."""
  leaves = [leaf for layer in params for leaf in layer]
  for a in leaves:
    seen = _SEEN.get(id(a)) if type(a) in _JAX_ARRAYS else None
    if seen is None or not seen[2] or seen[0]() is not a:
      break
  else:
    return
  _checks.check_finite_params(params)
  for a in leaves:
    if type(a) in _JAX_ARRAYS:
      _remember(a, (type(a), a.shape, a.dtype), finite=True)


def check_finite(name: str, a):
  """:func:`jbp._checks.check_finite`, once for each live ``jax.Array`` found finite."""
  if type(a) in _JAX_ARRAYS:
    seen = _SEEN.get(id(a))
    if seen is not None and seen[2] and seen[0]() is a:
      return
    _checks.check_finite(name, a)
    _remember(a, (type(a), a.shape, a.dtype), finite=True)
    return
  _checks.check_finite(name, a)


def scalar(v):
  """A Python float as a JAX scalar (weakly typed, as jit takes the float), made once a value.

  jit turns a Python float argument into a device scalar at every call (1.6 µs of a 12 µs
  call of :func:`jbp.train`'s program); the same value in the same 64-bit mode reuses the one
  made before. Under a trace (``jbp.train`` inside ``jax.jit`` or ``jax.vmap``) the scalar would be
  a tracer of that trace, so the float is returned as it is and nothing is kept. Anything else is
  returned as it is.
  """
  if type(v) is not float:
    return v
  key = (v, _checks.x64_enabled())
  a = _SCALARS.get(key)
  if a is None:
    a = jax.numpy.asarray(v)
    if isinstance(a, Tracer):  # made under a trace (an outer jit or vmap), and valid in it alone
      return v
    if len(_SCALARS) >= MAX_ENTRIES:
      _SCALARS.clear()
    _SCALARS[key] = a
  return a


def as_dtype(a, dtype):
  """``a`` as an array of ``dtype``; a JAX array that has it already is passed as is (no dispatch)."""
  if isinstance(a, jax.Array):
    return a if a.dtype == dtype else jax.numpy.asarray(a, dtype)
  return np.asarray(a, dtype)
