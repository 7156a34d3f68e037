"""One training run as a page: the loss curve, and the network with its weights at every recorded step.

:func:`render_training` writes the page: one self-contained HTML file (inline CSS, script and SVG; its
Content-Security-Policy forbids loading anything). On it are the loss on a log axis, with any other
runs to compare (the worked example's two update orders) and their difference; the network drawn as
by :func:`jbp.render_svg`, with a slider over the recorded steps that sets each weight's label, and the
edge's width and colour by the weight's size and sign; the outputs after training against the
targets; and the run's settings.

What the page stores: every recorded value as the 9-decimal text that ``jbp explain`` prints (about
12 bytes a number, which the page shows as it is and never formats again). Only the parameters that
change are stored at every record; the frozen ones (the worked example's biases) are stored once.
Measured: 1,001 records of the worked example's 8 weights take 97 kB; the whole page is 159 kB, and
184 kB with the other update order's curve beside it.
"""

from __future__ import annotations

import html as _html
import json
import math
from typing import TYPE_CHECKING, Mapping

import numpy as np
from numpy.typing import ArrayLike

from jbp._show.checks import check_record, check_title
from jbp._show.diagram import LABEL_SCRIPT, bias_edge, draw, edge_id, param_labels
from jbp._show.format import decimals, number
from jbp._show.html import page
from jbp._show.names import check_showable, names_for, shared_biases

if TYPE_CHECKING:  # the record's type; at run time this layer imports nothing of the core
  from jbp._recording import TrainingRun

__all__ = ["render_training"]


# ---------------------------------------------------------------------------------------------------------
# The loss chart: an SVG drawn here, with the points of the main curve kept for the slider's marker.

CHART = dict(w=470.0, h=250.0, left=58.0, right=26.0, top=14.0, bottom=40.0)
DIFF_H = 110.0


def _log_axis(values):
  """``(lo, hi)`` decades that hold every finite positive value."""
  v = np.asarray(values, np.float64)
  v = v[np.isfinite(v) & (v > 0)]
  if v.size == 0:
    return -1, 0
  lo, hi = math.floor(math.log10(v.min())), math.ceil(math.log10(v.max()))
  return lo, max(hi, lo + 1)


def _points(steps, values, x_of, y_of):
  """Polyline segments (breaking at non-finite or non-positive values), and each point or None."""
  segments, cur, pts = [], [], []
  for s, v in zip(steps, values):
    if math.isfinite(v) and v > 0:
      pt = (round(x_of(s), 1), round(y_of(math.log10(v)), 1))
      cur.append(pt)
      pts.append(pt)
    else:
      if cur:
        segments.append(cur)
      cur = []
      pts.append(None)
  if cur:
    segments.append(cur)
  return segments, pts


def _chart(curves: list, steps_axis, *, height, ylabel, marker=False, cls="chart"):
  """An SVG chart of ``curves = [(label, values), ...]`` on a log axis; returns (svg, points of the first)."""
  c = CHART
  W, H = c["w"], height
  pw, ph = W - c["left"] - c["right"], H - c["top"] - c["bottom"]
  lo, hi = _log_axis(np.concatenate([np.asarray(v, np.float64) for _, v in curves]))
  last = max(float(steps_axis[-1]), 1.0)
  x_of = lambda s: c["left"] + pw * float(s) / last
  y_of = lambda lg: c["top"] + ph * (hi - lg) / (hi - lo)
  out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" viewBox="0 0 {W:g} {H:g}" role="img" '
         f'aria-label="{_html.escape(ylabel)}">']
  step_dec = max(1, math.ceil((hi - lo) / 6))
  for p in range(lo, hi + 1, step_dec):
    y = y_of(p)
    out.append(f'<line class="grid" x1="{c["left"]}" x2="{W - c["right"]}" y1="{y:.1f}" y2="{y:.1f}"/>'
               f'<text class="tick" x="{c["left"] - 6}" y="{y + 4:.1f}" text-anchor="end">1e{p}</text>')
  for k in range(5):
    s = last * k / 4
    x = x_of(s)
    out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{c["top"]}" y2="{c["top"] + ph:.1f}"/>'
               f'<text class="tick" x="{x:.1f}" y="{c["top"] + ph + 16:.1f}" text-anchor="middle">'
               f"{int(round(s)):,}</text>")
  out.append(f'<text class="axis" x="{c["left"] + pw / 2:.1f}" y="{H - 4:.1f}" text-anchor="middle">'
             f'update step</text><text class="axis" transform="rotate(-90)" x="{-(c["top"] + ph / 2):.1f}" '
             f'y="14" text-anchor="middle">{_html.escape(ylabel)}</text>')
  first_pts = None
  for k, (_, values) in enumerate(curves):
    segs, pts = _points(steps_axis, np.asarray(values, np.float64), x_of, y_of)
    first_pts = first_pts if first_pts is not None else pts
    for seg in segs:
      out.append(f'<polyline class="curve c{k}" points="{" ".join(f"{x},{y}" for x, y in seg)}"/>')
  if len(curves) > 1 or curves[0][0]:
    for k, (label, _) in enumerate(curves):
      y = c["top"] + 12 + 16 * k
      out.append(f'<line class="curve c{k}" x1="{W - c["right"] - 130}" x2="{W - c["right"] - 106}" '
                 f'y1="{y - 4}" y2="{y - 4}"/><text class="key" x="{W - c["right"] - 100}" y="{y}">'
                 f"{_html.escape(label)}</text>")
  if marker:
    out.append(f'<line id="vline" class="vline" x1="0" x2="0" y1="{c["top"]}" y2="{c["top"] + ph:.1f}"/>'
               '<circle id="mark" class="mark" r="4.5" cx="-10" cy="-10"/>')
  out.append("</svg>")
  return "".join(out), first_pts


# ---------------------------------------------------------------------------------------------------------
# The page.

RUN_CSS = """
header { padding: 10px 20px 6px; border-bottom: 1px solid var(--line); }
h2 { font-size: 15px; margin: 0 0 6px; }
main { display: grid; grid-template-columns: minmax(0, 62fr) minmax(0, 38fr); gap: 16px 20px;
  padding: 12px 20px; }
section { min-width: 0; }
svg.chart { display: block; width: 100%; height: auto; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart text { fill: var(--muted); font-size: 11px; }
.chart .key { fill: var(--fg); font-size: 12px; }
.chart .curve { fill: none; stroke: var(--accent); stroke-width: 1.8; }
.chart .curve.c1 { stroke: var(--upd); stroke-dasharray: 6 3; }
.chart .vline { stroke: var(--muted); stroke-dasharray: 3 3; }
.chart .mark { fill: var(--accent); stroke: var(--bg); stroke-width: 2; }
.net svg { display: block; width: 100%; height: auto; max-height: calc(100vh - 150px); }
.jbp-net .edge.pos { stroke: var(--pos); }
.jbp-net .edge.neg { stroke: var(--neg); }
.slider { display: flex; align-items: center; gap: 10px; margin: 6px 0; flex-wrap: wrap; }
.slider input { flex: 1 1 240px; min-width: 0; accent-color: var(--accent); }
.readout { font-variant-numeric: tabular-nums; font-family: ui-monospace, Menlo, Consolas, monospace;
  font-size: 13.5px; }
.note { color: var(--muted); font-size: 13px; margin: 4px 0 0; }
table { border-collapse: collapse; font-size: 13.5px; margin-top: 4px; max-width: 100%; }
th, td { padding: 3px 10px 3px 0; text-align: left; vertical-align: top;
  border-bottom: 1px solid var(--line); }
td.num { font-family: ui-monospace, Menlo, Consolas, monospace; font-variant-numeric: tabular-nums; }
.wide { grid-column: 1 / -1; }
.tables { display: flex; flex-wrap: wrap; gap: 12px 40px; }
.tables > div { min-width: 0; max-width: 100%; overflow-x: auto; }
"""

RUN_SCRIPT = """
(() => {
  const data = JSON.parse(document.getElementById('run-data').textContent);
  const slider = document.getElementById('slider'), readout = document.getElementById('readout');
  const vline = document.getElementById('vline'), mark = document.getElementById('mark');
  const values = data.names.map(n => {
    const el = document.querySelector('[data-p="' + n + '"]');
    return el && (el.lastElementChild || el);
  });
  const edges = data.names.map(n => (data.edges[n] || []).map(id => document.getElementById(id)));
  function show(k) {
    const row = data.fixed.slice();
    const moving = data.records[k].split(' ');
    data.moving.forEach((i, j) => { row[i] = moving[j]; });
    row.forEach((text, i) => {
      if (values[i]) values[i].textContent = text;
      const w = parseFloat(text);
      for (const e of edges[i]) {
        e.style.strokeWidth = (0.6 + 5 * Math.min(1, Math.abs(w) / data.scale)).toFixed(2);
        e.classList.toggle('pos', w >= 0);
        e.classList.toggle('neg', w < 0);
      }
    });
    readout.textContent = 'step ' + data.steps[k].toLocaleString('en-US') + ' of ' +
      data.steps[data.steps.length - 1].toLocaleString('en-US') + ' \\u00b7 E = ' + data.loss[k];
    const p = data.points[k];
    if (p) {
      vline.setAttribute('x1', p[0]); vline.setAttribute('x2', p[0]);
      mark.setAttribute('cx', p[0]); mark.setAttribute('cy', p[1]);
    }
  }
  slider.addEventListener('input', () => show(+slider.value));
  jbpSteps(() => +slider.value, () => +slider.max, k => { slider.value = String(k); show(k); });
  show(+slider.value);
})();
"""


def render_training(run: TrainingRun, *, compare: Mapping[str, ArrayLike] | None = None,
                    names: str | None = None, title: str | None = None) -> str:
  """One training run as a self-contained page: the loss curve and the weights at each recorded step.

  Args:
    run: what :func:`jbp.record_training` returns (a network of at most 4 layers of 16 neurons, so
      every weight can be drawn).
    compare: other loss curves recorded at the same steps, ``{label: losses}`` with ``losses`` of
      shape ``run.losses.shape`` (e.g. the other update order); drawn on the same axes, and for one
      curve, their difference below.
    names: ``None``, ``"worked"`` or ``"systematic"``, as in :func:`jbp.explain`.
    title: the page's heading.

  Returns:
    the HTML document as a string.

  Raises:
    TypeError: ``run`` is not a :class:`TrainingRun`, ``compare`` not a dict, or ``title`` not a string.
    ValueError: a network too large to draw (more than 4 layers of 16 neurons), ``compare`` losses of
      another shape than ``run.losses``, or ``names="worked"`` for another network.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> run = jbp.record_training(ex.params, ex.inputs, ex.targets, steps=100, learning_rate=0.5,
  ...                           record_every=10)
  >>> html = jbp.render_training(run)
  >>> html.startswith("<!DOCTYPE html>") and 'type="range"' in html
  True
  """
  check_record(run, "run", "jbp._recording", "TrainingRun", "jbp.record_training")
  if compare is not None and not isinstance(compare, dict):
    raise TypeError(f"compare: expected a dict {{label: losses}} or None, got {type(compare).__name__}")
  check_title(title)
  sizes = tuple([int(run.params[0].w.shape[-1])] + [int(p.w.shape[1]) for p in run.params])
  check_showable(sizes, "run", "the page draws every weight")
  losses = np.asarray(run.losses, np.float64)
  T = losses.shape[0]
  curves = [(run.update if compare else "", losses)]
  for label, other in (compare or {}).items():
    other = np.asarray(other, np.float64)
    if other.shape != losses.shape:
      raise ValueError(f"compare: expected losses of shape {losses.shape} for {label!r}, as run.losses, "
                       f"got shape {other.shape}")
    curves.append((str(label), other))
  shared_layers = tuple(np.ndim(p.b) == 1 for p in run.params)  # one bias a layer: a leading records axis
  nm = names_for(sizes, shared_layers, names)
  shared = shared_biases(nm)

  # Every parameter by name, as a (records,) column, input side first.
  order, columns = [], []
  for l, p in enumerate(run.params):
    w = np.asarray(p.w)
    for j in range(sizes[l + 1]):
      for i in range(sizes[l]):
        order.append(nm.weights[l][j][i])
        columns.append(w[:, j, i])
    b = np.asarray(p.b).reshape(T, -1)
    for k, bname in enumerate(nm.biases[l]):
      order.append(bname)
      columns.append(b[:, k])
  text = [[decimals(v) for v in col] for col in columns]
  moving = [i for i, col in enumerate(columns) if np.any(col != col[0])]
  scale = max(float(np.max(np.abs(np.concatenate(columns)))), 1e-12)
  edges = {}
  for l in range(len(sizes) - 1):
    for row in nm.weights[l]:
      for wname in row:
        edges[wname] = [edge_id(wname)]
    for bname in nm.biases[l]:
      edges[bname] = [edge_id(bias_edge(bname, n)) for n in nm.neurons[l]] if shared[l] else [edge_id(bname)]

  last = T - 1
  edge_labels, unit_rows = param_labels(
      nm, shared, lambda name, label: [(label(name, text[order.index(name)][last]), {"data-p": name})])
  rows = {n: [] for n in nm.inputs}
  svg = draw(sizes, nm, shared, edge_labels=edge_labels, rows=rows, unit_rows=unit_rows, style=False,
             role_label=f"{'-'.join(map(str, sizes))} {run.activation} network")

  steps_axis = np.arange(T) * run.record_every
  chart, pts = _chart(curves, steps_axis, height=CHART["h"], ylabel="total error E (log)", marker=True)
  diff = ""
  if len(curves) == 2:
    d = np.abs(curves[0][1] - curves[1][1])
    if np.any(np.isfinite(d) & (d > 0)):
      diff, _ = _chart([("", d)], steps_axis, height=DIFF_H + 40, ylabel="|difference|")
      diff = (f'<p class="note">The two curves lie on top of each other at this scale; their difference, '
              f"|E {_html.escape(curves[0][0])} − E {_html.escape(curves[1][0])}|:</p>{diff}")

  data = {"names": order, "steps": steps_axis.tolist(), "loss": [number(v) for v in losses],
          "fixed": [t[0] for t in text], "moving": moving,
          "records": [" ".join(text[i][k] for i in moving) for k in range(T)],
          "edges": edges, "scale": scale, "points": pts}
  blob = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")

  x2 = np.atleast_2d(run.x)
  y2 = np.atleast_2d(run.y)
  o2 = np.atleast_2d(run.outputs)
  shown = min(len(y2), 16)
  out_rows = "".join(
      "<tr>" + "".join(f'<td class="num">{decimals(v)}</td>' for v in x2[e]) +
      "".join(f'<td class="num">{decimals(t)}</td><td class="num">{decimals(o)}</td>'
              for t, o in zip(y2[e], o2[e])) +
      "</tr>" for e in range(shown))
  out_head = ("<tr>" + "".join(f"<th>{_html.escape(n)}</th>" for n in nm.inputs) +
              "".join(f"<th>target {_html.escape(n)}</th><th>out {_html.escape(n)}</th>"
                      for n in nm.neurons[-1]) + "</tr>")
  more = (f'<p class="note">The first {shown} of {len(y2)} examples.</p>' if len(y2) > shown else "")
  dtype = np.asarray(run.params[0].w).dtype.name
  trainable = run.trainable if isinstance(run.trainable, str) else "per layer (custom)"
  settings = [("network", f"{'-'.join(map(str, sizes))} {run.activation}"), ("examples", str(len(y2))),
              ("optimizer", "SGD"), ("learning rate", f"{run.learning_rate:g}"), ("update order", run.update),
              ("trainable", trainable), ("steps", f"{run.steps:,}"),
              ("recorded every", f"{run.record_every:,}"), ("dtype", dtype),
              ("E before", number(losses[0])), ("E after", number(losses[-1]))]
  settings_rows = "".join(f"<tr><th>{_html.escape(k)}</th><td>{_html.escape(v)}</td></tr>"
                          for k, v in settings)

  # A large network (labels on hover and focus) takes the page's width; the loss goes below it.
  compact = 'class="jbp-net compact"' in svg
  net_cls = "net wide" if compact else "net"
  hover = (" Point at (or Tab to) an edge to read its weight, or a neuron for the weights into it."
           if compact else "")
  heading = title or (f"Training run: a {'-'.join(map(str, sizes))} {run.activation} network, "
                      f"{run.steps:,} steps")
  sub = (f"SGD, learning rate {run.learning_rate:g}, {run.update} order, {dtype}; E from "
         f"{number(losses[0])} to {number(losses[-1])}.")
  body = (f"<header><h1>{_html.escape(heading)}</h1><p class=\"sub\">{_html.escape(sub)}</p></header>\n<main>"
          f'<section class="{net_cls}"><h2>The network at a recorded step</h2>'
          f'<div class="slider"><input type="range" id="slider" min="0" max="{last}" value="{last}" step="1" '
          f'aria-label="recorded step"><span class="readout" id="readout"></span></div>{svg}'
          f'<p class="note">Edge width: the weight\'s size; colour: its sign (blue positive, red negative). '
          f"Drag the slider, or use ← → (Home, End).{hover}</p></section>"
          f'<section><h2>Loss</h2>{chart}{diff}</section>'
          f'<section class="wide tables"><div><h2>Outputs after training</h2><table>{out_head}{out_rows}'
          f"</table>{more}</div><div><h2>Settings</h2><table>{settings_rows}</table></div></section></main>\n"
          f'<script type="application/json" id="run-data">{blob}</script>')
  return page(heading, body, css=RUN_CSS, script=RUN_SCRIPT + LABEL_SCRIPT)
