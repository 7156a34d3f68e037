"""The pages in a real browser: headless Chromium opens each file from disk and a test reads what it shows.

The stepping page is walked stage by stage with the right arrow key, for the worked example and for a
2-3-1 network with one bias a neuron on a batch of 4 (XOR's inputs), in both update orders. At every
stage the formula shows the record's numbers for that stage, and the diagram's labels show each weight
before its update and ``w+`` after (its gradient while that is the stage). The whole walk shows exactly
the numbers ``jbp explain`` prints, in order. The page asks for nothing but itself and has no
horizontal scroll at 1280x800, in light and dark colour schemes, and its screenshot is not blank.
The training page's slider sets every weight's label to the recorded value. Real text boxes, measured
by the browser, do not overlap in the diagram: all of them at once, or, in a compact drawing (labels on
hover or focus), those shown together. An 8-16-16-4 training page shows an edge's label, with the value
it stores, when the edge is pointed at or reached with Tab.

Without a browser these tests skip, saying how to install one (tests/browser.py).
"""

import json
import re
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from browser import assert_not_blank, horizontal_overflow, launch, open_page, screenshot_pixels

import jbp
from jbp._show.format import decimals, number

NUM = re.compile(r"-?\d+\.\d{9}(?!\d)")


def nine(v):
  return f"{v:.9f}"


@pytest.fixture(scope="module")
def browser():
  with launch() as b:
    yield b


def other_network():
  """A 2-3-1 sigmoid network with one bias a neuron, on XOR's four examples (NumPy draws)."""
  rng = np.random.default_rng(7)
  params = (jbp.Layer(jnp.asarray(rng.normal(size=(3, 2))), jnp.asarray(rng.normal(size=(3,)) * 0.5)),
            jbp.Layer(jnp.asarray(rng.normal(size=(1, 3))), jnp.asarray(rng.normal(size=(1,)) * 0.5)))
  x = jnp.asarray([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
  return params, x, jnp.asarray([[0.0], [1.0], [1.0], [0.0]])


@pytest.fixture(scope="module")
def records():
  with jax.enable_x64(True):
    ex = jbp.worked_example(jnp.float64)
    params, x, y = other_network()
    out = {}
    for u in jbp.UPDATES:
      out["worked", u] = jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5, update=u)
      out["2-3-1", u] = jbp.explain(params, x, y, learning_rate=0.7, update=u, trainable="all")
    return out


STATE = """() => {
  const shown = el => getComputedStyle(el).display !== 'none';
  const lines = t => t.children.length ? Array.from(t.children).map(s => s.textContent) : [t.textContent];
  const groups = {};
  document.querySelectorAll('g[id^="l-"], g[id^="a-"]').forEach(g => {
    groups[g.id] = Array.from(g.querySelectorAll('text')).filter(shown).map(lines);
  });
  const cur = document.querySelectorAll('.stage.current');
  const ids = cls => Array.from(document.querySelectorAll('.' + cls)).map(e => e.id);
  return {current: cur.length, kind: cur[0].dataset.kind, name: cur[0].dataset.name, text: cur[0].innerText,
          where: document.getElementById('where').textContent, groups, hl: ids('hl'), upd: ids('hl-upd'),
          overflow: document.documentElement.scrollWidth - window.innerWidth};
}"""


def expected_stages(r):
  """The stages in the derivation's order, from the record: ``[(kind, name), ...]``."""
  L = len(r.sizes) - 1
  out = [("inputs", "")] + [("forward", f.neuron) for f in r.forward] + [("error", "")]
  params = lambda l: ([w for w in r.weights if w.layer == l] + [b for b in r.biases if b.layer == l])
  for l in range(L, 0, -1):
    out += [("delta", d.neuron) for d in r.deltas if d.layer == l]
    out += [("grad", p.name) for p in params(l) if p.trainable or p in r.weights]
    if r.update == "sequential":
      out += [("update", p.name) for p in params(l) if p.trainable]
  if r.update == "simultaneous":
    out += [("update", p.name) for l in range(L, 0, -1) for p in params(l) if p.trainable]
  return out + [("after", "")]


def label(p, k, at):
  """What the diagram should show for weight or bias ``p`` at stage ``k``."""
  g, u = at.get(("grad", p.name)), at.get(("update", p.name))
  if k == g:
    return [f"∂E/∂{p.name}", nine(p.grad)]
  if u is not None and k >= u:
    return [f"{p.name}+", nine(p.updated)]
  return [p.name, nine(p.value)]


def stage_numbers(r, kind, name):
  """Numbers the formula of a stage must show (example by example), from the record."""
  by = {x.name: x for x in r.weights + r.biases}
  if kind == "inputs":
    return [nine(v) for _, vs in r.inputs for v in vs]
  if kind == "forward":
    f = next(f for f in r.forward if f.neuron == name)
    return [nine(v) for v in f.net + f.out]
  if kind == "error":
    return [nine(r.E_total)] + [nine(v) for o in r.errors for v in o.error + o.out + o.target]
  if kind == "delta":
    d = next(d for d in r.deltas if d.neuron == name)
    return [nine(v) for v in d.delta + d.dE_dout + d.dout_dnet] + [nine(t.weight_value) for t in d.terms]
  if kind == "grad":
    p = by[name]
    return [nine(p.grad)] + ([nine(v) for v in p.product] if p in r.weights else [])
  if kind == "update":
    p = by[name]
    return [nine(p.value), nine(p.updated), nine(r.learning_rate)]
  return [nine(r.E_after)]


def walk(page):
  n = page.locator(".stage").count()
  states = []
  for k in range(n):
    if k:
      page.keyboard.press("ArrowRight")
    states.append(page.evaluate(STATE))
  return states


@pytest.mark.parametrize("net", ["worked", "2-3-1"])
@pytest.mark.parametrize("update", jbp.UPDATES)
def test_stepping_page_walked_with_the_keyboard_shows_every_number_of_the_record(browser, records, tmp_path,
                                                                                 net, update):
  r = records[net, update]
  path = tmp_path / "step.html"
  path.write_text(jbp.render_html(r), encoding="utf-8")
  page, requests = open_page(browser, path)
  states = walk(page)
  order = expected_stages(r)
  assert [(s["kind"], s["name"]) for s in states] == order
  at = {key: k for k, key in enumerate(order)}
  shared = {b.layer for b in r.biases if len([c for c in r.biases if c.layer == b.layer]) == 1}
  for k, s in enumerate(states):
    assert s["current"] == 1 and s["where"] == f"stage {k + 1} of {len(order)}"
    assert s["overflow"] <= 0, (k, s["overflow"])
    for v in stage_numbers(r, s["kind"], s["name"]):
      assert v in s["text"], (k, s["kind"], s["name"], v)
    # The diagram: every weight and per-neuron bias label, and each shared bias's unit, at this stage.
    for p in r.weights + r.biases:
      if p in r.biases and p.layer in shared:
        want = label(p, k, at)
        assert s["groups"][f"a-u-{p.layer}"] == [[want[1] if want[0] == p.name else " ".join(want)]]
      else:
        assert s["groups"][f"l-{p.name}"] == [label(p, k, at)], (k, p.name)
    # A neuron's rows appear as they are computed (example 1 of a batch is shown).
    for f in r.forward:
      rows = [t[0].split()[0] for t in s["groups"][f"a-{f.neuron}"]]
      want = ["net", "out"] if k >= at["forward", f.neuron] else []
      if f.neuron in {o.neuron for o in r.errors}:
        want += ["target"] + (["E"] if k >= at["error", ""] else [])
      want += ["δ"] if k >= at["delta", f.neuron] else []
      assert rows == want, (k, f.neuron, rows)
    # What the stage is about is highlighted; in the sequential order a hidden delta marks the
    # already-updated weights it flows through.
    if s["kind"] in ("forward", "delta"):
      assert f"n-{s['name']}" in s["hl"]
    if s["kind"] in ("grad", "update") and s["name"] in {w.name for w in r.weights}:
      assert f"e-{s['name']}" in s["hl"]
    if s["kind"] == "delta" and update == "sequential" and s["name"] in r.names.neurons[0]:
      used = {f"e-{t.weight}" for d in r.deltas if d.neuron == s["name"] for t in d.terms}
      assert used and used <= set(s["upd"]) and re.search(r"uses? the updated weights", s["text"])
    else:
      assert s["upd"] == []
  # Over the whole walk, the formulas show exactly the numbers jbp explain prints: in its order for one
  # example; for a batch the page groups each neuron's examples together, the text each example's neurons.
  shown = [v for s in states for v in NUM.findall(s["text"])]
  printed = NUM.findall(jbp.render_text(r).split("\n", 2)[2])
  assert shown == printed if r.examples == 1 else Counter(shown) == Counter(printed)
  # The keys and buttons move back and forth; past either end nothing moves.
  page.keyboard.press("ArrowRight")
  assert page.evaluate(STATE)["where"] == f"stage {len(order)} of {len(order)}"
  page.keyboard.press("Home")
  assert page.evaluate(STATE)["kind"] == "inputs"
  page.keyboard.press("ArrowLeft")
  page.click("#next")
  page.click("#next")
  page.click("#prev")
  assert page.evaluate(STATE)["where"] == f"stage 2 of {len(order)}"
  page.keyboard.press("End")
  assert page.evaluate(STATE)["kind"] == "after"
  assert_not_blank(screenshot_pixels(page))  # 1280x800
  page.evaluate("location.hash = '#3'")  # a stage's address (hashchange fires after this returns)
  page.wait_for_function("document.getElementById('where').textContent.startsWith('stage 3 ')", timeout=5000)
  assert page.evaluate(STATE)["kind"] == order[2][0]
  assert requests == [path.resolve().as_uri()]  # nothing but the file itself


def test_batch_page_switches_the_diagram_between_examples(browser, records, tmp_path):
  r = records["2-3-1", "simultaneous"]
  path = tmp_path / "step.html"
  path.write_text(jbp.render_html(r), encoding="utf-8")
  page, _ = open_page(browser, path, fragment="#5")  # y1's forward pass (after the inputs and h1_1..h1_3)
  assert page.evaluate(STATE)["kind"] == "forward"
  for e in range(4):
    page.click(f'[data-example="{e}"]')
    groups = page.evaluate(STATE)["groups"]
    assert groups["a-x2"] == [[nine(r.inputs[1][1][e])]]
    assert groups["a-y1"][1] == [f"out {nine(r.forward[-1].out[e])}"]


def contrast(a, b):
  """WCAG contrast ratio of two ``rgb(r, g, b)`` colours."""
  def lum(c):
    rgb = [int(v) / 255 for v in re.findall(r"\d+", c)[:3]]
    rgb = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
  hi, lo = sorted([lum(a), lum(b)], reverse=True)
  return (hi + 0.05) / (lo + 0.05)


COLOURS = """() => {
  const cs = el => getComputedStyle(el);
  const label = document.querySelector('g[id^="l-"] text:not(.off)');
  return {fg: cs(document.body).color, bg: cs(document.body).backgroundColor,
          eq: cs(document.querySelector('.stage.current .eq')).color,
          eqbg: cs(document.querySelector('.stage.current .eq')).backgroundColor,
          label: cs(label).fill, svgbg: cs(document.querySelector('.jbp-net .bg')).fill,
          select: cs(document.querySelector('.panel')).userSelect};
}"""

SELECT = """() => {
  const range = document.createRange();
  range.selectNodeContents(document.querySelector('.stage.current'));
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  return sel.toString();
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_stepping_page_reads_in_light_and_dark_fits_1280x800_and_selects(browser, records, tmp_path, scheme):
  r = records["worked", "sequential"]
  path = tmp_path / "step.html"
  path.write_text(jbp.render_html(r), encoding="utf-8")
  page, requests = open_page(browser, path, color_scheme=scheme, fragment="#17")  # delta of h1
  c = page.evaluate(COLOURS)
  dark = contrast(c["bg"], "rgb(0, 0, 0)") < contrast(c["bg"], "rgb(255, 255, 255)")
  assert dark == (scheme == "dark"), c
  for fg, bg in ((c["fg"], c["bg"]), (c["eq"], c["eqbg"]), (c["label"], c["svgbg"])):
    assert contrast(fg, bg) >= 7, (fg, bg)
  assert c["select"] != "none"
  selected = page.evaluate(SELECT)
  assert "0.036350306" in selected or "0.030229739" in selected  # dE/dout_h1, in either order
  assert horizontal_overflow(page) <= 0
  assert_not_blank(screenshot_pixels(page))
  assert requests == [path.resolve().as_uri()]


# The diagram's text as the browser lays it out: every box (shown or not), and each group of boxes
# shown together: what shows with the pointer nowhere, then with it over each element that shows labels
# (an edge, or a neuron or bias unit: the labels into it) in a compact drawing. Hidden text (a compact
# drawing's labels until hover or focus, a page's other variants) is left out of a group.
TEXT = 'g[id^="l-"] text, g[id^="a-"] text, g[id^="n-"], g[id^="u-"]'
LABEL_BOXES = """() => {
  const net = document.querySelector('svg.jbp-net');
  const box = el => {
    const b = el.getBBox();
    return [el.id || el.parentNode.id, b.x, b.y, b.x + b.width, b.y + b.height];
  };
  const shown = el => {
    const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none' && el.getBBox().width > 0;
  };
  const text = [...net.querySelectorAll('%s')];
  const visible = () => text.filter(shown).map(box);
  const groups = [visible()];
  for (const el of net.querySelectorAll('[data-l]')) {
    el.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
    groups.push(visible());
    el.dispatchEvent(new MouseEvent('mouseout', {bubbles: true}));
  }
  const vb = net.viewBox.baseVal;
  return {all: text.map(box), groups, compact: net.classList.contains('compact'),
          labels: net.querySelectorAll('g[id^="l-"]').length, width: vb.width, height: vb.height};
}""" % TEXT


def overlapping(boxes, gap=0.5):
  """Pairs of ids whose boxes ``[id, x0, y0, x1, y1]`` overlap by more than ``gap`` px (they may touch)."""
  b = np.array([box[1:] for box in boxes])
  ids = [box[0] for box in boxes]
  overlap = ((b[:, None, 0] < b[None, :, 2] - gap) & (b[None, :, 0] < b[:, None, 2] - gap) &
             (b[:, None, 1] < b[None, :, 3] - gap) & (b[None, :, 1] < b[:, None, 3] - gap))
  np.fill_diagonal(overlap, False)
  return [(ids[i], ids[j]) for i, j in np.argwhere(overlap) if i < j]


def assert_text_apart(got):
  """No two boxes shown together overlap; every label is shown in some group; all lie in the drawing."""
  for group in got["groups"]:
    pairs = overlapping(group)
    assert pairs == [], pairs[:5]
  shown = {box[0] for group in got["groups"] for box in group if box[0].startswith("l-")}
  assert len(shown) == got["labels"] > 0
  b = np.array([box[1:] for box in got["all"]])
  assert b[:, 0].min() >= 0 and b[:, 1].min() >= 0
  assert b[:, 2].max() <= got["width"] and b[:, 3].max() <= got["height"]


@pytest.mark.parametrize("sizes, compact", [((2, 2, 2), False), ((2, 5, 1), False), ((3, 4, 2, 2), True),
                                            ((8, 8, 8, 8, 8), True)])
def test_diagram_text_measured_by_the_browser_does_not_overlap(browser, tmp_path, sizes, compact):
  rng = np.random.default_rng(3)
  params = tuple(jbp.Layer(np.asarray(rng.normal(size=(m, n)), np.float32),
                           np.asarray(rng.normal(size=() if sizes == (2, 2, 2) else (m,)), np.float32))
                 for n, m in zip(sizes[:-1], sizes[1:]))
  x = np.asarray(rng.normal(size=(3, sizes[0])), np.float32)
  y = np.asarray(rng.uniform(size=(3, sizes[-1])), np.float32)
  path = tmp_path / "net.svg"
  svg = jbp.render_svg(jbp.explain(params, x, y, learning_rate=0.1, trainable="all"))
  path.write_text(svg, encoding="utf-8")
  page, requests = open_page(browser, path)
  got = page.evaluate(LABEL_BOXES)
  assert got["compact"] == compact
  if not compact:  # every label shows at once, all measured together
    assert len(got["groups"]) == 1
    assert sum(box[0].startswith("l-") for box in got["groups"][0]) == got["labels"]
  else:  # shown one element's labels at a time: the neurons and units, and each labelled edge
    assert len(got["groups"]) > got["labels"]
    assert not any(box[0].startswith("l-") for box in got["groups"][0])
  assert_text_apart(got)
  assert requests == [path.resolve().as_uri()]


# A point on a labelled edge's hit line where the pointer reaches it (no other element on top), in the
# viewport's pixels; and what a label shows, if it is shown.
EDGE_POINT = """id => {
  const hit = document.querySelector('line.hit[data-l="l-' + id + '"]');
  const m = hit.getScreenCTM(), p = hit.ownerSVGElement.createSVGPoint();
  for (let k = 1; k < 50; k++) {
    const f = k / 50;
    p.x = (1 - f) * hit.x1.baseVal.value + f * hit.x2.baseVal.value;
    p.y = (1 - f) * hit.y1.baseVal.value + f * hit.y2.baseVal.value;
    const q = p.matrixTransform(m);
    if (document.elementFromPoint(q.x, q.y) === hit) return [q.x, q.y];
  }
  return null;
}"""
LABEL_SHOWN = """id => {
  const g = document.getElementById('l-' + id);
  return getComputedStyle(g.querySelector('text')).visibility === 'visible' ?
    [...g.querySelectorAll('tspan')].map(t => t.textContent) : null;
}"""


def test_large_training_page_shows_each_label_on_hover_and_focus_without_overlap(browser, tmp_path):
  sizes = (8, 16, 16, 4)
  rng = np.random.default_rng(5)
  x = np.asarray(rng.normal(size=(6, 8)), np.float32)
  y = np.asarray(rng.uniform(size=(6, 4)), np.float32)
  run = jbp.record_training(jbp.init_params(jax.random.key(1), sizes), x, y, steps=6, learning_rate=0.5,
                            record_every=2)
  path = tmp_path / "run.html"
  html = jbp.render_training(run)
  path.write_text(html, encoding="utf-8")
  data = json.loads(re.search(r'id="run-data">(.*?)</script>', html, re.S).group(1))
  stored = list(data["fixed"])  # the values the page shows at its last recorded step
  for i, v in zip(data["moving"], data["records"][-1].split(" ")):
    stored[i] = v
  stored = dict(zip(data["names"], stored))
  w = np.asarray(run.params[1].w)[-1]
  assert stored["w2_11_1"] == decimals(w[10, 0]) and stored["w2_1_11"] == decimals(w[0, 10])

  page, requests = open_page(browser, path)
  got = page.evaluate(LABEL_BOXES)
  assert got["compact"] and got["labels"] == 8 * 16 + 16 * 16 + 16 * 4 + 16 + 16 + 4
  assert_text_apart(got)
  assert horizontal_overflow(page) <= 0

  # Pointed at, an edge shows its own label, alone. (In the 16-16 gap an edge into an early neuron, such
  # as b2_7, lies under later edges along its whole length: Tab, or its neuron, shows that label.)
  for name in ["w2_11_1", "w3_4_16", "b3_2"]:
    assert page.evaluate(LABEL_SHOWN, name) is None
    at = page.evaluate(EDGE_POINT, name)
    assert at is not None, name
    page.mouse.move(*at)
    assert page.evaluate(LABEL_SHOWN, name) == [name, stored[name]]
    assert page.evaluate("document.querySelectorAll('.jbp-net .lg.on').length") == 1
    page.mouse.move(2, 2)
    assert page.evaluate(LABEL_SHOWN, name) is None

  focused = []
  for _ in range(4):  # Tab past the slider to the edges, in order
    page.keyboard.press("Tab")
    focused.append(page.evaluate("(document.activeElement.getAttribute('data-l') || '').slice(2)"))
  first = data["names"][0]
  assert focused[-3:] == data["names"][:3] and first == "w1_1_1"
  assert page.evaluate(LABEL_SHOWN, focused[-1]) == [focused[-1], stored[focused[-1]]]
  assert page.evaluate(LABEL_SHOWN, focused[-2]) is None  # the one Tab left
  assert_not_blank(screenshot_pixels(page))
  assert requests == [path.resolve().as_uri()]


RUN_STATE = """() => {
  const value = n => {
    const el = document.querySelector('[data-p="' + n + '"]');
    return (el.lastElementChild || el).textContent;
  };
  const edge = id => {
    const e = document.getElementById(id);
    return [e.classList.contains('pos') ? 1 : -1, parseFloat(e.style.strokeWidth)];
  };
  const ws = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8'];
  return {readout: document.getElementById('readout').textContent,
          slider: +document.getElementById('slider').value,
          w: ws.map(value), b: ['b1', 'b2'].map(value), edges: ws.map(n => edge('e-' + n)),
          mark: +document.getElementById('mark').getAttribute('cx'),
          overflow: document.documentElement.scrollWidth - window.innerWidth};
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_training_page_slider_shows_the_weights_recorded_at_each_step(browser, tmp_path, scheme):
  with jax.enable_x64(True):
    ex = jbp.worked_example(jnp.float64)
    run = jbp.record_training(ex.params, ex.inputs, ex.targets, steps=2000, learning_rate=0.5,
                              record_every=10, update="sequential")
    _, other = jbp.train(ex.params, ex.inputs, ex.targets, steps=2000, learning_rate=0.5, record_every=10)
  path = tmp_path / "run.html"
  path.write_text(jbp.render_training(run, compare={"simultaneous": other}), encoding="utf-8")
  page, requests = open_page(browser, path, color_scheme=scheme)
  w = np.concatenate([run.params[0].w.reshape(-1, 4), run.params[1].w.reshape(-1, 4)], axis=1)

  def check(k):
    s = page.evaluate(RUN_STATE)
    assert s["slider"] == k
    assert s["w"] == [nine(v) for v in w[k]]
    assert s["b"] == [nine(0.35), nine(0.60)]
    assert s["readout"] == f"step {k * 10:,} of 2,000 · E = {number(run.losses[k])}"
    assert [sign for sign, _ in s["edges"]] == [1 if v >= 0 else -1 for v in w[k]]
    widths = [width for _, width in s["edges"]]
    assert np.argsort(widths, kind="stable").tolist() == np.argsort(np.abs(w[k]), kind="stable").tolist()
    assert s["overflow"] <= 0
    return s

  last = check(200)  # the page opens at the end of the run
  page.keyboard.press("Home")
  first = check(0)
  assert first["mark"] < last["mark"]
  for _ in range(3):
    page.keyboard.press("ArrowRight")
  check(3)
  page.fill("#slider", "150")
  check(150)
  assert_not_blank(screenshot_pixels(page))
  assert requests == [path.resolve().as_uri()]
