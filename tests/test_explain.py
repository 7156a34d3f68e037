"""jbp.explain: every printed number against jax.grad, jbp.train and the published derivation.

Tolerances: in float64 the explained gradients come from the delta rule and jax.grad sums
the same terms in another order, so they agree to rounding; 1e-12 (absolute and relative)
leaves a few hundred ulps. Quantities computed by the same operations (a delta against
dE/dout * dout/dnet) are compared at 1e-15 relative.
"""

import functools
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jbp

TOL = 1e-12


def close(a, b, tol=TOL):
  np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def sequential_reference(params, stepped, x, y, activation):
  """jax.grad's version of the sequential order's gradients, for the last two layers.

  The output layer's gradient is the true gradient. The layer below takes its deltas
  through the *updated* output weights: that is the gradient of the surrogate
  ``sum(stop_gradient(delta_out) * net_out(W))`` with ``net_out`` computed through the
  updated output weights, which jax.grad differentiates independently of the delta rule.
  Deeper layers are None (covered by the comparison with jbp.train).
  """
  return _sequential_reference(params, stepped, x, y, activation)


@functools.partial(jax.jit, static_argnames="activation")
def _sequential_reference(params, stepped, x, y, activation):
  act = jbp.ACTIVATIONS[activation].fn
  grads = list(jax.grad(jbp.loss)(params, x, y, activation=activation))
  x2 = jnp.atleast_2d(x)
  a = [x2]
  row = lambda b: jnp.reshape(b, (1, -1))  # a bias as a row: no implicit rank promotion
  for p in params:
    a.append(act(a[-1] @ p.w.T + row(p.b)))
  delta_out = jax.grad(lambda net: 0.5 * jnp.sum((act(net) - jnp.atleast_2d(y)) ** 2))(
      a[-2] @ params[-1].w.T + row(params[-1].b))
  k = len(params) - 2

  def surrogate(layer):
    h = act(a[k] @ layer.w.T + row(layer.b))
    return jnp.sum(jax.lax.stop_gradient(delta_out) * (h @ stepped[-1].w.T))

  grads[k] = jax.grad(surrogate)(params[k])
  for l in range(k):
    grads[l] = None
  return grads


def check_record(rec, params, x, y, *, update, activation="sigmoid", trainable="weights", lr=0.5):
  """Checks a JSON-decoded explanation against jax.grad, jbp.loss and one step of jbp.train."""
  stepped, losses = jbp.train(params, x, y, steps=1, learning_rate=lr, update=update,
                              activation=activation, trainable=trainable)
  if update == "simultaneous":
    grads = jax.grad(jbp.loss)(params, x, y, activation=activation)
  else:
    grads = sequential_reference(params, stepped, x, y, activation)
  # NumPy from here on: indexing JAX arrays one element at a time is slow.
  params, stepped, grads, losses = jax.device_get((params, stepped, grads, losses))
  names = rec["names"]
  where = {names["weights"][l][j][i]: (l, j, i) for l in range(len(params))
           for j in range(params[l].w.shape[0]) for i in range(params[l].w.shape[1])}
  assert len(rec["weights"]) == len(where)
  for w in rec["weights"]:
    l, j, i = where[w["name"]]
    assert w["value"] == float(params[l].w[j, i])
    if grads[l] is not None:
      close(w["grad"], grads[l].w[j, i])
    close(w["updated"], stepped[l].w[j, i])
    # the chain rule, one example at a time, summed over examples
    close(w["product"], np.array(w["dE_dout"]) * np.array(w["dout_dnet"]) * np.array(w["dnet_dw"]), 1e-15)
    close(sum(w["product"]), w["grad"])
  for b in rec["biases"]:
    l = b["layer"] - 1
    k = names["biases"][l].index(b["name"])
    if grads[l] is not None:
      close(b["grad"], np.atleast_1d(grads[l].b)[k])
    close(b["updated"], np.atleast_1d(stepped[l].b)[k])
  close(rec["E_total"], losses[0])
  close(rec["E_after"], losses[1])
  out = np.atleast_2d(jbp.forward(params, x, activation=activation))
  outs = {f["neuron"]: f["out"] for f in rec["forward"]}
  for k, name in enumerate(names["neurons"][-1]):
    close(outs[name], out[:, k])
  for d in rec["deltas"]:
    close(d["delta"], np.array(d["dE_dout"]) * np.array(d["dout_dnet"]), 1e-15)
    if d["terms"]:
      close(d["dE_dout"], np.sum([t["product"] for t in d["terms"]], axis=0))
      for t in d["terms"]:
        assert t["updated"] == (update == "sequential" and True)
        src = stepped if t["updated"] else params
        l2, j2, i2 = where[t["weight"]]
        close(t["weight_value"], src[l2].w[j2, i2])


@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
def test_worked_example_every_number_against_jax_grad_and_train(ex64, update):
  r = jbp.explain(ex64.params, ex64.inputs, ex64.targets, learning_rate=0.5, update=update)
  rec = json.loads(jbp.render_json(r))
  check_record(rec, ex64.params, ex64.inputs, ex64.targets, update=update)
  assert rec["names"]["weights"] == [[["w1", "w2"], ["w3", "w4"]], [["w5", "w6"], ["w7", "w8"]]]
  assert [w["name"] for w in rec["weights"]] == ["w5", "w6", "w7", "w8", "w1", "w2", "w3", "w4"]


# The worked example's derivation as published, digit for digit (the published text
# rounds to 8 or 9 decimals; these are jbp's 9-decimal values of the same quantities).
PUBLISHED_STEP = ["net_h1 = ", "0.377500000", "out_h1 = ", "0.593269992", "0.596884378", "1.105905967",
                  "0.751365070", "0.772928465", "E_o1 = ", "0.274811083", "0.023560026",
                  "E_total = E_o1 + E_o2", "0.298371109", "dE_total/dout_o1 = ", "0.741365070",
                  "dout_o1/dnet_o1 = ", "0.186815602", "dE_total/dw5 = ", "0.082167041", "w5+ = ",
                  "0.358916480", "0.408666186", "0.511301270", "0.561370121", "0.036350306", "0.241300709",
                  "dE_total/dw1 = ", "0.000438568", "0.149780716", "0.199561432", "0.249751144",
                  "0.299502287", "b1 stays fixed"]


def test_text_shows_the_published_derivation_to_9_decimals(ex64):
  text = jbp.render_text(jbp.explain(ex64.params, ex64.inputs, ex64.targets, learning_rate=0.5))
  for s in PUBLISHED_STEP:
    assert s in text, s
  assert "E_total = 0.291027774" in text
  decimals = {len(m) for m in re.findall(r"\d+\.(\d+)", text.split("\n", 2)[2])}
  assert decimals == {9}
  seq = jbp.render_text(jbp.explain(ex64.params, ex64.inputs, ex64.targets, learning_rate=0.5,
                                    update="sequential"))
  assert "E_total = 0.291027924" in seq  # the published figure after one update
  assert "dE_total/dout_h1 = delta_o1 * w5+ + delta_o2 * w7+" in seq
  assert "uses the updated weights" not in text and "use the updated weights" in seq
  # In the sequential order the output layer's update comes before the hidden layer's deltas.
  assert seq.index("w5+ = w5 - eta") < seq.index("dE_total/dout_h1")


@pytest.mark.parametrize("sizes, batch, shared, activation, trainable, update", [
    ((3, 4, 2), 3, False, "tanh", "all", "sequential"),
    ((3, 4, 2), 3, False, "tanh", "all", "simultaneous"),
    ((2, 3, 3, 2), None, True, "sigmoid", "weights", "sequential"),
    ((1, 2, 2, 2, 1), 2, True, "sigmoid", "all", "sequential"),
])
def test_other_networks_and_batches(x64, sizes, batch, shared, activation, trainable, update):
  # NumPy's generator: drawing with jax.random compiles a program for every new shape.
  rng = np.random.default_rng(len(sizes) + sizes[0])
  params = tuple(jbp.Layer(jnp.asarray(rng.normal(size=(m, n))),
                           jnp.asarray(rng.normal(size=() if shared else (m,)) * 0.5))
                 for n, m in zip(sizes[:-1], sizes[1:]))
  x = jnp.asarray(rng.normal(size=(sizes[0],) if batch is None else (batch, sizes[0])))
  y = jnp.asarray(rng.uniform(size=(sizes[-1],) if batch is None else (batch, sizes[-1])))
  r = jbp.explain(params, x, y, learning_rate=0.3, update=update, activation=activation, trainable=trainable)
  assert r.examples == (batch or 1)
  check_record(json.loads(jbp.render_json(r)), params, x, y, update=update, activation=activation,
               trainable=trainable, lr=0.3)
  text = jbp.render_text(r)
  assert "x1" in text and "h1_1" in text and "y1" in text and "w1_11" in text
  if batch:
    assert "[2] net_h1_1 = " in text and "sum over examples" in text
  for block in math_blocks(jbp.render_markdown(r)):
    assert block.count("{") == block.count("}"), block


def math_blocks(md):
  lines = md.splitlines()
  assert lines.count("$$") % 2 == 0
  blocks, inside, cur = [], False, []
  for line in lines:
    if line == "$$":
      if inside:
        blocks.append("\n".join(cur))
        cur = []
      inside = not inside
    elif inside:
      cur.append(line)
    else:
      assert line.count("$") % 2 == 0, line  # inline math balanced
  assert not inside
  return blocks


@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
def test_markdown_is_balanced_latex(ex64, update):
  md = jbp.render_markdown(jbp.explain(ex64.params, ex64.inputs, ex64.targets, learning_rate=0.5,
                                       update=update))
  blocks = math_blocks(md)
  assert len(blocks) >= 5
  for b in blocks:
    assert b.count("{") == b.count("}"), b
    assert b.count(r"\begin{aligned}") == b.count(r"\end{aligned}") == 1
    assert b.count(r"\left(") == b.count(r"\right)")
  assert r"\frac{\partial E_{\mathrm{total}}}{\partial w_{5}}" in md
  assert "0.082167041" in md and md.startswith("# ")
  if update == "sequential":
    assert "w_{5}^{+}" in md


def test_float32_record(ex64):
  ex = jbp.worked_example(jnp.float32)
  r = jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5)
  assert r.dtype == "float32"
  assert abs(r.weights[0].grad - 0.082167041) < 1e-6  # float32 rounding of a ~0.1 quantity


@pytest.mark.parametrize("kw, match", [
    (dict(sizes=(2, 17, 2)),
     r"params: explain .* at most 4 layers of at most 16 neurons; got sizes \(2, 17, 2"),
    (dict(sizes=(2, 2, 2, 2, 2, 2)), r"params: explain .* got sizes \(2, 2, 2, 2, 2, 2\)"),
    (dict(batch=17), r"x: explain .* at most 16 examples; got 17"),
    (dict(sizes=(2, 3, 2), names="worked"), r"names: 'worked' needs the worked example's shape"),
    (dict(names="greek"), r"names: expected one of \['worked', 'systematic'\], got 'greek'"),
    (dict(update="random"), r"update: expected one of"),
    (dict(learning_rate=-1.0), r"learning_rate: expected a positive finite number, got -1.0"),
    (dict(x_shape=(3,)), r"x: expected shape \(2,\)"),
])
def test_explain_rejects(kw, match):
  sizes = kw.pop("sizes", (2, 2, 2))
  batch = kw.pop("batch", None)
  # NumPy arrays: the checks run before anything is computed.
  params = tuple(jbp.Layer(np.ones((m, n), np.float32), np.float32(0)) for n, m in zip(sizes[:-1], sizes[1:]))
  xs = kw.pop("x_shape", (sizes[0],) if batch is None else (batch, sizes[0]))
  x = np.ones(xs, np.float32)
  y = np.ones((sizes[-1],) if batch is None else (batch, sizes[-1]), np.float32)
  kw.setdefault("learning_rate", 0.5)
  with pytest.raises(ValueError, match=match):
    jbp.explain(params, x, y, **kw)


@pytest.mark.parametrize("render", [jbp.render_text, jbp.render_markdown, jbp.render_json])
def test_renderers_reject_what_is_not_a_record(render):
  ex = jbp.worked_example()
  record = jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5)
  with pytest.raises(TypeError, match=r"record: expected a jbp.Explanation \(what jbp.explain returns\), "
                                      r"got dict"):
    render(record._asdict())
