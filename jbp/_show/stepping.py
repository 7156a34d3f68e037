"""One training step as a page: the derivation a stage at a time, on the network's diagram.

:func:`render_html` turns an :func:`jbp.explain` record into one self-contained HTML file: inline
CSS, a few lines of inline JavaScript and the SVG diagram of :func:`jbp.render_svg`, with no fonts,
scripts or images from anywhere else (its Content-Security-Policy forbids every load). It opens from
disk in any current browser.

The stages are those of the derivation that :func:`jbp.render_text` prints, in the same order and
with the same 9-decimal numbers: the inputs; each neuron's ``net`` and ``out``; the total error; each
neuron's delta; each weight's gradient; each update. The equations are the renderers' one layout
(:func:`jbp._show.derivation.layout`) written in HTML symbols; the page adds, for each stage, which parts
of the diagram it concerns, and which labels change (a neuron's ``out`` appears once it is computed, a
weight's label becomes ``w+`` once it is updated). Python writes every number; the script only shows
and hides what is already on the page, so with scripting off the whole derivation is visible at once.

Keys: right and left arrows step, Home and End jump to the first and last stage.
"""

from __future__ import annotations

import html as _html
from typing import TYPE_CHECKING, NamedTuple

from jbp._show.checks import check_title
from jbp._show.derivation import Note, check_explanation, header, layout
from jbp._show.diagram import (
  LABEL_SCRIPT,
  bias_edge,
  draw,
  edge_id,
  label_id,
  node_ids,
  param_labels,
  unit_ids,
)
from jbp._show.format import decimals
from jbp._show.html import page
from jbp._show.names import shared_biases
from jbp._show.symbols import Html

if TYPE_CHECKING:  # the record's type; at run time this layer imports nothing of the core
  from jbp._explain import Explanation

__all__ = ["render_html"]


class Stage(NamedTuple):
  """One stage of the page: the items of the derivation about one thing."""

  section: str
  kind: str
  name: str | None
  items: list


def stages(record: Explanation) -> list:
  """The derivation's items grouped into stages, in order: items that share a ``stage`` tag."""
  out = []
  for title, items in layout(record, Html()):
    index = {}
    for it in items:
      if it.stage not in index:
        index[it.stage] = len(out)
        out.append(Stage(title, it.stage[0], it.stage[1], []))
      out[index[it.stage]].items.append(it)
  return out


_WHY = {
    "inputs": "The inputs feed the first layer.",
    "forward": "A neuron's net input is the weighted sum of what feeds it plus its bias; its output "
               "applies the activation to that.",
    "error": "Each output's error is ½ (target − out)²; the total error sums them.",
    "delta-out": "An output's delta is ∂E/∂net: how fast the error changes with the neuron's net input, "
                 "∂E/∂out times ∂out/∂net.",
    "delta-hidden": "A hidden neuron's ∂E/∂out sums the deltas of the neurons it feeds, each through the "
                    "weight that joins them (the chain rule); times ∂out/∂net, that is its delta.",
    "grad": "The chain rule: ∂E/∂w = ∂E/∂out · ∂out/∂net · ∂net/∂w, that is the delta of the neuron the "
            "weight feeds times the value the weight multiplies.",
    "grad-bias": "A bias adds to the net input of each neuron it feeds with a factor of 1, so its gradient "
                 "is the sum of their deltas.",
    "update": "Gradient descent: each parameter moves against its gradient, by the learning rate η times it.",
    "after": "The total error after the step, from a forward pass with the new parameters.",
}


def _stage_title(st: Stage, record) -> tuple:
  """``(heading, explanation)`` of a stage."""
  bias_names = {b.name for b in record.biases}
  outputs = set(record.names.neurons[-1])
  n = _html.escape(st.name or "")
  if st.kind == "inputs":
    return "the inputs", _WHY["inputs"]
  if st.kind == "forward":
    return f"neuron {n}", _WHY["forward"]
  if st.kind == "error":
    return "E<sub>total</sub>", _WHY["error"]
  if st.kind == "delta":
    why = _WHY["delta-out" if st.name in outputs else "delta-hidden"]
    used = [t.weight for d in record.deltas if d.neuron == st.name for t in d.terms if t.updated]
    if used and not any(isinstance(it, Note) for it in st.items):  # the layer's first delta has the note
      names = ", ".join(f'{_html.escape(w)}<sup class="upd">+</sup>' for w in used)
      why += (f" Sequential order: this sum uses the updated weights {names} (dashed on the diagram), "
              f"since the layer above was updated first.")
    return f"δ<sub>{n}</sub>", why
  if st.kind == "grad":
    return f"∂E/∂{n}", _WHY["grad-bias" if st.name in bias_names else "grad"]
  if st.kind == "update":
    return (f"{n}<sup>+</sup>" if st.name else "fixed parameters"), _WHY["update"]
  return "E<sub>total</sub> with the new parameters", _WHY["after"]


def _item_html(it) -> str:
  if isinstance(it, Note):
    return f'<p class="note">{it.text}</p>'
  lhs, *rhs = it.parts
  cells = [f'<div class="l">{lhs}</div>']
  for k, part in enumerate(rhs):
    if k:
      cells.append('<div class="l"></div>')
    cells.append(f'<div class="r">= {part}</div>')
  return f'<div class="eq">{"".join(cells)}</div>'


def _spans(ranges) -> str:
  """``data-show``: the stages an element shows at, as ``a:b`` half-open ranges (``b`` empty: to the end)."""
  return " ".join(f"{a}:{'' if b is None else b}" for a, b in ranges)


class _Diagram(NamedTuple):
  edge_labels: dict
  rows: dict
  unit_rows: dict
  highlight: list  # one (ids, updated_ids) a stage


def _diagram_state(record: Explanation, sts: list) -> _Diagram:
  """The diagram's labels, with the stages each shows at, and each stage's highlighted elements."""
  at = {(s.kind, s.name): k for k, s in enumerate(sts)}
  n_ex = record.examples
  shared = shared_biases(record.names)
  weights = {w.name: w for w in record.weights}
  biases = {b.name: b for b in record.biases}

  def per_example(values, fmt, show, cls=""):
    """One variant an example (a batch shows the chosen example's)."""
    out = []
    for e, v in enumerate(values):
      attrs = {"data-show": show}
      c = " ".join(filter(None, [cls, f"exv ex{e}" if n_ex > 1 else ""]))
      if c:
        attrs["class"] = c
      out.append((fmt(v), attrs))
    return out

  def param_variants(p, label):
    """The label of a weight or bias: its value, its gradient while that is the stage, then its update."""
    g, u = at.get(("grad", p.name)), at.get(("update", p.name))
    ends = sorted(k for k in (g, u) if k is not None)
    before = []
    start = 0
    for k in ends:
      before.append((start, k))
      start = k + 1
    if u is None:
      before.append((start, None))
    out = [(label(p.name, decimals(p.value)), {"data-show": _spans(before)})]
    if g is not None:
      out.append((label(f"∂E/∂{p.name}", decimals(p.grad)),
                  {"data-show": _spans([(g, g + 1)]), "class": "grad"}))
    if u is not None:
      out.append((label(f"{p.name}+", decimals(p.updated)),
                  {"data-show": _spans([(u, None)]), "class": "upd"}))
    return out

  params = {**weights, **biases}
  edge_labels, unit_rows = param_labels(record.names, shared,
                                        lambda name, text: param_variants(params[name], text))

  rows = {name: [per_example(v, decimals, "0:")] for name, v in record.inputs}
  err = {o.neuron: o for o in record.errors}
  deltas = {d.neuron: d for d in record.deltas}
  for f in record.forward:
    k = _spans([(at[("forward", f.neuron)], None)])
    block = [per_example(f.net, lambda v: f"net {decimals(v)}", k),
             per_example(f.out, lambda v: f"out {decimals(v)}", k)]
    if f.neuron in err:
      o = err[f.neuron]
      block.append(per_example(o.target, lambda v: f"target {decimals(v)}", "0:"))
      shown = _spans([(at[("error", None)], None)])
      block.append(per_example(o.error, lambda v: f"E {decimals(v)}", shown))
    d = deltas[f.neuron]
    shown = _spans([(at[("delta", d.neuron)], None)])
    block.append(per_example(d.delta, lambda v: f"δ {decimals(v)}", shown))
    rows[f.neuron] = block

  fwd = {f.neuron: f for f in record.forward}
  layer_of = {b.name: b.layer for b in record.biases}

  def bias_ids(bname, neurons):
    l = layer_of[bname]
    if shared[l - 1]:
      return unit_ids(l) + [edge_id(bias_edge(bname, n)) for n in neurons]
    return [unit_ids(l)[0], edge_id(bname), label_id(bname)]

  node = node_ids

  highlight = []
  for s in sts:
    ids, upd = [], []
    if s.kind == "inputs":
      ids = [i for name, _ in record.inputs for i in node(name)]
    elif s.kind == "forward":
      f = fwd[s.name]
      ids = node(s.name) + [i for w in f.weights for i in (edge_id(w), label_id(w))] + \
          [i for src in f.inputs for i in node(src)] + bias_ids(f.bias, [s.name])
    elif s.kind in ("error", "after"):
      ids = [i for o in record.errors for i in node(o.neuron)]
    elif s.kind == "delta":
      ids = node(s.name)
      for t in deltas[s.name].terms:
        (upd if t.updated else ids).extend([edge_id(t.weight), label_id(t.weight)])
        ids += node(t.via)
    elif s.kind in ("grad", "update") and s.name in weights:
      w = weights[s.name]
      ids = [edge_id(w.name), label_id(w.name)]
      if s.kind == "grad":
        ids += node(w.neuron) + node(w.source)
    elif s.kind in ("grad", "update") and s.name in biases:
      b = biases[s.name]
      ids = bias_ids(b.name, b.neurons)
      if s.kind == "grad":
        ids += [i for n in b.neurons for i in node(n)]
    highlight.append((ids, upd))
  return _Diagram(edge_labels, rows, unit_rows, highlight)


PAGE_CSS = """
header { padding: 10px 20px 4px; }
nav { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; padding: 6px 20px 8px;
  border-bottom: 1px solid var(--line); }
button, select { font: inherit; font-size: 14px; color: var(--fg); background: var(--card);
  border: 1px solid var(--line); border-radius: 6px; padding: 3px 10px; }
button { cursor: pointer; }
button:disabled { opacity: .45; cursor: default; }
button[aria-pressed="true"] { border-color: var(--accent); color: var(--accent); font-weight: 600; }
select { max-width: 24em; }
.where { font-variant-numeric: tabular-nums; color: var(--muted); min-width: 7.5em; }
.keys { color: var(--muted); font-size: 13px; margin-left: auto; }
main { display: grid; grid-template-columns: minmax(0, 64fr) minmax(0, 36fr); gap: 16px; padding: 10px 16px; }
figure { margin: 0; min-width: 0; }
figure svg { display: block; width: 100%; height: auto; max-height: calc(100vh - 130px); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.panel { min-width: 0; overflow-wrap: anywhere; }
.stage h2 { font-size: 16px; margin: 2px 0 4px; }
.stage h2 .sec { color: var(--muted); font-weight: 500; }
.why { color: var(--muted); margin: 0 0 10px; font-size: 14px; }
.eq { display: grid; grid-template-columns: max-content minmax(0, 1fr); column-gap: .45em; row-gap: 2px;
  margin: 0 0 10px; padding: 6px 10px; background: var(--card); border-radius: 6px;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 13.5px; align-items: center; }
.eq .l { text-align: right; }
.num { font-variant-numeric: tabular-nums; }
.eq .r > .num:last-child { font-weight: 700; }
.frac { display: inline-flex; flex-direction: column; vertical-align: middle; text-align: center;
  font-size: .9em; line-height: 1.15; margin: 0 1px; }
.frac > span:first-child { border-bottom: 1px solid currentColor; padding: 0 2px; }
sup.upd, .note .upd { color: var(--upd); font-weight: 700; }
.note { margin: 0 0 10px; padding: 6px 10px; border-left: 3px solid var(--upd); background: var(--card); }
.exn { color: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: 14px; color: var(--muted); font-size: 13px; margin-top: 6px; }
.legend i { display: inline-block; width: 22px; height: 0; vertical-align: middle; margin-right: 5px;
  border-top: 3px solid var(--accent); }
.legend i.u { border-top: 3px dashed var(--upd); }
.js .stage { display: none; }
.js .stage.current { display: block; }
.off { display: none !important; }
.jbp-net .grad { fill: var(--accent); font-weight: 700; }
"""

SCRIPT = """
(() => {
  const root = document.documentElement;
  root.classList.add('js');
  const stages = Array.from(document.querySelectorAll('.stage'));
  const range = r => r.split(':').map(v => v === '' ? Infinity : +v);
  const shows = Array.from(document.querySelectorAll('[data-show]')).map(el =>
    [el, el.dataset.show.split(' ').filter(Boolean).map(range)]);
  const prev = document.getElementById('prev'), next = document.getElementById('next');
  const where = document.getElementById('where'), jump = document.getElementById('jump');
  let k = 0;
  function mark(ids, cls) {
    for (const id of ids.split(' ')) {
      const el = id && document.getElementById(id);
      if (el) el.classList.add(cls);
    }
  }
  function go(i) {
    k = Math.max(0, Math.min(stages.length - 1, i));
    stages.forEach((s, j) => s.classList.toggle('current', j === k));
    for (const [el, ranges] of shows) el.classList.toggle('off', !ranges.some(([a, b]) => k >= a && k < b));
    document.querySelectorAll('.hl, .hl-upd').forEach(el => el.classList.remove('hl', 'hl-upd'));
    mark(stages[k].dataset.hl, 'hl');
    mark(stages[k].dataset.upd, 'hl-upd');
    where.textContent = 'stage ' + (k + 1) + ' of ' + stages.length;
    prev.disabled = k === 0;
    next.disabled = k === stages.length - 1;
    jump.value = String(k);
    try { history.replaceState(null, '', '#' + (k + 1)); } catch (e) { /* about:srcdoc */ }
  }
  prev.addEventListener('click', () => go(k - 1));
  next.addEventListener('click', () => go(k + 1));
  jump.addEventListener('change', () => go(+jump.value));
  document.querySelectorAll('[data-example]').forEach(b => b.addEventListener('click', () => {
    document.body.dataset.ex = b.dataset.example;
    document.querySelectorAll('[data-example]').forEach(o => o.setAttribute('aria-pressed', String(o === b)));
  }));
  jbpSteps(() => k, () => stages.length - 1, go);
  const fromHash = () => {
    const n = parseInt(location.hash.slice(1), 10);
    return Number.isFinite(n) ? n - 1 : 0;
  };
  window.addEventListener('hashchange', () => go(fromHash()));
  go(fromHash());
})();
"""


def _example_css(n_ex):
  if n_ex == 1:
    return ""
  shown = ", ".join(f'body[data-ex="{e}"] .jbp-net .ex{e}' for e in range(n_ex))
  return f".jbp-net .exv {{ display: none; }}\n{shown} {{ display: inline; }}\n"


def render_html(record: Explanation, *, title: str | None = None) -> str:
  """One training step as a self-contained page that steps through the derivation on the diagram.

  The page shows the network of :func:`jbp.render_svg` beside the derivation of
  :func:`jbp.render_text`, one stage at a time (the inputs, each neuron's forward pass, the total
  error, each delta, each gradient, each update, the error after the step). Each stage highlights
  the neurons, weights and biases it concerns and shows its equations with the numbers filled in,
  to 9 decimals as ``jbp explain`` prints them. In the sequential order, a hidden delta that flows
  through an already-updated weight marks that weight (dashed, in the colour of updates, as ``w+``).

  The file holds everything (inline CSS, script and SVG) and loads nothing; open it from disk.
  Right and left arrow keys or the buttons step; Home and End jump.

  Args:
    record: what :func:`jbp.explain` returns.
    title: the page's heading; defaults to "One training step, every number".

  Returns:
    the HTML document as a string.

  Raises:
    TypeError: ``record`` is not a :class:`jbp.Explanation`, or ``title`` not a string.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> page = jbp.render_html(jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5))
  >>> page.startswith("<!DOCTYPE html>") and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
  True
  """
  check_explanation(record)
  check_title(title)
  sts = stages(record)
  state = _diagram_state(record, sts)
  net = f"{'-'.join(map(str, record.sizes))} {record.activation} network"
  svg = draw(record.sizes, record.names, shared_biases(record.names), edge_labels=state.edge_labels,
             rows=state.rows, unit_rows=state.unit_rows, style=False, role_label=net)
  heading = title or "One training step, every number"
  panels, options = [], []
  for k, (st, (ids, upd)) in enumerate(zip(sts, state.highlight)):
    what, why = _stage_title(st, record)
    items = "".join(_item_html(it) for it in st.items)
    panels.append(f'<section class="stage" id="stage-{k + 1}" data-kind="{st.kind}" '
                  f'data-name="{_html.escape(st.name or "")}" data-hl="{" ".join(ids)}" '
                  f'data-upd="{" ".join(upd)}"><h2><span class="sec">{st.section} ·</span> {what}</h2>'
                  f'<p class="why">{why}</p>{items}</section>')
    plain = f"{st.section}: {what}".replace("<sub>", "").replace("</sub>", "").replace("<sup>+</sup>", "+")
    options.append(f'<option value="{k}">{k + 1}. {plain}</option>')
  examples = ""
  if record.examples > 1:
    buttons = "".join(f'<button type="button" data-example="{e}" aria-pressed="{str(e == 0).lower()}">'
                      f"{e + 1}</button>" for e in range(record.examples))
    examples = f'<span class="where">diagram: example</span>{buttons}'
  legend = ('<div class="legend"><span><i></i>this stage</span>' +
            ('<span><i class="u"></i>an already-updated weight (w+), used by a hidden delta</span>'
             if record.update == "sequential" else "") +
            "<span>labels: name, then value; w+ once updated</span></div>")
  body = (f"<header><h1>{_html.escape(heading)}</h1>" +
          "".join(f'<p class="sub">{_html.escape(line)}</p>' for line in header(record)) + "</header>\n"
          f'<nav><button type="button" id="prev">← previous</button>'
          f'<button type="button" id="next">next →</button><span class="where" id="where"></span>'
          f'<select id="jump" aria-label="go to stage">{"".join(options)}</select>{examples}'
          f'<span class="keys">keys: ← → step, Home / End</span></nav>\n'
          f'<main><figure>{svg}{legend}</figure>\n'
          f'<div class="panel">{"".join(panels)}</div></main>')
  return page(heading, body, css=PAGE_CSS + _example_css(record.examples), script=SCRIPT + LABEL_SCRIPT,
              body_attrs=' data-ex="0"')
