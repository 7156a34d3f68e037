"""One training step, shown in full: every number the delta rule computes, by name.

:func:`explain` runs one step of gradient descent through the same code that
:func:`jbp.backprop` and :func:`jbp.train` use (``_trace`` for the forward pass,
``_delta_rule`` for the backward pass and, in the sequential order, for the
update), and returns every intermediate value as a named record. The renderers
turn that record into text for a terminal (:func:`render_text`), Markdown with
LaTeX math (:func:`render_markdown`) and JSON (:func:`render_json`). The printed
numbers are the computed ones, so they cannot drift from what trains.

For a batch, the per-example terms are shown for each example and summed: the
loss is ``E_total = sum over examples and outputs of 1/2 (target - out)**2``.
"""

from __future__ import annotations

import functools
import json
import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jbp import _checks
from jbp._activation import ActivationLike, resolve_activation
from jbp._backprop import _delta_rule
from jbp._network import Layer, _loss, _trace
from jbp._optimizer import sgd_update
from jbp._options import UPDATES, trainable_mask

__all__ = ["Explanation", "explain", "render_text", "render_markdown", "render_json", "MAX_LAYERS",
           "MAX_NEURONS", "MAX_EXAMPLES"]

MAX_LAYERS = 4
MAX_NEURONS = 16
MAX_EXAMPLES = 16
NAMINGS = ("worked", "systematic")


class Names(NamedTuple):
  """The names a derivation uses.

  Attributes:
    inputs: the input neurons, e.g. ``("i1", "i2")``.
    neurons: one tuple a layer (input side first) of its neurons, e.g. ``(("h1", "h2"), ("o1", "o2"))``.
    weights: ``weights[l][j][i]`` names ``params[l].w[j, i]``, e.g. ``"w5"`` for ``params[1].w[0, 0]``.
    biases: one tuple a layer: one name for a shared (scalar) bias, else one a neuron.
  """

  inputs: tuple
  neurons: tuple
  weights: tuple
  biases: tuple


class Forward(NamedTuple):
  """A neuron's forward pass: ``net = sum_i w_i * in_i + b``, ``out = f(net)``.

  ``net`` and ``out`` hold one value per example.
  """

  neuron: str
  layer: int
  weights: tuple
  inputs: tuple
  bias: str
  net: tuple
  out: tuple


class OutputError(NamedTuple):
  """One output's error ``E = 1/2 (target - out)**2``, one value per example."""

  neuron: str
  target: tuple
  out: tuple
  error: tuple


class DeltaTerm(NamedTuple):
  """How a neuron of the next layer contributes to a hidden neuron's ``dE/dout``.

  ``product = delta * weight_value``, one value per example. ``updated`` is True
  when the weight used is the one already updated in this step (the sequential order).
  """

  via: str
  weight: str
  weight_value: float
  updated: bool
  delta: tuple
  product: tuple


class Delta(NamedTuple):
  """A neuron's delta ``dE/dnet = dE/dout * dout/dnet``, one value per example.

  For an output neuron ``dE/dout = out - target``; for a hidden neuron it sums
  ``terms`` over the neurons of the next layer.
  """

  neuron: str
  layer: int
  dE_dout: tuple
  terms: tuple
  dout_dnet: tuple
  delta: tuple


class WeightStep(NamedTuple):
  """One weight: its chain rule, summed over examples, and its update.

  ``product[e] = dE_dout[e] * dout_dnet[e] * dnet_dw[e]`` for example ``e``;
  ``grad`` is their sum; ``updated = value - learning_rate * grad``.
  """

  name: str
  layer: int
  neuron: str
  source: str
  value: float
  dE_dout: tuple
  dout_dnet: tuple
  dnet_dw: tuple
  product: tuple
  grad: float
  trainable: bool
  updated: float


class BiasStep(NamedTuple):
  """One bias: ``dE/db`` sums the deltas of the neurons it feeds (over examples too)."""

  name: str
  layer: int
  neurons: tuple
  value: float
  grad: float
  trainable: bool
  updated: float


class Explanation(NamedTuple):
  """Every quantity of one training step, as :func:`explain` returns it.

  Attributes:
    sizes: layer sizes, e.g. ``(2, 2, 2)``.
    activation: the activation's name.
    update: ``"simultaneous"`` or ``"sequential"``.
    learning_rate: the step size.
    dtype: the dtype of the computation, e.g. ``"float64"``.
    examples: the number of examples (1 for a single example).
    names: the :class:`Names` used.
    inputs: one ``(name, values)`` pair an input, values one per example.
    forward: a :class:`Forward` per neuron, input side first.
    errors: an :class:`OutputError` per output neuron.
    E_total: the total error before the step.
    deltas: a :class:`Delta` per neuron, output layer first (the order of the backward pass).
    weights: a :class:`WeightStep` per weight, output layer first.
    biases: a :class:`BiasStep` per bias, output layer first.
    E_after: the total error after the step.

  Every number is a Python ``float`` (or a tuple of them, one an example), so
  the record needs no JAX to read, print or save.

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> r = jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5, update="sequential")
  >>> r.sizes, r.dtype, [f.neuron for f in r.forward], round(r.E_after, 6)
  ((2, 2, 2), 'float32', ['h1', 'h2', 'o1', 'o2'], 0.291028)
  """

  sizes: tuple
  activation: str
  update: str
  learning_rate: float
  dtype: str
  examples: int
  names: Names
  inputs: tuple
  forward: tuple
  errors: tuple
  E_total: float
  deltas: tuple
  weights: tuple
  biases: tuple
  E_after: float

  def _repr_html_(self):
    """A notebook shows the record as the page of :func:`jbp.render_html`, stepping through the derivation."""
    from jbp._page import notebook_frame, render_html  # the page module imports this one

    return notebook_frame(render_html(self))


def _names(sizes, shared, naming) -> Names:
  L = len(sizes) - 1
  if naming == "worked":
    return Names(("i1", "i2"), (("h1", "h2"), ("o1", "o2")),
                 ((("w1", "w2"), ("w3", "w4")), (("w5", "w6"), ("w7", "w8"))), (("b1",), ("b2",)))
  inputs = tuple(f"x{i + 1}" for i in range(sizes[0]))
  neurons = []
  for l in range(1, L + 1):
    neurons.append(tuple(f"y{j + 1}" if l == L else f"h{l}_{j + 1}" for j in range(sizes[l])))
  sep = "_" if max(sizes) > 9 else ""  # w2_11_1, not w2_111 (which could be w2_1_11)
  weights = tuple(tuple(tuple(f"w{l + 1}_{j + 1}{sep}{i + 1}" for i in range(sizes[l]))
                        for j in range(sizes[l + 1])) for l in range(L))
  biases = tuple((f"b{l + 1}",) if shared[l] else tuple(f"b{l + 1}_{j + 1}" for j in range(sizes[l + 1]))
                 for l in range(L))
  return Names(inputs, tuple(neurons), weights, biases)


def check_explainable(sizes):
  """Raises ValueError for a network too large to print (over MAX_LAYERS layers or MAX_NEURONS a layer)."""
  if len(sizes) - 1 > MAX_LAYERS or max(sizes) > MAX_NEURONS:
    raise ValueError(f"params: explain prints every quantity, so it takes networks of at most {MAX_LAYERS} "
                     f"layers of at most {MAX_NEURONS} neurons; got sizes {tuple(sizes)}")


def check_concrete(params, x, y, learning_rate):
  """Raises TypeError for a traced argument: explain reads every number on the host, and a tracer has none.

  Under ``jax.jit``, ``jax.vmap`` or ``jax.grad`` the arguments are tracers;
  this says so before anything reads them.
  """
  leaves = [((i, part), leaf) for i, layer in enumerate(params) for part, leaf in zip("wb", layer)]
  for name, value in leaves + [("x", x), ("y", y), ("learning_rate", learning_rate)]:
    if not _checks.is_concrete(value):
      name = name if isinstance(name, str) else f"params[{name[0]}].{name[1]}"
      raise TypeError(f"{name}: expected a concrete value, got a traced value of shape {tuple(value.shape)} "
                      f"({value.dtype}): explain runs eagerly and reads every number, so call it outside "
                      f"jax.jit, jax.vmap and jax.grad")


def _floats(a):
  return tuple(float(v) for v in np.asarray(a, dtype=np.float64).ravel())


@functools.partial(jax.jit, static_argnames=("act", "update", "mask"))
def _step(params, x2, y2, lr, *, act, update, mask):
  """One step and all its pieces, as one compiled program.

  Returns ``(E, grads, new_params, E_after, deltas, nets, outs, dout_dnets)``;
  ``deltas[l]``, ``nets[l]``... have shape ``(examples, n_l)``.
  """

  def sgd(l, layer, grad):  # the update of jbp.train's sequential order, one layer
    return sgd_update((layer,), (grad,), lr, mask[l:l + 1])[0]

  # The step itself, on the whole batch: loss, gradients and new params.
  if update == "sequential":
    E, grads, new = _delta_rule(params, x2, y2, act, "sum", step=sgd)
  else:
    E, grads, _ = _delta_rule(params, x2, y2, act, "sum")
    new = sgd_update(params, grads, lr, mask)
  E_after = _loss(new, x2, y2, act, "sum")

  # Each example's deltas, from the same delta rule: with one bias a neuron and one
  # example, dE/db is the delta itself. In the sequential order the hidden deltas
  # flow through the layers updated with the whole batch's gradient, as above.
  per_neuron_b = tuple(Layer(p.w, jnp.broadcast_to(p.b, p.w.shape[:1])) for p in params)
  use_new = (lambda l, layer, grad: new[l]) if update == "sequential" else None

  def example_deltas(xe, ye):
    _, g, _ = _delta_rule(per_neuron_b, xe, ye, act, "sum", step=use_new)
    return tuple(gl.b for gl in g)

  deltas = jax.vmap(example_deltas)(x2, y2)
  trace = _trace(params, x2, act)
  return (E, grads, new, E_after, deltas, tuple(t[0] for t in trace), tuple(t[1] for t in trace),
          tuple(act.derivative(*t) for t in trace))


def explain(params: tuple[Layer, ...], x: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *,
            learning_rate: float, update: str = "simultaneous", activation: ActivationLike = "sigmoid",
            names: str | None = None, trainable: str | tuple[Layer, ...] = "weights") -> Explanation:
  """Every intermediate value of one step of gradient descent on ``E_total``.

  The numbers come from the code that trains: the forward pass of
  :func:`jbp.forward` and the delta rule of :func:`jbp.backprop` (which, in the
  sequential order, also applies the update, exactly as :func:`jbp.train` does).

  Args:
    params: a tuple (or list) of :class:`jbp.Layer`, at most 4 layers of at most
      16 neurons, finite values.
    x: shape ``(n_in,)`` or ``(batch, n_in)``, at most 16 examples.
    y: shape ``(n_out,)`` or ``(batch, n_out)``.
    learning_rate: a positive number (a Python ``float`` or a 0-d array).
    update: ``"simultaneous"`` or ``"sequential"`` (output layer updated first,
      and the hidden deltas flow through the updated weights).
    activation: as in :func:`jbp.forward`.
    names: ``None`` (the worked example's names i1, h1, o1, w1..w8, b1, b2 for a
      2-2-2 network with shared biases, else systematic ones), ``"worked"`` or
      ``"systematic"`` (``x1``.., ``h{layer}_{j}``, ``y1``.., ``w{layer}_{j}{i}``,
      ``b{layer}``).
    trainable: as in :func:`jbp.train`: ``"weights"`` (biases stay fixed) or ``"all"``.

  Returns:
    an :class:`Explanation`: every value of the step, computed in the params' dtype.

  Raises:
    ValueError: a network or batch too large to print, shapes of ``x`` or ``y``
      that do not fit the network, NaN or an infinity in ``params``, ``x`` or
      ``y``, a learning rate that is not a positive number finite in the params'
      dtype, an unknown ``update``, ``activation``, ``names`` or ``trainable``, or
      ``names="worked"`` for another network than the worked example's shape.
    TypeError: ``params`` not a tuple of :class:`jbp.Layer` of floating arrays,
      ``x``, ``y`` or ``learning_rate`` not numbers, or any of them traced
      (explain runs eagerly: call it outside ``jax.jit``, ``jax.vmap`` and ``jax.grad``).

  >>> import jbp
  >>> ex = jbp.worked_example()
  >>> r = jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5)
  >>> [w.name for w in r.weights][:2], round(r.weights[0].grad, 6)
  (['w5', 'w6'], 0.082167)
  """
  sizes = _checks.check_params(params)
  params = tuple(params)  # a list of layers too
  check_concrete(params, x, y, learning_rate)
  batch = _checks.check_data(x, y, sizes)
  _checks.check_choice("update", update, UPDATES)
  dtype = jnp.result_type(params[0].w)
  _checks.check_learning_rate(learning_rate, dtype=dtype)
  act = resolve_activation(activation)
  mask = trainable_mask(params, trainable)
  check_explainable(sizes)
  if batch is not None and batch > MAX_EXAMPLES:
    raise ValueError(f"x: explain prints every example's terms, so it takes at most {MAX_EXAMPLES} "
                     f"examples; got {batch}")
  shared = tuple(jnp.ndim(p.b) == 0 for p in params)
  if names is None:
    names = "worked" if sizes == (2, 2, 2) and all(shared) else "systematic"
  _checks.check_choice("names", names, NAMINGS)
  if names == "worked" and not (sizes == (2, 2, 2) and all(shared)):
    raise ValueError(f"names: 'worked' needs the worked example's shape, sizes (2, 2, 2) with one bias a "
                     f"layer; got sizes {sizes}")
  nm = _names(sizes, shared, names)

  x2 = jnp.atleast_2d(jnp.asarray(x, dtype))
  y2 = jnp.atleast_2d(jnp.asarray(y, dtype))
  lr = jnp.asarray(learning_rate, dtype)
  n_ex, L = x2.shape[0], len(params)
  E, grads, new, E_after, deltas, net, out, dout_dnet = jax.device_get(
      _step(params, x2, y2, lr, act=act, update=update, mask=mask))
  a_in = [np.asarray(x2)] + list(out[:-1])
  src_names = [nm.inputs] + [nm.neurons[l] for l in range(L - 1)]

  inputs = tuple((nm.inputs[i], _floats(a_in[0][:, i])) for i in range(sizes[0]))
  forward = []
  for l in range(L):
    for j in range(sizes[l + 1]):
      bias = nm.biases[l][0 if shared[l] else j]
      forward.append(Forward(nm.neurons[l][j], l + 1, nm.weights[l][j], src_names[l], bias,
                             _floats(net[l][:, j]), _floats(out[l][:, j])))
  yv = np.asarray(y2)
  errors = tuple(OutputError(nm.neurons[-1][k], _floats(yv[:, k]), _floats(out[-1][:, k]),
                             _floats(0.5 * (yv[:, k] - out[-1][:, k]) ** 2)) for k in range(sizes[-1]))

  dE_dout: list = [None] * L
  dE_dout[L - 1] = out[-1] - yv  # dE/dout of each output, as the delta rule computes it
  delta_recs, weight_recs, bias_recs = [], [], []
  for l in range(L - 1, -1, -1):
    terms_by_neuron = [()] * sizes[l + 1]
    if l < L - 1:
      w_used = np.asarray((new if update == "sequential" else params)[l + 1].w)
      updated = update == "sequential" and mask[l + 1][0]
      dE_dout[l] = deltas[l + 1] @ w_used
      terms_by_neuron = [tuple(
          DeltaTerm(nm.neurons[l + 1][k], nm.weights[l + 1][k][j], float(w_used[k, j]), updated,
                    _floats(deltas[l + 1][:, k]), _floats(deltas[l + 1][:, k] * w_used[k, j]))
          for k in range(sizes[l + 2])) for j in range(sizes[l + 1])]
    for j in range(sizes[l + 1]):
      delta_recs.append(Delta(nm.neurons[l][j], l + 1, _floats(dE_dout[l][:, j]), terms_by_neuron[j],
                              _floats(dout_dnet[l][:, j]), _floats(deltas[l][:, j])))
    w0, w1, gw = np.asarray(params[l].w), np.asarray(new[l].w), np.asarray(grads[l].w)
    for j in range(sizes[l + 1]):
      for i in range(sizes[l]):
        weight_recs.append(WeightStep(
            nm.weights[l][j][i], l + 1, nm.neurons[l][j], src_names[l][i], float(w0[j, i]),
            _floats(dE_dout[l][:, j]), _floats(dout_dnet[l][:, j]), _floats(a_in[l][:, i]),
            _floats(deltas[l][:, j] * a_in[l][:, i]), float(gw[j, i]), mask[l][0], float(w1[j, i])))
    b0, b1, gb = (np.atleast_1d(np.asarray(v)) for v in (params[l].b, new[l].b, grads[l].b))
    for k, bname in enumerate(nm.biases[l]):
      fed = nm.neurons[l] if shared[l] else (nm.neurons[l][k],)
      bias_recs.append(BiasStep(bname, l + 1, fed, float(b0[k]), float(gb[k]), mask[l][1], float(b1[k])))

  return Explanation(sizes, act.name, update, float(learning_rate), jnp.dtype(dtype).name, n_ex, nm,
                     inputs, tuple(forward), errors, float(E), tuple(delta_recs), tuple(weight_recs),
                     tuple(bias_recs), float(E_after))


# ---------------------------------------------------------------------------------------------------------
# Rendering. One routine lays the derivation out as sections of equations and notes; the text and
# Markdown renderers differ only in how a symbol or a number is written.


def _num(v: float) -> str:
  return f"{v:.9f}"


class _Text:
  """Symbols for a terminal."""

  times = " * "

  def name(self, s):
    return s

  def net(self, n):
    return f"net_{n}"

  def out(self, n):
    return f"out_{n}"

  def target(self, n):
    return f"target_{n}"

  def E(self, n):
    return f"E_{n}"

  Etot = "E_total"
  eta = "eta"

  def d(self, num, den):
    return f"d{num}/d{den}"

  def delta(self, n):
    return f"delta_{n}"

  def plus(self, s):
    return s + "+"

  def half_sq(self, a):
    return f"1/2 ({a})^2"

  def num(self, v, paren=False):
    s = _num(v)
    return f"({s})" if paren and s.startswith("-") else s

  def example(self, e):
    return f"[{e}] "

  def fn(self, act, arg):
    return {"sigmoid": f"1/(1 + e^-{arg})", "tanh": f"tanh({arg})", "relu": f"max(0, {arg})",
            "identity": arg}.get(act, f"{act}({arg})")

  def deriv(self, act, n):
    o = self.out(n)
    return {"sigmoid": f"{o} (1 - {o})", "tanh": f"1 - {o}^2", "relu": f"[{self.net(n)} > 0]",
            "identity": "1"}.get(act, f"{act}'({self.net(n)})")

  def sum_over(self, body):
    return f"sum over examples of {body}"

  def inline(self, math):
    """Symbols inside a sentence (a note or a title)."""
    return math


_NAME = re.compile(r"^([A-Za-z]+)(\d+)(?:_(\d+))?$")


class _Latex(_Text):
  """Symbols for LaTeX math."""

  times = r" \cdot "
  Etot = r"E_{\mathrm{total}}"
  eta = r"\eta"

  def name(self, s):
    m = _NAME.match(s)
    if not m:
      return rf"\mathrm{{{s}}}"
    letters, a, b = m.groups()
    return f"{letters}_{{{a}}}" if b is None else f"{letters}_{{{a},{b}}}"

  def net(self, n):
    return rf"\mathrm{{net}}_{{{self.name(n)}}}"

  def out(self, n):
    return rf"\mathrm{{out}}_{{{self.name(n)}}}"

  def target(self, n):
    return rf"\mathrm{{target}}_{{{self.name(n)}}}"

  def E(self, n):
    return f"E_{{{self.name(n)}}}"

  def d(self, num, den):
    return rf"\frac{{\partial {num}}}{{\partial {den}}}"

  def delta(self, n):
    return rf"\delta_{{{self.name(n)}}}"

  def plus(self, s):
    return f"{s}^{{+}}"

  def half_sq(self, a):
    return rf"\tfrac{{1}}{{2}}\left({a}\right)^2"

  def example(self, e):
    return rf"[{e}]\quad "

  def fn(self, act, arg):
    return {"sigmoid": rf"\frac{{1}}{{1 + e^{{-{arg}}}}}", "tanh": rf"\tanh({arg})",
            "relu": rf"\max(0, {arg})", "identity": arg}.get(act, rf"\mathrm{{{act}}}({arg})")

  def deriv(self, act, n):
    o = self.out(n)
    return {"sigmoid": rf"{o}\,(1 - {o})", "tanh": f"1 - {o}^2", "relu": rf"[{self.net(n)} > 0]",
            "identity": "1"}.get(act, rf"\mathrm{{{act}}}'({self.net(n)})")

  def sum_over(self, body):
    return rf"\sum_{{\text{{examples}}}} {body}"

  def inline(self, math):
    return f"${math}$"


class _Eq(NamedTuple):
  parts: tuple  # lhs, then each right-hand side of a chain of equalities
  stage: tuple | None = None  # (kind, name): what the equation is about, e.g. ("grad", "w5")


class _Note(NamedTuple):
  text: str
  stage: tuple | None = None


# The stages of a step, in the order the derivation meets them; an item's ``stage`` is ``(kind, name)``
# with ``name`` a neuron (forward, delta), a weight or bias (grad, update), or None.
STAGE_KINDS = ("inputs", "forward", "error", "delta", "grad", "update", "after")


def _sum_chain(s, vals):
  return " + ".join(s.num(v, paren=i > 0) for i, v in enumerate(vals))


def _layout(r: Explanation, s) -> list:
  """The derivation as ``[(title, [_Eq | _Note, ...]), ...]`` in symbols ``s``.

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
      items.append(_Note(f"Example {e + 1}: inputs {s.inline(ins)}", ("inputs", None)))
    else:
      for name, v in r.inputs:
        items.append(_Eq((s.name(name), s.num(v[0])), ("inputs", None)))
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
      items.append(_Eq((lab(e) + s.net(f.neuron), sym, vals, s.num(f.net[e])), at))
      items.append(_Eq((lab(e) + s.out(f.neuron), s.fn(r.activation, s.net(f.neuron)), s.num(f.out[e])), at))
      srcv[f.neuron] = f.out
  sections.append(("Forward pass", items))

  # Error.
  items = []
  for e in exs:
    for o in r.errors:
      items.append(_Eq((lab(e) + s.E(o.neuron), s.half_sq(f"{s.target(o.neuron)} - {s.out(o.neuron)}"),
                        s.half_sq(f"{s.num(o.target[e])} - {s.num(o.out[e])}"), s.num(o.error[e])),
                       ("error", None)))
  every = [o.error[e] for e in exs for o in r.errors]
  names = " + ".join(s.E(o.neuron) for o in r.errors)
  if n_ex > 1:
    names = s.sum_over(f"({names})")
  items.append(_Eq((s.Etot, names, _sum_chain(s, every), s.num(r.E_total)), ("error", None)))
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
          items.append(_Eq((lab(e) + s.d(s.Etot, s.out(n)), f"-({s.target(n)} - {s.out(n)})",
                            f"-({s.num(o.target[e])} - {s.num(o.out[e])})", s.num(d.dE_dout[e])), at))
        else:
          wsym = [s.plus(s.name(t.weight)) if t.updated else s.name(t.weight) for t in d.terms]
          sym = " + ".join(f"{s.delta(t.via)}{s.times}{w}" for t, w in zip(d.terms, wsym))
          vals = " + ".join(f"{s.num(t.delta[e], True)}{s.times}{s.num(t.weight_value, True)}"
                            for t in d.terms)
          items.append(_Eq((lab(e) + s.d(s.Etot, s.out(n)), sym, vals, s.num(d.dE_dout[e])), at))
        items.append(_Eq((lab(e) + s.d(s.out(n), s.net(n)), s.deriv(r.activation, n), s.num(d.dout_dnet[e])),
                         at))
        items.append(_Eq((lab(e) + s.delta(n), f"{s.d(s.Etot, s.out(n))}{s.times}{s.d(s.out(n), s.net(n))}",
                          f"{s.num(d.dE_dout[e], True)}{s.times}{s.num(d.dout_dnet[e], True)}",
                          s.num(d.delta[e])), at))
      if d.terms and any(t.updated for t in d.terms) and d is layer_deltas[0]:
        used = ", ".join(s.plus(s.name(t.weight)) for dd in layer_deltas for t in dd.terms)
        note = (f"Sequential order: these sums use the updated weights {s.inline(used)}, since the layer "
                "above was updated first.")
        items.insert(0, _Note(note, at))
    for w in (w for w in r.weights if w.layer == l):
      n, src, at = w.neuron, w.source, ("grad", w.name)
      chain = s.times.join([s.d(s.Etot, s.out(n)), s.d(s.out(n), s.net(n)), s.d(s.net(n), s.name(w.name))])
      if n_ex > 1:
        items.append(_Eq((s.d(s.Etot, s.name(w.name)), s.sum_over(chain)), at))
        for e in exs:
          factors = (w.dE_dout[e], w.dout_dnet[e], w.dnet_dw[e])
          items.append(_Eq((lab(e).rstrip(), s.times.join(s.num(v, True) for v in factors),
                            s.num(w.product[e])), at))
        items.append(_Eq((s.d(s.Etot, s.name(w.name)), _sum_chain(s, w.product), s.num(w.grad)), at))
      else:
        dnet = s.name(src) if l == 1 else s.out(src)
        items.append(_Eq((s.d(s.Etot, s.name(w.name)), chain, f"{s.delta(n)}{s.times}{dnet}",
                          s.times.join(s.num(v, True) for v in (w.dE_dout[0], w.dout_dnet[0], w.dnet_dw[0])),
                          s.num(w.grad)), at))
    for b in (b for b in r.biases if b.layer == l and b.trainable):
      sym = " + ".join(s.delta(n) for n in b.neurons)
      if n_ex > 1:
        sym = s.sum_over(f"({sym})")
      items.append(_Eq((s.d(s.Etot, s.name(b.name)), sym, s.num(b.grad)), ("grad", b.name)))
    if updates_now:
      items += _updates(r, s, l)
    kind = "output layer" if l == L else f"hidden layer {l}"
    sections.append((f"Backward pass: {kind} ({s.inline(', '.join(s.name(d.neuron) for d in layer_deltas))})",
                     items))

  if not updates_now:
    items = []
    for l in range(L, 0, -1):
      items += _updates(r, s, l)
    note = _Note("Simultaneous order: every gradient above was taken at the weights before the step; "
                 "now all of them update at once.", items[0].stage if items else ("update", None))
    sections.append(("Update", [note] + items))
  items = [_Eq((s.Etot, s.num(r.E_after)), ("after", None))]
  sections.append(("After the step", items))
  return sections


def _updates(r, s, l):
  items, fixed = [], []
  for p in [w for w in r.weights if w.layer == l] + [b for b in r.biases if b.layer == l]:
    if not p.trainable:
      fixed.append(s.name(p.name))
      continue
    n = s.name(p.name)
    items.append(_Eq((s.plus(n), f"{n} - {s.eta}{s.times}{s.d(s.Etot, n)}",
                      f"{s.num(p.value)} - {s.num(r.learning_rate)}{s.times}{s.num(p.grad, True)}",
                      s.num(p.updated)), ("update", p.name)))
  if fixed:
    verb = "stays" if len(fixed) == 1 else "stay"
    # The note goes with the layer's last update (or stands alone when nothing in the layer trains).
    items.append(_Note(f"{s.inline(', '.join(fixed))} {verb} fixed (only the weights train).",
                       items[-1].stage if items else ("update", None)))
  return items


def _header(r: Explanation) -> list[str]:
  order = ("simultaneous: every gradient taken at the weights before the step" if r.update == "simultaneous"
           else "sequential: each layer updated as soon as its gradient is known, output layer first")
  ex = "one example" if r.examples == 1 else f"a batch of {r.examples} examples (per-example terms summed)"
  return [f"One training step of a {'-'.join(map(str, r.sizes))} {r.activation} network on {ex}, {r.dtype}.",
          f"Learning rate {r.learning_rate:g}; update order {order}."]


def _check_record(record):
  if not isinstance(record, Explanation):
    raise TypeError(f"record: expected a jbp.Explanation from jbp.explain(...), got {type(record).__name__}")


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
  _check_record(record)
  lines = _header(record)
  for title, items in _layout(record, _Text()):
    lines += ["", f"== {title} =="]
    for it in items:
      lines.append(it.text if isinstance(it, _Note) else " = ".join(it.parts))
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
  _check_record(record)
  lines = ["# One training step, every number", ""] + [" ".join(_header(record)), ""]
  for title, items in _layout(record, _Latex()):
    lines += [f"## {title}", ""]
    block = []
    for it in items + [_Note("")]:
      if isinstance(it, _Note):
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
  _check_record(record)
  return json.dumps(_plain(record), indent=indent)
