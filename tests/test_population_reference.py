"""Populations against an independent reference: a NumPy loop that trains the same initializations.

The NumPy loop below is written from the delta rule alone (no JAX): every member's forward pass,
error, deltas and simultaneous SGD update, on arrays with the population axis first. It checks

* the XOR success rate: which members of 500 initializations get below E = 0.05, and when;
* what ``train_many`` does with a member that diverges: its loss is NaN from the step it first was
  not finite, its params are NaN (never an ``inf`` or a number that looks like a result), and
  ``diverged_step`` says when, ``steps`` when only the final params are not finite.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jbp

ACTIVATIONS = {  # f(net) and f'(net) written with f's output, as the delta rule uses them
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
    "identity": (lambda z: z, lambda z, a: np.ones_like(z)),
}


def numpy_train(params, x, y, lr, steps, *, activation="sigmoid", train=None):
  """Simultaneous full-batch SGD on E = sum 1/2 (out - y)**2 for every member at once, in NumPy.

  params: [(w (n, n_out, n_in), b (n,) shared or (n, n_out)), ...]; x (batch, n_in); y (batch, n_out);
  lr: a scalar or (n,); train: per layer, (train w, train b). Returns (params, losses (n, steps + 1)).
  Inside, the member axis is last, so each sum over neurons is one vectorized NumPy operation.
  """
  f, df = ACTIVATIONS[activation]
  ws = [np.moveaxis(np.array(w), 0, -1) for w, _ in params]  # (n_out, n_in, n)
  bs = [np.moveaxis(np.array(b), 0, -1) for _, b in params]  # (n,) or (n_out, n)
  train = train or [(True, False)] * len(ws)
  n = ws[0].shape[-1]
  lr = np.broadcast_to(np.asarray(lr, ws[0].dtype), (n,))
  x3 = np.broadcast_to(np.asarray(x, ws[0].dtype)[:, :, None], x.shape + (n,))  # (batch, n_in, n)
  y3 = np.asarray(y, ws[0].dtype)[:, :, None]
  losses = []
  with np.errstate(over="ignore", invalid="ignore"):
    for t in range(steps + 1):
      outs, nets = [x3], []
      for w, b in zip(ws, bs):
        nets.append((outs[-1][:, None] * w[None]).sum(axis=2) + b)  # (batch, n_out, n)
        outs.append(f(nets[-1]))
      err = outs[-1] - y3
      losses.append(0.5 * (err * err).sum(axis=(0, 1)))
      if t == steps:
        break
      delta = err * df(nets[-1], outs[-1])
      grads = []
      for l in range(len(ws) - 1, -1, -1):
        gw = (delta[:, :, None] * outs[l][:, None]).sum(axis=0)  # summed over the batch
        gb = delta.sum(axis=(0, 1)) if bs[l].ndim == 1 else delta.sum(axis=0)
        grads.append((l, gw, gb))
        if l > 0:  # through the weights as they were before this step: the simultaneous order
          delta = (delta[:, :, None] * ws[l][None]).sum(axis=1) * df(nets[l - 1], outs[l])
      for l, gw, gb in grads:
        if train[l][0]:
          ws[l] = ws[l] - lr * gw
        if train[l][1]:
          bs[l] = bs[l] - lr * gb
  return [(np.moveaxis(w, -1, 0), np.moveaxis(b, -1, 0)) for w, b in zip(ws, bs)], np.stack(losses, axis=1)


def as_numpy(pop):
  return [(np.asarray(layer.w), np.asarray(layer.b)) for layer in pop]


def test_the_reference_follows_jbp_train_on_the_worked_example(x64):
  # The reference itself, checked once against the published worked example: E after 1 update in
  # the simultaneous order is 0.291027774 (README), E after 10,000 is 0.000035102.
  ex = jbp.worked_example(jnp.float64)
  params = [(np.asarray(l.w)[None], np.asarray(l.b)[None]) for l in ex.params]
  _, losses = numpy_train(params, np.asarray(ex.inputs)[None], np.asarray(ex.targets)[None], 0.5, 10_000)
  assert abs(losses[0, 0] - 0.298371109) < 1e-9 and abs(losses[0, 1] - 0.291027774) < 1e-9
  assert abs(losses[0, -1] - 0.000035102) < 1e-9


def test_xor_success_rate_against_the_numpy_loop(x64):
  # jbp.xor's setting, 500 initializations (uniform [0, 1) weights and shared biases), learning rate
  # 0.5, 10,000 full-batch updates, weights trained. Both sides compute in float64 from the same
  # initial arrays with sums in different orders, so the losses agree to rounding: 1e-9 relative
  # leaves room for its growth over 10,000 steps and is far below what could move a member across
  # the threshold (none is within 1e-6 of it, checked below).
  ex = jbp.xor(jnp.float64)
  pop = jbp.init_many(jax.random.key(0), 500, (2, 5, 1), method="uniform", shared_bias=True,
                      dtype=jnp.float64)
  res = jbp.train_many(pop, ex.inputs, ex.targets, steps=10_000, learning_rate=0.5, record_every=1000)
  _, ref = numpy_train(as_numpy(pop), np.asarray(ex.inputs), np.asarray(ex.targets), 0.5, 10_000)
  ref = ref[:, ::1000]  # the losses after 0, 1000, ..., 10,000 updates
  np.testing.assert_allclose(res.losses, ref, rtol=1e-9)
  assert np.min(np.abs(ref - 0.05)) > 1e-6
  got, want = jbp.summarize(res.losses, 0.05, record_every=1000), jbp.summarize(ref, 0.05, record_every=1000)
  np.testing.assert_array_equal(got.first_step, want.first_step)  # the same members, at the same step
  assert float(got.fraction) == float(want.fraction) >= 0.995
  p_1000 = float(np.mean(want.first_step == 1000))
  assert 0.2 < p_1000 < 0.4, p_1000  # about 30% are below 0.05 after 1,000 updates already
  assert float(got.fraction_diverged) == 0


@pytest.mark.parametrize("form", ["unrolled", "matmul"])
def test_a_member_whose_final_params_overflow_is_nan_at_steps(form):
  # ReLU, only the hidden weights train, targets far below what a ReLU can output: member 1's rate
  # (1e37) sends its hidden weights to -inf in float32 at the first update. Its hidden layer then
  # outputs 0 and every loss stays finite: only its params say it diverged.
  pop = jbp.init_many(jax.random.key(3), 3, (2, 3, 2), method="uniform")
  x, y = np.array([1.0, 2.0], np.float32), np.array([-100.0, -100.0], np.float32)
  lrs = np.array([1e-4, 1e37, 1e-4], np.float32)
  mask = (jbp.Layer(w=True, b=False), jbp.Layer(w=False, b=False))
  res = jbp.train_many(pop, x, y, steps=3, learning_rate=lrs, activation="relu", trainable=mask,
                       form=form)
  ref_params, ref = numpy_train(as_numpy(pop), x[None], y[None], lrs, 3, activation="relu",
                                train=[(True, False), (False, False)])
  hidden = ref_params[0][0][1]
  assert np.isneginf(hidden).any() and np.isfinite(ref[1]).all(), "the test needs member 1 as described"
  np.testing.assert_array_equal(res.diverged, [False, True, False])
  np.testing.assert_array_equal(res.diverged_step, [-1, 3, -1])
  np.testing.assert_allclose(res.losses[1, :3], ref[1, :3], rtol=1e-6)  # float32, summation order
  assert np.isnan(res.losses[1, 3])  # the loss of non-finite params is no result
  for leaf in jax.tree_util.tree_leaves(res.params):
    assert np.isnan(np.asarray(leaf)[1]).all()  # -inf and finite entries alike: all NaN
  for i in (0, 2):
    np.testing.assert_allclose(res.losses[i], ref[i], rtol=1e-6)
    for (w, _), layer in zip(ref_params, res.params):
      np.testing.assert_allclose(layer.w[i], w[i], rtol=1e-6)


@pytest.mark.parametrize("form", ["unrolled", "matmul"])
def test_a_member_whose_loss_overflows_is_nan_from_then_on(form):
  # A linear network at learning rate 50 grows without bound: its loss overflows float32 to inf at
  # some step, then turns NaN. train_many reports NaN from that step on (never an inf), the step
  # itself as diverged_step, and the losses before it as the reference computes them.
  pop = jbp.init_many(jax.random.key(5), 3, (2, 3, 2))
  x = np.array([[0.5, -1.0], [1.0, 0.3]], np.float32)
  y = np.array([[0.2, 0.1], [0.9, -0.4]], np.float32)
  lrs = np.array([0.1, 50.0, 0.1], np.float32)
  kw = dict(steps=40, activation="identity", trainable="all")
  res = jbp.train_many(pop, x, y, learning_rate=lrs, form=form, **kw)
  _, ref = numpy_train(as_numpy(pop), x, y, lrs, 40, activation="identity",
                       train=[(True, True), (True, True)])
  k = int(np.flatnonzero(~np.isfinite(ref[1]))[0])
  assert np.isinf(ref[1, k]), "the test needs the loss to overflow to inf first"
  np.testing.assert_array_equal(res.diverged_step, [-1, k, -1])
  assert np.isnan(res.losses[1, k:]).all()
  # Before the overflow the losses grow by many orders of magnitude; float32 in a different order
  # agrees to about 1e-5 relative there.
  np.testing.assert_allclose(res.losses[1, :k], ref[1, :k], rtol=1e-4)
  assert all(np.isnan(np.asarray(leaf)[1]).all() for leaf in jax.tree_util.tree_leaves(res.params))
  for i in (0, 2):
    np.testing.assert_allclose(res.losses[i], ref[i], rtol=1e-5, atol=2e-6)
