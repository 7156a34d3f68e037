"""The network as a picture: one layout, labels, element ids and drawing for every picture of it.

Inputs on the left, each layer to the right, each layer's bias a unit of its own below the layer it
reads from (the worked example's b1 under i1, i2). Every neuron, weight and bias carries its name and
value, to 9 decimals. The SVG file (:func:`jbp.render_svg`), the stepping page (:func:`jbp.render_html`)
and the training page (:func:`jbp.render_training`) all draw with :func:`draw`, label parameters
with :func:`param_labels` and address elements by the one id scheme below.

Text is monospace, so the layout reserves room for each label from its characters. Between two
layers, the edges into target neuron ``j`` are labelled in a column of their own at a fraction ``t_j``
of the way across the gap, so within a column the labels sit ``(1 - t_j)`` rows apart; where a gap has
fewer labelled sources than targets, each source gets the column instead. Past :data:`FULL_LABELS`
labelled edges the drawing is compact: labels show on hover or keyboard focus, edges always.
"""

from __future__ import annotations

from html import escape
from typing import NamedTuple

from jbp._show.names import Names
from jbp._show.style import MONO, palette_css

__all__ = ["LABEL_SCRIPT", "SVG_CSS", "Edge", "Layout", "draw", "layout", "param_labels", "bias_edge",
           "edge_id", "label_id", "node_ids", "unit_ids"]

FONT = 11.0  # px, labels and annotations
CHAR = 0.62 * FONT  # a monospace character's advance, a little over the 0.6 em of common monospace fonts
LINE = 14.0  # line height of annotation rows
R = 21.0  # neuron radius
R_COMPACT = 15.0  # neuron radius of a compact drawing (names in a smaller font)
FULL_LABELS = 24  # labelled edges up to which every label is drawn; beyond, labels show on hover or focus
T_COMPACT = 0.5  # where along an edge (centre to centre) a compact drawing puts its label
PAD = 10.0
UNIT = (34.0, 22.0)  # a bias unit's box
CAPTION = 15.0  # caption line height

# The palette (jbp._show.style) as CSS variables on the drawing, so a standalone SVG has its colours;
# a page sets the same variables on its root.
SVG_CSS = palette_css(".jbp-net") + f"""
.jbp-net {{ font-family: {MONO}; font-size: {FONT:g}px; }}
.jbp-net .bg {{ fill: var(--bg); }}
.jbp-net text {{ fill: var(--fg); }}
.jbp-net .cap {{ font-family: system-ui, sans-serif; font-size: 12.5px; }}
.jbp-net .cap.t {{ font-weight: 600; font-size: 13.5px; }}
.jbp-net .edge {{ stroke: var(--edge); stroke-width: 1.3; }}
.jbp-net .edge.bias {{ stroke-dasharray: 4 3; }}
.jbp-net .node circle, .jbp-net .node rect {{ fill: var(--node); stroke: var(--fg); stroke-width: 1.4; }}
.jbp-net .node text {{ font-weight: 700; font-size: 12px; }}
.jbp-net .lab, .jbp-net .ann {{ paint-order: stroke; stroke: var(--bg); stroke-width: 4px;
  stroke-linejoin: round; }}
.jbp-net .ann {{ fill: var(--muted); }}
.jbp-net .upd {{ fill: var(--upd); }}
.jbp-net.compact .node text {{ font-size: 8.5px; }}
.jbp-net.compact line.edge {{ stroke-opacity: .6; }}
.jbp-net.compact .lg {{ visibility: hidden; }}
.jbp-net.compact .lg.on, .jbp-net.compact .lg.hl, .jbp-net.compact .lg.hl-upd {{ visibility: visible; }}
.jbp-net .hit {{ stroke: transparent; stroke-width: 7; fill: none; }}
.jbp-net [tabindex]:focus {{ outline: none; }}
.jbp-net [tabindex]:focus-visible circle, .jbp-net [tabindex]:focus-visible rect,
.jbp-net .hit:focus-visible {{ stroke: var(--accent); stroke-width: 3; }}
.jbp-net line.edge.on {{ stroke: var(--fg); stroke-opacity: 1; }}
.jbp-net .k {{ font-weight: 700; }}
.jbp-net .hl .edge, .jbp-net .edge.hl {{ stroke: var(--accent); stroke-width: 3; }}
.jbp-net .edge.hl-upd {{ stroke: var(--upd); stroke-width: 3.4; stroke-dasharray: 7 3; }}
.jbp-net .node.hl circle, .jbp-net .node.hl rect {{ stroke: var(--accent); stroke-width: 3;
  fill: var(--accent-bg); }}
.jbp-net .hl > text, .jbp-net text.hl {{ fill: var(--accent); font-weight: 700; }}
.jbp-net .hl-upd > text {{ fill: var(--upd); font-weight: 700; }}
"""


class Edge(NamedTuple):
  """One drawn edge: ``id`` names a weight, a per-neuron bias, or ``"{bias}-{neuron}"`` for a
  shared bias's edge (drawn, not labelled: the unit carries the value)."""

  id: str
  labelled: bool
  bias: bool
  layer: int
  x1: float
  y1: float
  x2: float
  y2: float
  lx: float
  ly: float


class Layout(NamedTuple):
  """Where everything goes. ``neurons[name] = (x, y, column)``; ``units[l] = (x, y, name)`` for the
  bias unit feeding layer ``l`` (1-based)."""

  width: float
  height: float
  neurons: dict
  units: dict
  edges: tuple
  columns: tuple  # x of each column, input side first
  r: float = R  # neuron radius
  compact: bool = False  # labels shown on hover or focus, not all at once


# ---------------------------------------------------------------------------------------------------------
# The element ids, the one scheme the pages' scripts address: ``n-{neuron}`` (a neuron's group) and
# ``a-{neuron}`` (the rows under it), ``u-{layer}`` and ``a-u-{layer}`` (the bias unit feeding a layer,
# from 1, and the rows under it), ``e-{edge}`` (an edge) and ``l-{edge}`` (its label). An edge is named
# after its weight or per-neuron bias, or ``{bias}-{neuron}`` for a shared bias's edge into a neuron.


def edge_id(edge: str) -> str:
  return f"e-{edge}"


def label_id(edge: str) -> str:
  return f"l-{edge}"


def node_ids(neuron: str) -> list[str]:
  """A neuron's circle and the rows under it."""
  return [f"n-{neuron}", f"a-{neuron}"]


def unit_ids(layer: int) -> list[str]:
  """The bias unit feeding ``layer`` (from 1) and the rows under it."""
  return [f"u-{layer}", f"a-u-{layer}"]


def bias_edge(bias: str, neuron: str) -> str:
  """The edge of a shared bias into ``neuron`` (drawn, not labelled: the unit carries the value)."""
  return f"{bias}-{neuron}"


def param_labels(names: Names, shared: tuple[bool, ...], variants) -> tuple[dict, dict]:
  """Where each parameter's label goes: ``(edge_labels, unit_rows)`` as :func:`draw` takes them.

  A weight's label, and a per-neuron bias's, sit on its edge; a shared bias's under its unit.
  ``variants(name, text)`` gives a parameter's label variants ``[(text(name_shown, value), attrs), ...]``;
  ``text`` writes a label from a name and a value: both, on an edge; under a unit (which shows the
  name) the value alone, or name and value where the name shown is another (``∂E/∂b1``).
  """
  on_edge = lambda shown, value: (shown, value)
  edge_labels, unit_rows = {}, {}
  for l, (weights, biases) in enumerate(zip(names.weights, names.biases)):
    for row in weights:
      for w in row:
        edge_labels[w] = variants(w, on_edge)
    for b in biases:
      if shared[l]:
        under_unit = lambda shown, value, b=b: value if shown == b else f"{shown} {value}"
        unit_rows[l + 1] = [variants(b, under_unit)]
      else:
        edge_labels[b] = variants(b, on_edge)
  return edge_labels, unit_rows


# ---------------------------------------------------------------------------------------------------------
# The layout.


def labelled_edges(sizes, shared) -> int:
  """How many edges carry a label: every weight, and each bias of one bias a neuron."""
  return sum(sizes[c + 1] * (sizes[c] + (not shared[c])) for c in range(len(sizes) - 1))


def hits_box(x1, y1, x2, y2, box) -> bool:
  """Whether the segment from ``(x1, y1)`` to ``(x2, y2)`` meets ``box = (left, top, right, bottom)``."""
  t0, t1 = 0.0, 1.0
  dx, dy = x2 - x1, y2 - y1
  for p, q in ((-dx, x1 - box[0]), (dx, box[2] - x1), (-dy, y1 - box[1]), (dy, box[3] - y1)):
    if p == 0:
      if q < 0:
        return False
    else:
      t = q / p
      if p < 0:
        t0 = max(t0, t)
      else:
        t1 = min(t1, t)
      if t0 > t1:
        return False
  return True


def _meets(a, b) -> bool:
  return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def layout(sizes, names, shared, **kw) -> Layout:
  """Positions of neurons, bias units, edges and edge labels (the arguments as for :func:`_layout`).

  Where some label finds no place on its edge clear of every other edge, the rows go 15% further apart
  and the layout tries again (steeper edges cross a label's edge over less of its length), up to twice
  the spacing; if none is clear, the first layout stands.
  """
  lay, clear = _layout(sizes, names, shared, **kw)
  stretch = 1.0
  while not clear and stretch * 1.15 <= 2:
    stretch *= 1.15
    wider, clear = _layout(sizes, names, shared, **kw, stretch=stretch)
    if clear:
      return wider
  return lay


def _layout(sizes, names, shared, *, label_chars, label_lines, below_rows, below_chars, unit_rows,
            caption_lines, stretch=1.0):
  """Positions of neurons, bias units, edges and edge labels, and whether every label is clear.

  Args:
    sizes: layer sizes, input first.
    names: a :class:`jbp._explain.Names`.
    shared: one bool a layer: one bias for the layer (a labelled unit) or one a neuron (labelled edges).
    label_chars: the longest line of an edge label, in characters (of all its lines on one, when compact).
    label_lines: lines of an edge label (one, when compact).
    below_rows: rows of the annotation block under each neuron.
    below_chars: one a column: the longest annotation under its neurons or its bias unit.
    unit_rows: rows of annotation under a bias unit.
    caption_lines: lines of caption above the drawing.
    stretch: a factor on the row spacing.

  Returns ``(layout, clear)``: clear when no edge label is crossed by another edge.
  """
  L = len(sizes) - 1
  compact = labelled_edges(sizes, shared) > FULL_LABELS
  r = R_COMPACT if compact else R
  cols = [tuple(names.inputs)] + [tuple(n) for n in names.neurons]
  label_w, label_h = label_chars * CHAR, label_lines * LINE
  # Room either side of each column of neurons, for the annotations under them.
  half = [max(r, UNIT[0] / 2, chars * CHAR / 2) + PAD for chars in below_chars]
  top = PAD + caption_lines * CAPTION + (PAD if caption_lines else 0)
  if compact:
    # One label column in the middle of each gap; a neuron's incoming labels (shown together on focus)
    # sit (1 - T_COMPACT) rows apart, so a row is at least a label high over that.
    by_source = [False] * L
    room = label_w / 2 + PAD
    gaps = [max((half[c] + room) / T_COMPACT, (half[c + 1] + room) / (1 - T_COMPACT)) for c in range(L)]
    S = max(2 * r + below_rows * LINE + (2 * PAD if below_rows else PAD), (label_h + 4) / (1 - T_COMPACT))
  else:
    colw = label_w + 2 * PAD
    # A column of labels per target neuron, or per labelled source (inputs, and a bias unit of one
    # bias a neuron) where those are fewer.
    by_source = [sizes[c] + (not shared[c]) < sizes[c + 1] for c in range(L)]
    ncols = [sizes[c] + (not shared[c]) if by_source[c] else sizes[c + 1] for c in range(L)]
    gaps = [half[c] + half[c + 1] + ncols[c] * colw for c in range(L)]
    # Row spacing: clear of the annotations, and wide enough where neighbouring labels are closest:
    # the column nearest a target (labels 1 - t rows apart) or, by source, nearest the source (t rows).
    S = 2 * r + below_rows * LINE + 3 * PAD
    for c in range(L):
      near = half[c] if by_source[c] else half[c + 1]
      S = max(S, (label_h + 4) * gaps[c] / (near + colw / 2))
  S *= stretch
  x = [PAD + half[0]]
  for c in range(L):
    x.append(x[-1] + gaps[c])
  widest = max(sizes)

  def ys(c):
    return [top + r + 6 + (k + (widest - sizes[c]) / 2) * S for k in range(sizes[c])]

  neurons, units = {}, {}
  for c, col in enumerate(cols):
    for name, y in zip(col, ys(c)):
      neurons[name] = (x[c], y, c)
  bottom = max(ys(c)[-1] for c in range(L + 1)) + r + 4 + below_rows * LINE
  for c in range(L):
    y = ys(c)[-1] + S
    units[c + 1] = (x[c], y, names.biases[c][0] if shared[c] else f"b{c + 1}")
    bottom = max(bottom, y + UNIT[1] / 2 + 4 + unit_rows * LINE)
  edges = []
  for c in range(L):
    x0 = x[c]
    ux, uy, _ = units[c + 1]
    for j, dst in enumerate(cols[c + 1]):
      xd, yd, _ = neurons[dst]
      srcs = [(names.weights[c][j][i], neurons[s][:2], True, False) for i, s in enumerate(cols[c])]
      bias = names.biases[c][0 if shared[c] else j]
      srcs.append((bias_edge(bias, dst) if shared[c] else bias, (ux, uy), not shared[c], True))
      for i, (eid, (xs, ys_), labelled, is_bias) in enumerate(srcs):
        if compact:
          t = T_COMPACT
        else:
          t = (half[c] + ((i if by_source[c] else j) + 0.5) * (label_w + 2 * PAD)) / gaps[c]
        ex, ey = xd - xs, yd - ys_
        norm = (ex * ex + ey * ey) ** 0.5
        r0 = UNIT[0] / 2 if is_bias else r
        edges.append(Edge(eid, labelled, is_bias, c + 1, xs + ex / norm * r0, ys_ + ey / norm * r0,
                          xd - ex / norm * r, yd - ey / norm * r, x0 + t * (xd - x0), ys_ + t * ey))
  if not compact:
    edges, clear = _clear_of_edges(edges, neurons, units, r, label_w, label_h, below_rows)
  else:
    clear = True  # labels show a neuron's or an edge's at a time
  width = x[-1] + half[-1]
  return Layout(width, bottom + PAD, neurons, units, tuple(edges), tuple(x), r, compact), clear


def _clear_of_edges(edges, neurons, units, r, label_w, label_h, below_rows):
  """Moves each label along its edge to the place nearest its column where no other edge crosses it.

  A label may cover its own edge (it sits on it, on a halo of the background), but no other edge,
  neuron, bias unit, annotation or label already placed. Where no place along the edge is clear, the
  label keeps its column (whose spacing still keeps labels apart). Returns ``(edges, clear)``: clear
  when no label is crossed by another edge.
  """
  m = 3.0  # px of clearance, the halo and a little air
  hw, hh = label_w / 2 + m, label_h / 2 + m
  blocks = [(x - r, y - r, x + r, y + r + 4 + below_rows * LINE) for x, y, _ in neurons.values()]
  uw, uh = UNIT[0] / 2, UNIT[1] / 2
  blocks += [(x - uw, y - uh, x + uw, y + uh) for x, y, _ in units.values()]
  placed, out, clear = [], [], True
  for e in edges:
    if not e.labelled:
      out.append(e)
      continue
    # the label's place as a fraction of the drawn edge, and candidates from there, nearest first
    dx, dy = e.x2 - e.x1, e.y2 - e.y1
    f0 = (e.lx - e.x1) / dx if dx else 0.5
    fs = sorted({round(f, 3) for f in [f0] + [k / 80 for k in range(4, 77)]}, key=lambda f: abs(f - f0))
    # first clear of everything; failing that, clear of all but other edges
    boxes = [(lx - hw, ly - hh, lx + hw, ly + hh) for lx, ly in ((e.x1 + f * dx, e.y1 + f * dy) for f in fs)]
    crossed = [any(hits_box(o.x1, o.y1, o.x2, o.y2, box) for o in edges if o.id != e.id) for box in boxes]
    free = [not any(_meets(box, b) for b in blocks + placed) for box in boxes]
    k = next((k for k in range(len(fs)) if free[k] and not crossed[k]), None)
    if k is None:
      clear = False
      k = next((k for k in range(len(fs)) if free[k]), None)
    if k is None:  # no place clear of the other labels: every label keeps its column
      return edges, False
    lx, ly = e.x1 + fs[k] * dx, e.y1 + fs[k] * dy
    box = (lx - hw, ly - hh, lx + hw, ly + hh)
    placed.append(box)
    out.append(e._replace(lx=lx, ly=ly))
  return out, clear


def _attrs(attrs: dict) -> str:
  return "".join(f' {k}="{escape(str(v))}"' for k, v in attrs.items() if v is not None)


_BOLD = ' class="k"'


def _texts(x, y, variants, cls, anchor, *, inline=False):
  """``<text>`` elements at one place, one a variant ``(text, attrs)`` (a page shows one at a time).

  ``text`` is one line, or a tuple of lines stacked and centred on ``y`` (the first, a name, in bold);
  ``inline``: the tuple's lines side by side on one line instead.
  """
  out = []
  for text, attrs in variants:
    attrs = dict(attrs)
    c = " ".join(filter(None, [cls, attrs.pop("class", None)]))
    if isinstance(text, tuple) and inline:
      dx = f' dx="{CHAR:.1f}"'
      body = "".join(f'<tspan{dx if k else _BOLD}>{escape(line)}</tspan>' for k, line in enumerate(text))
    elif isinstance(text, tuple):
      y0 = y - (len(text) - 1) * LINE / 2
      body = "".join(f'<tspan x="{x:.1f}" y="{y0 + k * LINE:.1f}"{"" if k else _BOLD}>{escape(line)}</tspan>'
                     for k, line in enumerate(text))
    else:
      body = escape(text)
    out.append(f'<text class="{c}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{_attrs(attrs)}>'
               f"{body}</text>")
  return "".join(out)


def _lines(text):
  return text if isinstance(text, tuple) else (text,)


def draw(sizes, names, shared, *, edge_labels, rows, unit_rows=None, caption=(), style=True,
         role_label="network diagram") -> str:
  """The diagram as an ``<svg>`` element.

  Args:
    sizes, names, shared: the network, as for :func:`layout`.
    edge_labels: ``{edge id: [(text, attrs), ...]}``: variants of one label, drawn at one place.
    rows: ``{neuron: [[(text, attrs), ...], ...]}``: annotation rows under a neuron, each row a list
      of variants.
    unit_rows: ``{layer: [[(text, attrs), ...], ...]}``: rows under the bias unit feeding ``layer``.
    caption: lines above the drawing, the first in bold.
    style: include the diagram's ``<style>`` (a page that holds it already passes False).
  """
  unit_rows = unit_rows or {}
  chars = lambda blocks: max([len(t) for block in blocks for row in block for t, _ in row] or [0])
  L = len(sizes) - 1
  cols = [tuple(names.inputs)] + [tuple(n) for n in names.neurons]
  labels = [_lines(t) for v in edge_labels.values() for t, _ in v]
  compact = labelled_edges(sizes, shared) > FULL_LABELS
  if compact:  # a label's lines side by side
    labels = [(" ".join(t),) for t in labels]
  lay = layout(sizes, names, shared, label_chars=max([len(x) for t in labels for x in t] or [0]),
               label_lines=max([len(t) for t in labels] or [1]),
               below_rows=max(len(rows.get(n, ())) for col in cols for n in col),
               below_chars=[max(chars([rows.get(n, ()) for n in col]), chars([unit_rows.get(c + 1, ())]))
                            for c, col in enumerate(cols)],
               unit_rows=max([len(v) for v in unit_rows.values()] or [0]), caption_lines=len(caption))
  w, h = lay.width, lay.height
  cls = "jbp-net compact" if compact else "jbp-net"
  out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" viewBox="0 0 {w:.0f} {h:.0f}" '
         f'width="{w:.0f}" height="{h:.0f}" role="img" aria-label="{escape(role_label)}">']
  if caption:
    out.append(f"<title>{escape(caption[0])}</title>")
  if style:
    out.append(f"<style>{SVG_CSS}</style>")
    if compact:  # a standalone drawing shows its labels on hover and focus itself
      out.append(f"<script><![CDATA[{LABEL_SCRIPT}]]></script>")
  out.append(f'<rect class="bg" width="{w:.0f}" height="{h:.0f}"/>')
  for k, line in enumerate(caption):
    out.append(f'<text class="cap{" t" if k == 0 else ""}" x="{PAD}" y="{PAD + (k + 0.8) * CAPTION:.1f}">'
               f"{escape(line)}</text>")
  for e in lay.edges:
    cls = "edge bias" if e.bias else "edge"
    out.append(f'<line id="{edge_id(e.id)}" class="{cls}" x1="{e.x1:.1f}" y1="{e.y1:.1f}" x2="{e.x2:.1f}" '
               f'y2="{e.y2:.1f}"/>')
  # A compact drawing: a wider, invisible line over each labelled edge to hover or focus (Tab), and each
  # neuron and bias unit focusable, showing the labels of the edges into it (of the unit's edges).
  labelled = [e for e in lay.edges if e.labelled and e.id in edge_labels]
  into, touching, of_unit = {}, {}, {}
  if compact:
    for e in labelled:
      out.append(f'<line class="hit" tabindex="0" data-l="{label_id(e.id)}" data-e="{edge_id(e.id)}" '
                 f'aria-label="{escape(e.id)}" x1="{e.x1:.1f}" y1="{e.y1:.1f}" x2="{e.x2:.1f}" '
                 f'y2="{e.y2:.1f}"/>')
    ends = {}
    for c, col in enumerate(cols[1:]):
      for j, dst in enumerate(col):
        srcs = [names.weights[c][j][i] for i in range(sizes[c])]
        for i, w in enumerate(srcs):
          ends[w] = (cols[c][i], dst)
        b = names.biases[c][0 if shared[c] else j]
        ends[bias_edge(b, dst) if shared[c] else b] = (f"u{c + 1}", dst)
    for e in lay.edges:
      src, dst = ends[e.id]
      if e.labelled and e.id in edge_labels:
        into.setdefault(dst, []).append(label_id(e.id))
        of_unit.setdefault(src, []).append(label_id(e.id))
      touching.setdefault(dst, []).append(edge_id(e.id))
      touching.setdefault(src, []).append(edge_id(e.id))

  def focus(key, name):
    if not compact:
      return ""
    shows = into.get(key, of_unit.get(key, []))
    return (f' tabindex="0" aria-label="{escape(name)}" data-l="{" ".join(shows)}" '
            f'data-e="{" ".join(touching.get(key, []))}"')

  r = lay.r
  for name, (x, y, c) in lay.neurons.items():
    kind = "input" if c == 0 else "output" if c == L else "hidden"
    out.append(f'<g id="{node_ids(name)[0]}" class="node {kind}"{focus(name, name)}>'
               f'<circle cx="{x:.1f}" cy="{y:.1f}" '
               f'r="{r:g}"/><text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{escape(name)}</text></g>')
  for l, (x, y, name) in lay.units.items():
    uw, uh = UNIT
    out.append(f'<g id="{unit_ids(l)[0]}" class="node unit"{focus(f"u{l}", name)}><rect x="{x - uw / 2:.1f}" '
               f'y="{y - uh / 2:.1f}" '
               f'width="{uw:g}" height="{uh:g}" rx="5"/><text x="{x:.1f}" y="{y + 4:.1f}" '
               f'text-anchor="middle">{escape(name)}</text></g>')
  # Labels last, so they sit on top of the edges (each with a halo of the background colour).
  for e in labelled:
    out.append(f'<g id="{label_id(e.id)}" class="lg">'
               f'{_texts(e.lx, e.ly + 4, edge_labels[e.id], "lab", "middle", inline=compact)}</g>')
  for name, (x, y, _) in lay.neurons.items():
    block = rows.get(name, ())
    if not block:
      continue
    parts = [_texts(x, y + r + 4 + (k + 0.75) * LINE, variants, "ann", "middle")
             for k, variants in enumerate(block)]
    out.append(f'<g id="{node_ids(name)[1]}">{"".join(parts)}</g>')
  for l, (x, y, _) in lay.units.items():
    block = unit_rows.get(l, ())
    parts = [_texts(x, y + UNIT[1] / 2 + 4 + (k + 0.75) * LINE, variants, "ann", "middle")
             for k, variants in enumerate(block)]
    if parts:
      out.append(f'<g id="{unit_ids(l)[1]}">{"".join(parts)}</g>')
  out.append("</svg>")
  return "".join(out)


# Shows the labels an element names in ``data-l`` (and marks the edges in ``data-e``) while the pointer
# is over it or it has the keyboard's focus; the pages and a standalone compact drawing run it.
LABEL_SCRIPT = """
(() => {
  const set = (el, on) => {
    for (const [key, cls] of [['l', 'on'], ['e', 'on']]) {
      for (const id of (el.getAttribute('data-' + key) || '').split(' ')) {
        const t = id && document.getElementById(id);
        if (t) t.classList.toggle(cls, on);
      }
    }
  };
  const find = e => e.target && e.target.closest ? e.target.closest('.jbp-net [data-l]') : null;
  for (const [ev, on] of [['mouseover', true], ['mouseout', false], ['focusin', true], ['focusout', false]]) {
    document.addEventListener(ev, e => { const el = find(e); if (el) set(el, on); });
  }
})();
"""
