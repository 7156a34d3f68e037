"""The derivation of one training step, laid out once and written as text, Markdown or JSON.

:func:`layout` turns an :class:`jbp.Explanation` into sections of equations and notes, each item
tagged with the stage it belongs to (a neuron's forward pass, a delta, a gradient, an update). The
renderers differ only in the symbols they write it in (:mod:`jbp._show.symbols`): plain text for a
terminal (:func:`render_text`), LaTeX math in Markdown (:func:`render_markdown`); the stepping page
(:mod:`jbp._show.stepping`) writes the same layout in HTML a stage at a time. :func:`render_json`
writes the record itself, every number at full precision.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, NamedTuple

from jbp._show.checks import check_record
from jbp._show.symbols import Latex, Text

if TYPE_CHECKING:  # the record's type; at run time this layer imports nothing of the core
  from jbp._explain import Explanation

__all__ = ["Eq", "Note", "STAGE_KINDS", "check_explanation", "header", "layout", "render_json",
           "render_markdown", "render_text"]


class Eq(NamedTuple):
  parts: tuple  # lhs, then each right-hand side of a chain of equalities
  stage: tuple | None = None  # (kind, name): what the equation is about, e.g. ("grad", "w5")


class Note(NamedTuple):
  text: str
  stage: tuple | None = None


# The stages of a step, in the order the derivation meets them; an item's ``stage`` is ``(kind, name)``
# with ``name`` a neuron (forward, delta), a weight or bias (grad, update), or None.
STAGE_KINDS = ("inputs", "forward", "error", "delta", "grad", "update", "after")


def _sum_chain(s, vals):
  return " + ".join(s.num(v, paren=i > 0) for i, v in enumerate(vals))


def layout(r: Explanation, s) -> list:
  """The derivation as ``[(title, [Eq | Note, ...]), ...]`` in symbols ``s``.

  Each item carries its ``stage``, so a renderer can show the derivation a stage at a time.
  """
  n_ex = r.examples
  exs = range(n_ex)
  lab = (lambda e: s.example(e + 1)) if n_ex > 1 else (lambda e: "")
  L = len(r.sizes) - 1
  sections = []

  # Forward pass.
  items = []
  for e in exs:
    if n_ex > 1:
      ins = ", ".join(f"{s.name(name)} = {s.num(v[e])}" for name, v in r.inputs)
      items.append(Note(f"Example {e + 1}: inputs {s.inline(ins)}", ("inputs", None)))
    else:
      for name, v in r.inputs:
        items.append(Eq((s.name(name), s.num(v[0])), ("inputs", None)))
    srcv = {name: v for name, v in r.inputs}
    for f in r.forward:
      src = [s.name(i) if f.layer == 1 else s.out(i) for i in f.inputs]
      sym = " + ".join(f"{s.name(w)}{s.times}{a}" for w, a in zip(f.weights, src))
      sym += f" + {s.name(f.bias)}{s.times}1"
      wvals = {w.name: w.value for w in r.weights}
      bval = {b.name: b.value for b in r.biases}[f.bias]
      vals = " + ".join(f"{s.num(wvals[w], True)}{s.times}{s.num(srcv[i][e], True)}"
                        for w, i in zip(f.weights, f.inputs))
      vals += f" + {s.num(bval, True)}{s.times}1"
      at = ("forward", f.neuron)
      items.append(Eq((lab(e) + s.net(f.neuron), sym, vals, s.num(f.net[e])), at))
      items.append(Eq((lab(e) + s.out(f.neuron), s.fn(r.activation, s.net(f.neuron)), s.num(f.out[e])), at))
      srcv[f.neuron] = f.out
  sections.append(("Forward pass", items))

  # Error.
  items = []
  for e in exs:
    for o in r.errors:
      items.append(Eq((lab(e) + s.E(o.neuron), s.half_sq(f"{s.target(o.neuron)} - {s.out(o.neuron)}"),
                        s.half_sq(f"{s.num(o.target[e])} - {s.num(o.out[e])}"), s.num(o.error[e])),
                       ("error", None)))
  every = [o.error[e] for e in exs for o in r.errors]
  names = " + ".join(s.E(o.neuron) for o in r.errors)
  if n_ex > 1:
    names = s.sum_over(f"({names})")
  items.append(Eq((s.Etot, names, _sum_chain(s, every), s.num(r.E_total)), ("error", None)))
  sections.append(("Total error", items))

  # Backward pass, output layer first.
  updates_now = r.update == "sequential"
  for l in range(L, 0, -1):
    items = []
    layer_deltas = [d for d in r.deltas if d.layer == l]
    for d in layer_deltas:
      n = d.neuron
      at = ("delta", n)
      for e in exs:
        if not d.terms:
          o = {x.neuron: x for x in r.errors}[n]
          items.append(Eq((lab(e) + s.d(s.Etot, s.out(n)), f"-({s.target(n)} - {s.out(n)})",
                            f"-({s.num(o.target[e])} - {s.num(o.out[e])})", s.num(d.dE_dout[e])), at))
        else:
          wsym = [s.plus(s.name(t.weight)) if t.updated else s.name(t.weight) for t in d.terms]
          sym = " + ".join(f"{s.delta(t.via)}{s.times}{w}" for t, w in zip(d.terms, wsym))
          vals = " + ".join(f"{s.num(t.delta[e], True)}{s.times}{s.num(t.weight_value, True)}"
                            for t in d.terms)
          items.append(Eq((lab(e) + s.d(s.Etot, s.out(n)), sym, vals, s.num(d.dE_dout[e])), at))
        items.append(Eq((lab(e) + s.d(s.out(n), s.net(n)), s.deriv(r.activation, n), s.num(d.dout_dnet[e])),
                         at))
        items.append(Eq((lab(e) + s.delta(n), f"{s.d(s.Etot, s.out(n))}{s.times}{s.d(s.out(n), s.net(n))}",
                          f"{s.num(d.dE_dout[e], True)}{s.times}{s.num(d.dout_dnet[e], True)}",
                          s.num(d.delta[e])), at))
      if d.terms and any(t.updated for t in d.terms) and d is layer_deltas[0]:
        used = ", ".join(s.plus(s.name(t.weight)) for dd in layer_deltas for t in dd.terms)
        note = (f"Sequential order: these sums use the updated weights {s.inline(used)}, since the layer "
                "above was updated first.")
        items.insert(0, Note(note, at))
    for w in (w for w in r.weights if w.layer == l):
      n, src, at = w.neuron, w.source, ("grad", w.name)
      chain = s.times.join([s.d(s.Etot, s.out(n)), s.d(s.out(n), s.net(n)), s.d(s.net(n), s.name(w.name))])
      if n_ex > 1:
        items.append(Eq((s.d(s.Etot, s.name(w.name)), s.sum_over(chain)), at))
        for e in exs:
          factors = (w.dE_dout[e], w.dout_dnet[e], w.dnet_dw[e])
          items.append(Eq((lab(e).rstrip(), s.times.join(s.num(v, True) for v in factors),
                            s.num(w.product[e])), at))
        items.append(Eq((s.d(s.Etot, s.name(w.name)), _sum_chain(s, w.product), s.num(w.grad)), at))
      else:
        dnet = s.name(src) if l == 1 else s.out(src)
        items.append(Eq((s.d(s.Etot, s.name(w.name)), chain, f"{s.delta(n)}{s.times}{dnet}",
                          s.times.join(s.num(v, True) for v in (w.dE_dout[0], w.dout_dnet[0], w.dnet_dw[0])),
                          s.num(w.grad)), at))
    for b in (b for b in r.biases if b.layer == l and b.trainable):
      sym = " + ".join(s.delta(n) for n in b.neurons)
      if n_ex > 1:
        sym = s.sum_over(f"({sym})")
      items.append(Eq((s.d(s.Etot, s.name(b.name)), sym, s.num(b.grad)), ("grad", b.name)))
    if updates_now:
      items += _updates(r, s, l)
    kind = "output layer" if l == L else f"hidden layer {l}"
    sections.append((f"Backward pass: {kind} ({s.inline(', '.join(s.name(d.neuron) for d in layer_deltas))})",
                     items))

  if not updates_now:
    items = []
    for l in range(L, 0, -1):
      items += _updates(r, s, l)
    note = Note("Simultaneous order: every gradient above was taken at the weights before the step; "
                 "now all of them update at once.", items[0].stage if items else ("update", None))
    sections.append(("Update", [note] + items))
  items = [Eq((s.Etot, s.num(r.E_after)), ("after", None))]
  sections.append(("After the step", items))
  return sections


def _updates(r, s, l):
  items, fixed = [], []
  for p in [w for w in r.weights if w.layer == l] + [b for b in r.biases if b.layer == l]:
    if not p.trainable:
      fixed.append(s.name(p.name))
      continue
    n = s.name(p.name)
    items.append(Eq((s.plus(n), f"{n} - {s.eta}{s.times}{s.d(s.Etot, n)}",
                      f"{s.num(p.value)} - {s.num(r.learning_rate)}{s.times}{s.num(p.grad, True)}",
                      s.num(p.updated)), ("update", p.name)))
  if fixed:
    verb = "stays" if len(fixed) == 1 else "stay"
    # The note goes with the layer's last update (or stands alone when nothing in the layer trains).
    items.append(Note(f"{s.inline(', '.join(fixed))} {verb} fixed (only the weights train).",
                       items[-1].stage if items else ("update", None)))
  return items


def header(r: Explanation) -> list[str]:
  order = ("simultaneous: every gradient taken at the weights before the step" if r.update == "simultaneous"
           else "sequential: each layer updated as soon as its gradient is known, output layer first")
  ex = "one example" if r.examples == 1 else f"a batch of {r.examples} examples (per-example terms summed)"
  return [f"One training step of a {'-'.join(map(str, r.sizes))} {r.activation} network on {ex}, {r.dtype}.",
          f"Learning rate {r.learning_rate:g}; update order {order}."]


def check_explanation(record: object, name: str = "record") -> None:
  """Raises TypeError unless ``record`` is what :func:`jbp.explain` returns."""
  check_record(record, name, "jbp._explain", "Explanation", "jbp.explain")


def render_text(record: Explanation) -> str:
  """The derivation as plain text for a terminal, every value to 9 decimals.

  Args:
    record: an :class:`Explanation`, from :func:`explain`.

  Returns:
    the text, one ``str`` of lines: a header, then one section a stage (forward
    pass, total error, the backward pass layer by layer, the updates, the error
    after the step), each line an equation with its symbols, values and result.

  Raises:
    TypeError: ``record`` is not an :class:`Explanation`.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> text = jbp.render_text(jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5))
  >>> "E_total = E_o1 + E_o2" in text
  True
  """
  check_explanation(record)
  lines = header(record)
  for title, items in layout(record, Text()):
    lines += ["", f"== {title} =="]
    for it in items:
      lines.append(it.text if isinstance(it, Note) else " = ".join(it.parts))
  return "\n".join(lines) + "\n"


def render_markdown(record: Explanation) -> str:
  """The derivation as Markdown, the formulas in LaTeX ``$$`` blocks, every value to 9 decimals.

  Args:
    record: an :class:`Explanation`, from :func:`explain`.

  Returns:
    the Markdown, one ``str``: a heading, then a section a stage, its equations
    in ``aligned`` blocks (shown in Jupyter with ``IPython.display.Markdown``).

  Raises:
    TypeError: ``record`` is not an :class:`Explanation`.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> md = jbp.render_markdown(jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5))
  >>> md.count("$$") % 2
  0
  """
  check_explanation(record)
  lines = ["# One training step, every number", ""] + [" ".join(header(record)), ""]
  for title, items in layout(record, Latex()):
    lines += [f"## {title}", ""]
    block = []
    for it in items + [Note("")]:
      if isinstance(it, Note):
        if block:
          lines += ["$$", r"\begin{aligned}", " \\\\\n".join(block), r"\end{aligned}", "$$", ""]
          block = []
        if it.text:
          lines += [it.text, ""]
      else:
        lhs, *rhs = it.parts
        block.append(f"{lhs} &= " + " = ".join(rhs) if rhs else lhs)
  return "\n".join(lines)


def _plain(v):
  fields = getattr(v, "_asdict", None)  # a NamedTuple's
  if isinstance(v, tuple) and fields is not None:
    return {k: _plain(x) for k, x in fields().items()}
  if isinstance(v, (tuple, list)):
    return [_plain(x) for x in v]
  return v


def render_json(record: Explanation, *, indent: int | None = 2) -> str:
  """The record as JSON: every number at full precision (floats round-trip exactly).

  Args:
    record: an :class:`Explanation`, from :func:`explain`.
    indent: spaces of indentation, as in ``json.dumps``; ``None`` for one line.

  Returns:
    the JSON text, one ``str``: an object with the record's fields (nested
    records as objects, tuples as lists).

  Raises:
    TypeError: ``record`` is not an :class:`Explanation`.

  >>> import json, jbp
  >>> ex = jbp.worked_example()
  >>> d = json.loads(jbp.render_json(jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5)))
  >>> d["weights"][0]["name"], d["update"]
  ('w5', 'simultaneous')
  """
  check_explanation(record)
  return json.dumps(_plain(record), indent=indent)
