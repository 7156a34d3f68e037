"""An :func:`jbp.explain` record as a standalone SVG drawing of the network (:func:`render_svg`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jbp._show.checks import check_title
from jbp._show.derivation import check_explanation
from jbp._show.diagram import draw, param_labels
from jbp._show.format import decimals
from jbp._show.names import shared_biases

if TYPE_CHECKING:  # the record's type; at run time this layer imports nothing of the core
  from jbp._explain import Explanation

__all__ = ["caption", "render_svg"]


def caption(record: Explanation, example: int) -> list[str]:
  """The caption lines of a drawing of ``record``."""
  ex = ("one example" if record.examples == 1 else
        f"values of example {example + 1} of {record.examples}")
  return [f"{'-'.join(map(str, record.sizes))} {record.activation} network, {ex}, {record.dtype}",
          f"weights and biases before the step; E_total = {decimals(record.E_total)}"]


def render_svg(record: Explanation, *, example: int = 0, title: str | None = None) -> str:
  """The network of an :func:`jbp.explain` record as a standalone SVG drawing.

  Laid out as the worked example's figure: inputs on the left, each layer to the right, each
  layer's bias as its own unit below the layer it reads from. Every neuron is labelled with its
  name and values (an input's value; a neuron's ``net`` and ``out``; an output's ``target``), every
  weight and bias with its name and value before the step, all to 9 decimals as ``jbp explain``
  prints them and in the record's names.

  Args:
    record: what :func:`jbp.explain` returns.
    example: for a batch, whose values label the neurons (0-based).
    title: a line above the caption (which names the network and the data), e.g. which step.

  Returns:
    the SVG document as a string (UTF-8 XML; light or dark to match the viewer's colour scheme).

  Raises:
    TypeError: ``record`` is not a :class:`jbp.Explanation`, or ``title`` not a string.
    ValueError: ``example`` is not one of the record's examples.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> svg = jbp.render_svg(jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5))
  >>> svg.startswith("<?xml"), ">w5</tspan>" in svg, ">out 0.751365" in svg
  (True, True, True)
  """
  check_explanation(record)
  n_ex = record.examples
  if isinstance(example, bool) or not isinstance(example, int) or not 0 <= example < n_ex:
    raise ValueError(f"example: expected an integer from 0 to {n_ex - 1} (the record has {n_ex} "
                     f"example{'s' if n_ex > 1 else ''}), got {example!r}")
  check_title(title)
  e = example
  rows = {name: [[(decimals(v[e]), {})]] for name, v in record.inputs}
  targets = {o.neuron: o.target[e] for o in record.errors}
  for f in record.forward:
    rows[f.neuron] = [[(f"net {decimals(f.net[e])}", {})], [(f"out {decimals(f.out[e])}", {})]]
    if f.neuron in targets:
      rows[f.neuron].append([(f"target {decimals(targets[f.neuron])}", {})])
  shared = shared_biases(record.names)
  values = {p.name: p.value for p in record.weights + record.biases}
  edge_labels, unit_rows = param_labels(record.names, shared,
                                        lambda name, text: [(text(name, decimals(values[name])), {})])
  cap = caption(record, e)
  if title is not None:
    cap = [title] + cap
  body = draw(record.sizes, record.names, shared, edge_labels=edge_labels, rows=rows, unit_rows=unit_rows,
              caption=cap, role_label=cap[0])
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
