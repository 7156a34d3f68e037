"""The worked example's published figures next to what each update order gives."""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable, NamedTuple

from jax.typing import DTypeLike

from jbp._example import PUBLISHED, worked_example
from jbp._network import forward
from jbp._show.format import decimals
from jbp._train import UPDATES, train

__all__ = ["FigureRow", "format_figures", "matches_published", "worked_example_figures"]


class FigureRow(NamedTuple):
  """One published figure next to jbp's value under each update order.

  Attributes:
    name: what the figure is, e.g. ``"E after 1 update"``.
    published: the figure as printed, a ``str`` (its digits decide the tolerance).
    values: ``{update order: value}``, a Python ``float`` for each of
      ``"simultaneous"`` and ``"sequential"``.
    matches: ``{update order: bool}``: whether that value is within one unit of
      the last printed digit of ``published``.

  >>> import jbp
  >>> row = jbp.FigureRow("E before training", "0.298371109",
  ...                     {"simultaneous": 0.2983711087, "sequential": 0.2983711087},
  ...                     {"simultaneous": True, "sequential": True})
  >>> row.matches["sequential"]
  True
  """

  name: str
  published: str
  values: dict
  matches: dict


def matches_published(value: float, published: str) -> bool:
  """True when ``value`` is within one unit of the last printed digit of ``published``.

  The worked example rounds some figures and truncates others, so a figure
  printed with 9 decimals matches any value within 1e-9 of it.
  """
  text = published.strip()
  exponent = Decimal(text).as_tuple().exponent
  if not isinstance(exponent, int):  # 'n', 'N' or 'F': a NaN or an infinity
    raise TypeError(f"published: expected a finite decimal number, got {published!r}")
  decimals = -exponent
  return abs(Decimal(repr(float(value))) - Decimal(text)) <= Decimal(1).scaleb(-decimals)


def _values(update: str, dtype) -> list[float]:
  ex = worked_example(dtype)
  first, losses1 = train(ex.params, ex.inputs, ex.targets, steps=1,
                         learning_rate=ex.learning_rate, update=update)
  final, losses = train(ex.params, ex.inputs, ex.targets, steps=ex.steps,
                        learning_rate=ex.learning_rate, update=update, record_every=ex.steps)
  out0 = forward(ex.params, ex.inputs)
  out = forward(final, ex.inputs)
  return [float(out0[0]), float(out0[1]), float(losses1[0]), float(losses1[1]),
          float(losses[-1]), float(out[0]), float(out[1])]


def worked_example_figures(dtype: DTypeLike | None = None) -> list[FigureRow]:
  """Every published figure with jbp's value under each update order.

  Trains the worked example for one update and for its 10,000, in each order,
  with :func:`jbp.train`.

  Args:
    dtype: as in :func:`jbp.worked_example`; pass ``jnp.float64`` (with 64-bit
      mode on) to match all printed digits.

  Returns:
    a list of :class:`FigureRow`, one a figure, in the order of ``jbp.PUBLISHED``.

  Raises:
    ValueError: a bad ``dtype``, as in :func:`jbp.worked_example`.

  >>> import jax, jax.numpy as jnp, jbp
  >>> with jax.enable_x64(True):
  ...   rows = jbp.worked_example_figures(jnp.float64)
  >>> [(r.name, r.matches["simultaneous"], r.matches["sequential"]) for r in rows][3]
  ('E after 1 update', False, True)
  """
  per_update = {u: _values(u, dtype) for u in UPDATES}
  rows = []
  for i, (name, text) in enumerate(PUBLISHED):
    values = {u: per_update[u][i] for u in UPDATES}
    rows.append(FigureRow(name, text, values,
                          {u: matches_published(v, text) for u, v in values.items()}))
  return rows


def _check_rows(rows) -> list:
  if isinstance(rows, FigureRow) or not hasattr(rows, "__iter__"):
    raise TypeError(f"rows: expected a list of jbp.FigureRow from jbp.worked_example_figures(), "
                    f"got {type(rows).__name__}")
  rows = list(rows)
  for i, r in enumerate(rows):
    if not isinstance(r, FigureRow):
      raise TypeError(f"rows[{i}]: expected a jbp.FigureRow, got {type(r).__name__}")
    if not (isinstance(r.values, dict) and isinstance(r.matches, dict)
            and set(UPDATES) <= set(r.values) and set(UPDATES) <= set(r.matches)):
      raise ValueError(f"rows[{i}]: expected values and matches for each update order {list(UPDATES)}, "
                       f"got values {r.values!r} and matches {r.matches!r}")
  return rows


def format_figures(rows: Iterable[FigureRow], dtype_name: str = "float64") -> str:
  """The rows of :func:`worked_example_figures` as the table ``jbp`` prints.

  Args:
    rows: a sequence of :class:`FigureRow`.
    dtype_name: the dtype the values were computed in, for the title line.

  Returns:
    the table as one ``str`` of lines: a title, a row a figure with each value
    to 9 decimals and ``ok`` or ``--`` for a match, and how many matched.

  Raises:
    TypeError: ``rows`` is not a sequence of :class:`FigureRow`.
    ValueError: a row lacks a value or a match for one of the update orders.

  >>> import jbp
  >>> row = jbp.FigureRow("E before training", "0.298371109",
  ...                     {"simultaneous": 0.2983711087, "sequential": 0.2983711087},
  ...                     {"simultaneous": True, "sequential": True})
  >>> print(jbp.format_figures([row]).splitlines()[5])
  E before training               0.298371109     0.298371109 ok     0.298371109 ok
  """
  rows = _check_rows(rows)
  head = f"{'figure':<30} {'published':>12} {'simultaneous':>15} {'':>2} {'sequential':>15} {'':>2}"
  lines = [f"The worked example (2-2-2 sigmoid, learning rate 0.5), {dtype_name}.",
           "A value matches when it is within one unit of the last printed digit.", "", head,
           "-" * len(head)]
  for r in rows:
    cells = []
    for u in UPDATES:
      cells.append(f"{decimals(r.values[u]):>15} {'ok' if r.matches[u] else '--':>2}")
    lines.append(f"{r.name:<30} {r.published:>12} " + " ".join(cells))
  n = {u: sum(r.matches[u] for r in rows) for u in UPDATES}
  lines += ["", "matched: " + ", ".join(f"{u} {n[u]}/{len(rows)}" for u in UPDATES),
            "The published iteration figures come from the sequential order (output layer",
            "updated first); textbook gradient descent is the simultaneous order."]
  return "\n".join(lines)
