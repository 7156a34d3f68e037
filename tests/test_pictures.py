"""The pictures without a browser: the SVG diagram, the stepping page's file, the training run and its page.

Every number a picture shows is compared with the record it came from, written as the test writes it
(``f"{v:.9f}"``), so a picture cannot show a number the computation did not make. What a browser does
with the pages is in test_pages_browser.py.
"""

import html
import json
import pathlib
import re
import xml.etree.ElementTree as ET

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jbp
from jbp._show.format import number

SVG = "{http://www.w3.org/2000/svg}"
NUM = re.compile(r"-?\d+\.\d{9}(?!\d)")


def nine(v):
  return f"{v:.9f}"


def glorot_net(sizes, seed, batch):
  """A network with one bias a neuron, and a batch, from NumPy (no compilation to draw them)."""
  rng = np.random.default_rng(seed)
  params = tuple(jbp.Layer(jnp.asarray(rng.normal(size=(m, n))), jnp.asarray(rng.normal(size=(m,)) * 0.5))
                 for n, m in zip(sizes[:-1], sizes[1:]))
  x = jnp.asarray(rng.normal(size=(batch, sizes[0])))
  y = jnp.asarray(rng.uniform(size=(batch, sizes[-1])))
  return params, x, y


def svg_labels(svg):
  """``{id: [lines of each text of the group]}`` for the labelled groups (l-*, a-*) of a diagram."""
  root = ET.fromstring(svg.split("\n", 1)[1] if svg.startswith("<?xml") else svg)
  out = {}
  for g in root.iter(SVG + "g"):
    gid = g.get("id", "")
    if gid.startswith(("l-", "a-")):
      out[gid] = [[s.text for s in t] if list(t) else ["".join(t.itertext())] for t in g.iter(SVG + "text")]
  return root, out


@pytest.fixture(scope="module")
def worked():
  with jax.enable_x64(True):
    ex = jbp.worked_example(jnp.float64)
    return {u: jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5, update=u)
            for u in jbp.UPDATES}


def test_svg_of_the_worked_example_labels_every_neuron_weight_and_bias_with_the_records_values(worked):
  r = worked["simultaneous"]
  svg = jbp.render_svg(r)
  root, labels = svg_labels(svg)
  assert root.tag == SVG + "svg" and root.get("viewBox")
  # every weight: its name over its value before the step
  assert {k for k in labels if k.startswith("l-")} == {f"l-w{i}" for i in range(1, 9)}
  for w in r.weights:
    assert labels[f"l-{w.name}"] == [[w.name, nine(w.value)]]
  # the biases are units of their own, b1 under the inputs and b2 under the hidden layer, with their values
  units = {g.get("id"): "".join(g.itertext()) for g in root.iter(SVG + "g")
           if g.get("id", "").startswith("u-")}
  assert units == {"u-1": "b1", "u-2": "b2"}
  assert labels["a-u-1"] == [[nine(0.35)]] and labels["a-u-2"] == [[nine(0.60)]]
  # every neuron: the input's value, each neuron's net and out, each output's target
  assert labels["a-i1"] == [[nine(0.05)]] and labels["a-i2"] == [[nine(0.10)]]
  for f in r.forward:
    rows = [t[0] for t in labels[f"a-{f.neuron}"]]
    assert rows[:2] == [f"net {nine(f.net[0])}", f"out {nine(f.out[0])}"]
  assert [t[0] for t in labels["a-o1"]][2] == "target 0.010000000"
  names = {"".join(g.itertext()) for g in root.iter(SVG + "g") if g.get("id", "").startswith("n-")}
  assert names == {"i1", "i2", "h1", "h2", "o1", "o2"}
  # the published figure's numbers, as jbp explain prints them
  assert labels["a-h1"][1] == ["out 0.593269992"] and labels["a-o1"][1] == ["out 0.751365070"]
  # inputs left of the hidden layer, left of the outputs; b1 below the inputs
  pos = {g.get("id"): float(g.find(SVG + "circle").get("cx")) for g in root.iter(SVG + "g")
         if g.get("id", "").startswith("n-")}
  assert pos["n-i1"] < pos["n-h1"] < pos["n-o1"]


# Other networks: one bias a neuron, batches, the largest network explain takes, and a gap labelled by
# source (2 inputs and a bias unit feeding 5 neurons).
OTHERS = [((2, 3, 1), 4), ((3, 4, 2, 2), 3), ((8,) * 5, 16), ((2, 5, 1), 1)]


@pytest.fixture(scope="module")
def others():
  with jax.enable_x64(True):
    return {sizes: jbp.explain(*glorot_net(sizes, len(sizes), batch), learning_rate=0.3, trainable="all")
            for sizes, batch in OTHERS}


@pytest.mark.parametrize("sizes, example", [((2, 3, 1), 2), ((3, 4, 2, 2), 0), ((8,) * 5, 15)])
def test_svg_of_other_networks_with_systematic_names_biases_and_a_chosen_example(others, sizes, example):
  r = others[sizes]
  batch = r.examples
  svg = jbp.render_svg(r, example=example)
  root, labels = svg_labels(svg)
  for w in r.weights:
    assert labels[f"l-{w.name}"] == [[w.name, nine(w.value)]]
  for b in r.biases:
    if sizes[b.layer] == 1:  # a layer's only bias is drawn on its unit, named there
      assert labels[f"a-u-{b.layer}"] == [[nine(b.value)]] and f">{b.name}</text></g>" in svg
    else:  # one bias a neuron: labelled on its edge
      assert labels[f"l-{b.name}"] == [[b.name, nine(b.value)]]
  for name, v in r.inputs:
    assert labels[f"a-{name}"] == [[nine(v[example])]]
  for f in r.forward:
    rows = [t[0] for t in labels[f"a-{f.neuron}"]]
    assert rows[:2] == [f"net {nine(f.net[example])}", f"out {nine(f.out[example])}"]
  assert f"values of example {example + 1} of {batch}" in svg


def test_svg_labels_do_not_overlap_by_the_layouts_own_measure(worked, others):
  # The layout reserves room from character counts; check its promise on its own terms here (a browser
  # measures the real text in test_pages_browser.py).
  # A compact drawing (a large network) shows the labels of one edge or one neuron at a time: those
  # must not overlap each other.
  for sizes, r in [((2, 2, 2), worked["simultaneous"])] + list(others.items()):
    root, _ = svg_labels(jbp.render_svg(r))
    boxes = label_boxes(root)
    compact = "compact" in root.get("class")
    assert compact == (sizes in [(3, 4, 2, 2), (8,) * 5]), sizes
    together = ([el.get("data-l").split() for el in root.iter() if el.get("data-l")] if compact
                else [list(boxes)])
    for ids in together:
      b = np.array([boxes[i] for i in ids])
      overlap = ((b[:, None, 0] < b[None, :, 2]) & (b[None, :, 0] < b[:, None, 2]) &
                 (b[:, None, 1] < b[None, :, 3]) & (b[None, :, 1] < b[:, None, 3]))
      np.fill_diagonal(overlap, False)
      assert not overlap.any(), (sizes, np.argwhere(overlap)[:3])
    b = np.array(list(boxes.values()))
    width, height = map(float, root.get("viewBox").split()[2:])
    assert b[:, 0].min() >= 0 and b[:, 2].max() <= width and b[:, 3].max() <= height, sizes


def label_boxes(root):
  """``{label id: (left, top, right, bottom)}`` of each edge label, from its characters (the layout's
  measure)."""
  from jbp._show.diagram import CHAR, LINE

  boxes = {}
  for g in root.iter(SVG + "g"):
    if g.get("id", "").startswith("l-"):
      t = g.find(SVG + "text")
      lines = [s.text for s in t]
      cx, cy = float(t.get("x")), float(t.get("y"))
      inline = not any(s.get("y") for s in t)
      w = (len(" ".join(lines)) if inline else max(map(len, lines))) * CHAR
      h = (1 if inline else len(lines)) * LINE
      boxes[g.get("id")] = (cx - w / 2, cy - h / 2 - 4, cx + w / 2, cy + h / 2 - 4)
  return boxes


def segment_meets_box(p, q, box, steps=400):
  """Whether the segment ``p``-``q`` passes through ``box``, sampled (not the layout's own clipping)."""
  t = np.linspace(0, 1, steps)[:, None]
  pts = np.asarray(p) * (1 - t) + np.asarray(q) * t
  inside = (pts[:, 0] > box[0]) & (pts[:, 0] < box[2]) & (pts[:, 1] > box[1]) & (pts[:, 1] < box[3])
  return bool(inside.any())


def labels_crossed_by_edges(root):
  """``[(label, edge)]``: each label box that an edge other than its own passes through."""
  boxes = label_boxes(root)
  xy = lambda el, k: (float(el.get(f"x{k}")), float(el.get(f"y{k}")))
  edges = {el.get("id"): (xy(el, 1), xy(el, 2)) for el in root.iter(SVG + "line")
           if el.get("id", "").startswith("e-")}
  return [(lid, eid) for lid, box in boxes.items() for eid, (p, q) in edges.items()
          if eid != "e-" + lid[2:] and segment_meets_box(p, q, box)]


def svg_of_page(page):
  return ET.fromstring(re.search(r"<svg .*?</svg>", page, re.S).group(0))


def test_no_label_of_the_2_2_2_pages_is_crossed_by_another_edge(worked, x64):
  # A label sits on its own edge (on a halo of the background); no other edge passes through it, on the
  # stepping page in both orders (its widest variant, w+ and the gradient, sets the box), the SVG and the
  # training page.
  ex = jbp.worked_example(jnp.float64)
  run = jbp.record_training(ex.params, ex.inputs, ex.targets, steps=20, learning_rate=0.5, record_every=10)
  roots = [svg_of_page(jbp.render_html(r)) for r in worked.values()]
  roots += [svg_labels(jbp.render_svg(worked["simultaneous"]))[0]]
  roots += [svg_of_page(jbp.render_training(run))]  # its rows spread until w4 is clear of b1's edge to h1
  for root in roots:
    assert len(label_boxes(root)) == 8
    assert labels_crossed_by_edges(root) == []
  # the check catches a label moved onto another edge: w1's label to the middle of w2's edge
  root = roots[-1]
  e = next(el for el in root.iter(SVG + "line") if el.get("id") == "e-w2")
  mx, my = (float(e.get("x1")) + float(e.get("x2"))) / 2, (float(e.get("y1")) + float(e.get("y2"))) / 2
  t = next(g for g in root.iter(SVG + "g") if g.get("id") == "l-w1").find(SVG + "text")
  t.set("x", str(mx))
  t.set("y", str(my + 4))
  assert ("l-w1", "e-w2") in labels_crossed_by_edges(root)


def test_svg_title_and_bad_arguments(worked):
  r = worked["sequential"]
  assert "Step 2: the params after 1 step" in jbp.render_svg(r, title="Step 2: the params after 1 step")
  with pytest.raises(TypeError, match=r"record: expected a jbp.Explanation .*got dict"):
    jbp.render_svg(json.loads(jbp.render_json(r)))
  with pytest.raises(ValueError, match=r"example: expected an integer from 0 to 0 .*got 1"):
    jbp.render_svg(r, example=1)
  with pytest.raises(TypeError, match=r"record: expected a jbp.Explanation"):
    jbp.render_html("not a record")


def stage_sections(page):
  pattern = r'<section class="stage"[^>]*data-kind="([a-z]+)" data-name="([^"]*)"[^>]*>(.*?)</section>'
  return re.findall(pattern, page, flags=re.S)


@pytest.mark.parametrize("update", jbp.UPDATES)
def test_html_page_holds_every_number_of_the_derivation_in_order_and_loads_nothing(worked, update):
  r = worked[update]
  page = jbp.render_html(r)
  # One file: inline style and script, a policy that forbids every load, no address but the SVG namespace.
  assert page.startswith("<!DOCTYPE html>") and page.count("<script>") == 1 and "<style>" in page
  assert "Content-Security-Policy\" content=\"default-src 'none'" in page
  assert re.findall(r"(?:https?:)?//[\w.-]+", page) == ["http://www.w3.org"] * page.count("http://www.w3.org")
  assert not re.search(r"<(link|img|iframe)\b|@import|url\(|src=", page)
  sections = stage_sections(page)
  # The stages' numbers, in order, are the numbers jbp explain prints (after its two header lines).
  shown = [n for _, _, body in sections for n in NUM.findall(html.unescape(re.sub(r"<[^>]+>", "", body)))]
  printed = NUM.findall(jbp.render_text(r).split("\n", 2)[2])
  assert shown == printed
  kinds = [(k, n) for k, n, _ in sections]
  assert kinds[0] == ("inputs", "") and kinds[-1] == ("after", "")
  assert [n for k, n in kinds if k == "forward"] == ["h1", "h2", "o1", "o2"]
  assert [n for k, n in kinds if k == "grad"] == ["w5", "w6", "w7", "w8", "w1", "w2", "w3", "w4"]
  assert {n for k, n in kinds if k == "update"} == {f"w{i}" for i in range(1, 9)}
  assert len(kinds) == 27
  if update == "sequential":  # the output layer's updates come before the hidden deltas, which use them
    assert kinds.index(("update", "w8")) < kinds.index(("delta", "h1"))
    h1 = dict(((k, n), b) for k, n, b in sections)[("delta", "h1")]
    tag = re.search(r'<section[^>]*data-kind="delta" data-name="h1"[^>]*>', page).group(0)
    assert 'data-upd="e-w5 l-w5 e-w7 l-w7"' in tag  # drawn as the already-updated weights
    assert "w5<sup" in h1 and "use the updated weights" in h1
  else:
    assert all('data-upd=""' in s for s in re.findall(r"<section[^>]*>", page))


def test_explanation_and_training_run_show_themselves_in_a_notebook(worked, x64):
  r = worked["sequential"]
  frame = r._repr_html_()
  assert frame.startswith("<iframe srcdoc=") and html.unescape(frame.split('"')[1]) == jbp.render_html(r)
  ex = jbp.worked_example(jnp.float64)
  run = jbp.record_training(ex.params, ex.inputs, ex.targets, steps=20, learning_rate=0.5, record_every=5)
  frame = run._repr_html_()
  assert html.unescape(frame.split('"')[1]) == jbp.render_training(run)


@pytest.mark.parametrize("update", jbp.UPDATES)
def test_record_training_equals_one_train_call_bit_for_bit(x64, update):
  ex = jbp.worked_example(jnp.float64)
  run = jbp.record_training(ex.params, ex.inputs, ex.targets, steps=60, learning_rate=0.5, record_every=3,
                            update=update)
  params, losses = jbp.train(ex.params, ex.inputs, ex.targets, steps=60, learning_rate=0.5, record_every=3,
                             update=update)
  np.testing.assert_array_equal(run.losses, np.asarray(losses))
  for got, want in zip(jax.tree_util.tree_leaves(run.params), jax.tree_util.tree_leaves(params)):
    np.testing.assert_array_equal(got[-1], np.asarray(want))
  # and at each record, the params of a run stopped there
  mid, _ = jbp.train(ex.params, ex.inputs, ex.targets, steps=30, learning_rate=0.5, record_every=3,
                     update=update)
  np.testing.assert_array_equal(run.params[1].w[10], np.asarray(mid[1].w))
  np.testing.assert_array_equal(run.params[0].w[0], np.asarray(ex.params[0].w))
  np.testing.assert_array_equal(run.outputs, np.asarray(jbp.forward(params, ex.inputs)))
  assert run.params[0].w.shape == (21, 2, 2) and run.params[0].b.shape == (21,)


def page_data(page):
  blob = re.search(r'<script type="application/json" id="run-data">(.*?)</script>', page, re.S).group(1)
  return json.loads(blob)


def test_training_page_of_1000_records_of_the_worked_example_is_compact_and_holds_every_recorded_weight(x64):
  ex = jbp.worked_example(jnp.float64)
  runs = {u: jbp.record_training(ex.params, ex.inputs, ex.targets, steps=10_000, learning_rate=0.5,
                                 record_every=10, update=u) for u in jbp.UPDATES}
  run = runs["sequential"]
  page = jbp.render_training(run, compare={"simultaneous": runs["simultaneous"].losses})
  assert len(page.encode()) < 1_000_000
  d = page_data(page)
  assert len(d["records"]) == 1001
  assert d["names"] == ["w1", "w2", "w3", "w4", "b1", "w5", "w6", "w7", "w8", "b2"]
  assert d["fixed"][4] == nine(0.35) and 4 not in d["moving"]  # the biases stay fixed: stored once
  w = np.concatenate([run.params[0].w.reshape(1001, 4), run.params[1].w.reshape(1001, 4)], axis=1)
  for k in (0, 1, 500, 1000):
    assert d["records"][k].split() == [nine(v) for v in w[k]]
    assert d["loss"][k] == number(run.losses[k])  # losses as the command line prints them
  assert d["loss"][-1] == "3.50847863e-05"  # 0.000035085 published after 10,000 updates, sequential order
  assert d["steps"][-1] == 10_000 and len(d["points"]) == 1001
  assert "simultaneous" in page and "|difference|" in page
  assert "Content-Security-Policy" in page and not re.search(r"<(link|img|iframe)\b|@import|url\(|src=", page)
  for out in run.outputs:
    assert nine(out) in page


def test_training_page_rejects_what_it_cannot_draw(x64):
  ex = jbp.worked_example(jnp.float64)
  run = jbp.record_training(ex.params, ex.inputs, ex.targets, steps=4, learning_rate=0.5, record_every=2)
  with pytest.raises(ValueError, match=r"compare: expected losses of shape \(3,\) for 'other', as "
                                       r"run.losses, got shape \(5,\)"):
    jbp.render_training(run, compare={"other": np.ones(5)})
  with pytest.raises(TypeError, match=r"compare: expected a dict \{label: losses\} or None, got list"):
    jbp.render_training(run, compare=[np.ones(3)])
  with pytest.raises(TypeError, match=r"run: expected a jbp.TrainingRun .*got tuple"):
    jbp.render_training((ex.params, np.ones(3)))
  with pytest.raises(ValueError, match=r"record_every: expected a divisor of steps=10, got 3"):
    jbp.record_training(ex.params, ex.inputs, ex.targets, steps=10, learning_rate=0.5, record_every=3)
  with pytest.raises(ValueError, match=r"names: expected one of"):
    jbp.render_training(run, names="greek")
  # A run of a network too wide to draw (made by hand: three records of zeros).
  big = (jbp.Layer(np.zeros((3, 17, 2)), np.zeros(3)), jbp.Layer(np.zeros((3, 1, 17)), np.zeros(3)))
  wide = run._replace(params=big, outputs=np.zeros(1), y=np.zeros(1))
  with pytest.raises(ValueError, match=r"run: the page draws every weight, .* got sizes \(2, 17, 1\)"):
    jbp.render_training(wide)


def test_the_readme_pictures_exist_and_the_svg_is_what_jbp_explain_draws(worked):
  root = pathlib.Path(__file__).parent.parent
  images = re.findall(r"!\[[^\]]*\]\((docs/images/[^)]+)\)", (root / "README.md").read_text())
  assert sorted(images) == ["docs/images/stepping_page.png", "docs/images/worked_example.svg"]
  assert all((root / p).stat().st_size > 1000 for p in images)
  # `jbp explain --format svg`: the worked example in float64, simultaneous order
  svg = (root / "docs/images/worked_example.svg").read_text(encoding="utf-8")
  assert svg == jbp.render_svg(worked["simultaneous"])
