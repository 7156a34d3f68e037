"""The plain-SGD training step, written so that XLA compiles it into few kernels.

On a CPU, a step of a small network costs little arithmetic; what it costs is the
number of separate kernels XLA launches for it (about 10 ns each) and the loop's
own overhead. :func:`jbp.backprop` writes the delta rule with matrix products and
reductions, and each of those ends a fused kernel: its step is about a dozen
kernels. This module writes the same delta rule with every product and sum
unrolled over the (small, static) layer widths and batch, so each one is a chain
of elementwise operations that XLA fuses with its neighbours:

* one kernel a layer for the forward pass (an activation's result feeds several
  neurons of the next layer, and XLA does not recompute an ``exp``),
* one kernel for all the updates: every trainable leaf lives in one flat vector
  and the whole backward pass, deltas included, is fused into the expression
  that computes the new vector,

and the loop runs two steps an iteration, so the new vector is written to a
fresh buffer and back, never copied. For the worked example that is three
kernels a step (and half the loop counter's) instead of thirteen or fourteen.
``tests/test_fast.py`` checks that it equals :func:`jbp.backprop` and the general
training step to 1e-12 in float64.

The unrolled sums grow with the widths, so :func:`supported` keeps this path to
small networks and batches; larger ones take the general step.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from jbp._network import Layer

__all__ = ["supported", "train_sgd"]

# Widest layer and largest batch the unrolled formulation takes: its expressions grow
# as width * width * batch. At the limit it still ran faster than the general step
# (1,000 steps of a 16-16-16 network on a batch of 16: 9.3 ms against 10.6 ms on 2 CPU
# cores) but took longer to compile (1.4 s against 1.0 s).
MAX_WIDTH = 16
MAX_BATCH = 16
# Steps an iteration of the compiled loop (see train_sgd); 4 measured no faster than 2.
UNROLL = 2


def supported(sizes, batch) -> bool:
  """Whether the fused step takes a network of these ``sizes`` and this ``batch`` (None: one example)."""
  return max(sizes) <= MAX_WIDTH and (batch or 1) <= MAX_BATCH


def _affine(a, w, b):
  """``a @ w.T + b`` as an elementwise sum over ``n_in``: a (B, n_in), w (n_out, n_in) -> (B, n_out)."""
  net = b + a[:, 0:1] * w[None, :, 0]
  for k in range(1, w.shape[1]):
    net = net + a[:, k:k + 1] * w[None, :, k]
  return net


def _outer(delta, a):
  """``delta.T @ a`` as a sum over the batch: delta (B, n_out), a (B, n_in) -> (n_out, n_in)."""
  g = delta[0][:, None] * a[0][None, :]
  for i in range(1, delta.shape[0]):
    g = g + delta[i][:, None] * a[i][None, :]
  return g


def _back(delta, w):
  """``delta @ w`` as a sum over ``n_out``: delta (B, n_out), w (n_out, n_in) -> (B, n_in)."""
  s = delta[:, 0:1] * w[None, 0, :]
  for j in range(1, w.shape[0]):
    s = s + delta[:, j:j + 1] * w[None, j, :]
  return s


def _bias_grad(delta, b):
  """dE/db: the sum of the deltas over the batch, and over the layer for a shared bias."""
  g = delta[0]
  for i in range(1, delta.shape[0]):
    g = g + delta[i]
  if jnp.ndim(b) == 0:
    total = g[0]
    for j in range(1, g.shape[0]):
      total = total + g[j]
    g = total
  return g


def _pack(params, mask):
  """The trainable leaves of ``params`` as one flat vector, layer by layer, ``w`` before ``b``."""
  leaves = [leaf for layer, m in zip(params, mask) for leaf, t in zip(layer, m) if t]
  return jnp.concatenate([jnp.ravel(leaf) for leaf in leaves])


def _unpack(flat, params, mask):
  """``params`` with its trainable leaves taken from ``flat`` (the inverse of :func:`_pack`)."""
  out, i = [], 0
  for layer, m in zip(params, mask):
    leaves = []
    for leaf, t in zip(layer, m):
      if t:
        n = max(1, leaf.size)
        leaves.append(flat[i:i + n].reshape(leaf.shape))
        i += n
      else:
        leaves.append(leaf)
    out.append(Layer(*leaves))
  return tuple(out)


def _delta_rule(params, x2, y2, lr, act, scale, mask, sequential):
  """One delta-rule backward pass with updates, written as elementwise sums.

  The same rule as ``jbp._backprop._delta_rule`` with a plain SGD ``step``: the
  output layer first, then each earlier layer's deltas through the later layer's
  updated weights (``sequential``) or its weights before the step (simultaneous).

  Args:
    params: tuple of Layer.
    x2: (batch, n_in); y2: (batch, n_out).
    lr: the learning rate, a scalar.
    act: an Activation.
    scale: 1 / batch for the mean reduction, else 1.
    mask: static ``(w, b)`` bools a layer: which leaves are updated.
    sequential: the update order.

  Returns:
    ``(grads, new_params)``: the gradients of every leaf, and params after the step.
  """
  trace = []
  a = x2
  for layer in params:
    net = _affine(a, layer.w, layer.b)
    a = act.fn(net)
    trace.append((net, a))
  out = trace[-1][1]
  delta = (out - y2) * act.derivative(*trace[-1]) * scale
  grads = [None] * len(params)
  new = list(params)
  for l in range(len(params) - 1, -1, -1):
    a_prev = x2 if l == 0 else trace[l - 1][1]
    w, b = params[l]
    grads[l] = Layer(_outer(delta, a_prev), _bias_grad(delta, b))
    new[l] = Layer(w - lr * grads[l].w if mask[l][0] else w, b - lr * grads[l].b if mask[l][1] else b)
    if l > 0:
      through = new[l].w if sequential else w
      delta = _back(delta, through) * act.derivative(*trace[l - 1])
  return tuple(grads), tuple(new)


def _loss(params, x2, y2, act, mean: bool):
  """:func:`jbp.loss` with the forward pass of :func:`_affine`: equal to it to rounding."""
  a = x2
  for layer in params:
    a = act.fn(_affine(a, layer.w, layer.b))
  per_example = 0.5 * jnp.sum((y2 - a) ** 2, axis=-1)
  return jnp.mean(per_example) if mean else jnp.sum(per_example)


def train_sgd(params, x, y, lr, *, steps: int, act, reduction: str, mask, sequential: bool,
              record_every: int):
  """Plain SGD for ``steps`` updates; returns ``(final_params, losses)`` as :func:`jbp.train` does.

  ``losses`` has shape ``(steps // record_every + 1,)``: the loss before each chunk of
  ``record_every`` updates, and after the last. Meant to be traced inside ``jbp.train``'s jit.
  """
  x2 = jnp.atleast_2d(x)
  y2 = jnp.atleast_2d(y)
  mean = reduction == "mean" and jnp.ndim(x) == 2
  scale = 1.0 / x2.shape[0] if mean else 1.0

  def loss(flat):
    return _loss(_unpack(flat, params, mask), x2, y2, act, mean)

  def step(flat):
    _, new = _delta_rule(_unpack(flat, params, mask), x2, y2, lr, act, scale, mask, sequential)
    return _pack(new, mask)

  def steps_(_, flat):
    # Each barrier keeps a step's vector whole, so the last step writes the loop's buffer
    # in place instead of XLA copying it every iteration.
    for i in range(UNROLL):
      flat = step(lax.optimization_barrier(flat) if i else flat)
    return flat

  def chunk(flat, _):
    E = loss(flat)
    flat = lax.fori_loop(0, record_every // UNROLL, steps_, flat)
    for _ in range(record_every % UNROLL):
      flat = step(flat)
    return flat, E

  if not any(t for m in mask for t in m):
    return params, jnp.full((steps // record_every + 1,), _loss(params, x2, y2, act, mean))
  flat, losses = lax.scan(chunk, _pack(params, mask), None, length=steps // record_every)
  return _unpack(flat, params, mask), jnp.concatenate([losses, loss(flat)[None]])
