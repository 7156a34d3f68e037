"""The worked example (a 2-2-2 sigmoid network on one example) and XOR.

The worked example's figures, as published::

    forward outputs          [0.751365069, 0.772928465]
    E before training        0.298371109
    E after one update       0.291027924   (sequential update order)
    E after 10,000 updates   0.000035085   (sequential update order)
    outputs after 10,000     [0.015912196, 0.984065734]

The textbook (simultaneous) order gives 0.291027774 after one update; see the
README's paragraph on update orders.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from jbp import _checks
from jbp._network import Layer

__all__ = ["Example", "worked_example", "xor", "PUBLISHED"]


class Example(NamedTuple):
  """A network and its data: what :func:`worked_example` and :func:`xor` return.

  Attributes:
    params: a tuple of :class:`jbp.Layer`, input side first.
    inputs: shape ``(n_in,)`` for one example or ``(batch, n_in)``, of the params' dtype.
    targets: shape ``(n_out,)`` or ``(batch, n_out)``, likewise.
    learning_rate: the example's learning rate, a Python ``float``.
    steps: the example's number of updates, a Python ``int``.

  >>> import jbp
  >>> ex = jbp.xor()
  >>> ex.inputs.shape, ex.targets.shape, ex.learning_rate, ex.steps
  ((4, 2), (4, 1), 0.5, 10000)
  """

  params: tuple[Layer, ...]
  inputs: jax.Array
  targets: jax.Array
  learning_rate: float
  steps: int


# (name, published text, what it is). The text keeps the digits as printed.
PUBLISHED = (
    ("out_o1 before training", "0.751365069"),
    ("out_o2 before training", "0.772928465"),
    ("E before training", "0.298371109"),
    ("E after 1 update", "0.291027924"),
    ("E after 10,000 updates", "0.000035085"),
    ("out_o1 after 10,000 updates", "0.015912196"),
    ("out_o2 after 10,000 updates", "0.984065734"),
)
"""The worked example's figures: ``(name, text)`` pairs, the text with the digits as printed.

A value matches a figure when it is within one unit of its last printed digit
(see :func:`jbp.worked_example_figures`).

>>> import jbp
>>> dict(jbp.PUBLISHED)["E after 1 update"]
'0.291027924'
"""


def worked_example(dtype: DTypeLike | None = None) -> Example:
  """The 2-2-2 worked example: weights w1..w8, shared biases b1, b2, one example.

  Args:
    dtype: a floating dtype such as ``jnp.float32``; ``None`` is JAX's default
      (float32 unless 64-bit mode is on).

  Returns:
    an :class:`Example` of that dtype: ``params`` of sizes (2, 2, 2) with
    ``params[0].w == [[w1, w2], [w3, w4]]``, ``params[1].w == [[w5, w6], [w7, w8]]``,
    scalar biases ``b1 = 0.35`` and ``b2 = 0.60``; inputs ``[0.05, 0.10]`` and
    targets ``[0.01, 0.99]``, both of shape ``(2,)``; learning rate 0.5; 10,000 steps.

  Raises:
    ValueError: ``dtype`` is not a floating dtype, or is ``jnp.float64`` while
      64-bit mode is off (the message says how to turn it on).

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> ex.params[0].w.tolist()
  [[0.15000000596046448, 0.20000000298023224], [0.25, 0.30000001192092896]]
  """
  dt = _checks.check_dtype(dtype)
  a = lambda v: jnp.asarray(v, dtype=dt)  # noqa: E731
  params = (
      Layer(w=a([[0.15, 0.20], [0.25, 0.30]]), b=a(0.35)),
      Layer(w=a([[0.40, 0.45], [0.50, 0.55]]), b=a(0.60)),
  )
  return Example(params, a([0.05, 0.10]), a([0.01, 0.99]), 0.5, 10_000)


def xor(dtype: DTypeLike | None = None, *, key: ArrayLike | None = None, hidden: int = 5) -> Example:
  """XOR, the reference program's second example: four examples, full batch.

  ``[0,0]->0, [0,1]->1, [1,0]->1, [1,1]->0`` with a 2-``hidden``-1 sigmoid network.

  Args:
    dtype: as in :func:`worked_example`.
    key: a PRNG key, ``jax.random.key(seed)``, for the initial params (uniform in
      [0, 1), one bias a layer, as the reference program draws them); ``None``
      gives ``jax.random.key(0)``.
    hidden: the hidden layer's width, an integer >= 1.

  Returns:
    an :class:`Example`: params of sizes ``(2, hidden, 1)``, inputs of shape
    ``(4, 2)`` and targets ``(4, 1)`` of that dtype, learning rate 0.5 and
    10,000 steps.

  Raises:
    ValueError: a bad ``dtype`` (as in :func:`worked_example`) or ``hidden < 1``.
    TypeError: ``hidden`` is not an integer, or ``key`` is not a PRNG key.

  >>> import jax, jbp
  >>> ex = jbp.xor(key=jax.random.key(1), hidden=3)
  >>> [p.w.shape for p in ex.params], ex.targets[:, 0].tolist()
  ([(3, 2), (1, 3)], [0.0, 1.0, 1.0, 0.0])
  """
  import jax

  from jbp._init import init_params

  dt = _checks.check_dtype(dtype)
  hidden = _checks.check_int("hidden", hidden)
  if key is None:
    key = jax.random.key(0)
  params = init_params(key, (2, hidden, 1), method="uniform", shared_bias=True, dtype=dt)
  x = jnp.asarray([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dt)
  y = jnp.asarray([[0], [1], [1], [0]], dtype=dt)
  return Example(params, x, y, 0.5, 10_000)
