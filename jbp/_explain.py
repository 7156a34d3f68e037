"""One training step, shown in full: every number the delta rule computes, by name.

:func:`explain` runs one step of gradient descent through the same code that
:func:`jbp.backprop` and :func:`jbp.train` use (``trace`` for the forward pass,
``delta_rule`` for the backward pass and, in the sequential order, for the
update), and returns every intermediate value as a named record. The renderers of
:mod:`jbp._show` turn that record into text for a terminal (:func:`jbp.render_text`),
Markdown with LaTeX math (:func:`jbp.render_markdown`), JSON (:func:`jbp.render_json`),
a diagram (:func:`jbp.render_svg`) and a page (:func:`jbp.render_html`). The printed
numbers are the computed ones, so they cannot drift from what trains.

For a batch, the per-example terms are shown for each example and summed: the
loss is ``E_total = sum over examples and outputs of 1/2 (target - out)**2``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jbp import _checks
from jbp._activation import ActivationLike, resolve_activation
from jbp._backprop import delta_rule
from jbp._network import Layer, network_loss, trace
from jbp._optimizer import sgd_update
from jbp._options import UPDATES, trainable_mask
from jbp._show.names import MAX_EXAMPLES, Names, check_showable, names_for

__all__ = ["Explanation", "explain"]

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
    from jbp._show.html import notebook_frame
    from jbp._show.stepping import render_html

    return notebook_frame(render_html(self))


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
    E, grads, new = delta_rule(params, x2, y2, act, "sum", step=sgd)
  else:
    E, grads, _ = delta_rule(params, x2, y2, act, "sum")
    new = sgd_update(params, grads, lr, mask)
  E_after = network_loss(new, x2, y2, act, "sum")

  # Each example's deltas, from the same delta rule: with one bias a neuron and one
  # example, dE/db is the delta itself. In the sequential order the hidden deltas
  # flow through the layers updated with the whole batch's gradient, as above.
  per_neuron_b = tuple(Layer(p.w, jnp.broadcast_to(p.b, p.w.shape[:1])) for p in params)
  use_new = (lambda l, layer, grad: new[l]) if update == "sequential" else None

  def example_deltas(xe, ye):
    _, g, _ = delta_rule(per_neuron_b, xe, ye, act, "sum", step=use_new)
    return tuple(gl.b for gl in g)

  deltas = jax.vmap(example_deltas)(x2, y2)
  layers = trace(params, x2, act)
  return (E, grads, new, E_after, deltas, tuple(t[0] for t in layers), tuple(t[1] for t in layers),
          tuple(act.derivative(*t) for t in layers))


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
  check_showable(sizes, "params", "explain prints every quantity")
  if batch is not None and batch > MAX_EXAMPLES:
    raise ValueError(f"x: explain prints every example's terms, so it takes at most {MAX_EXAMPLES} "
                     f"examples; got {batch}")
  shared = tuple(jnp.ndim(p.b) == 0 for p in params)
  nm = names_for(sizes, shared, names)

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
