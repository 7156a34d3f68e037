"""How jbp writes a number: the two formats, and where each is used.

- :func:`decimals`, fixed 9 decimals: the worked example's own format. The derivation
  (``jbp explain``, :func:`jbp.render_text`), the diagrams and pages, and the figures table
  (``jbp``) use it, so each number can be read against the published derivation digit for digit.
- :func:`number`, 9 significant digits, in scientific notation below 1e-4 (Python's ``.9g``): every
  loss ``jbp train`` and ``jbp ensemble`` print or plot, so a loss of 2.4e-35 never shows as
  0.000000000.
"""

from __future__ import annotations

from typing import SupportsFloat

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["decimals", "number", "numbers"]


def decimals(v: SupportsFloat) -> str:
  """``v`` to 9 decimals, as the worked example prints its figures.

  >>> decimals(0.2983711087600027), decimals(-0.5), decimals(3.5e-05)
  ('0.298371109', '-0.500000000', '0.000035000')
  """
  return f"{float(v):.9f}"


def number(v: SupportsFloat) -> str:
  """``v`` with 9 significant digits, or in scientific notation below 1e-4.

  >>> number(0.298371109), number(3.5101877789e-05), number(2.407412430e-35), number(0.5)
  ('0.298371109', '3.51018778e-05', '2.40741243e-35', '0.5')
  """
  return f"{float(v):.9g}"


def numbers(values: ArrayLike) -> str:
  """A sequence of numbers as ``[a, b, ...]``, each written by :func:`number`.

  >>> numbers([0.0159136204, 0.984064274])
  '[0.0159136204, 0.984064274]'
  """
  return "[" + ", ".join(number(v) for v in np.ravel(values)) + "]"
