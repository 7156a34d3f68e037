"""The worked example, figure by figure.

Each published figure is compared with jbp's float64 value. A figure matches when
it is within one unit of its last printed digit (the example rounds some figures
and truncates others), so the tolerance for a figure printed with 9 decimals is
1e-9. Each test names the update order that produces the figure.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import jbp

NINE_DECIMALS = 1e-9  # one unit in the last printed digit


def first_update(ex, update):
  return jbp.train(ex.params, ex.inputs, ex.targets, steps=1, learning_rate=ex.learning_rate,
                   update=update)


def full_run(ex, update):
  return jbp.train(ex.params, ex.inputs, ex.targets, steps=ex.steps,
                   learning_rate=ex.learning_rate, update=update, record_every=100)


def test_the_example_as_specified(ex64):
  w = [float(v) for v in (*ex64.params[0].w.ravel(), *ex64.params[1].w.ravel())]
  assert w == [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55]
  assert float(ex64.params[0].b) == 0.35 and float(ex64.params[1].b) == 0.60
  assert ex64.inputs.tolist() == [0.05, 0.10] and ex64.targets.tolist() == [0.01, 0.99]
  assert ex64.learning_rate == 0.5 and ex64.steps == 10_000
  assert ex64.params[0].w.dtype == jnp.float64


def test_forward_outputs_are_0_751365069_and_0_772928465(ex64):
  out = jbp.forward(ex64.params, ex64.inputs)
  np.testing.assert_allclose(out, [0.751365069, 0.772928465], rtol=0, atol=NINE_DECIMALS)


def test_hidden_outputs_are_0_593269992_and_0_596884378(ex64):
  hidden = jbp.forward(ex64.params[:1], ex64.inputs)
  np.testing.assert_allclose(hidden, [0.593269992, 0.596884378], rtol=0, atol=NINE_DECIMALS)


def test_error_before_training_is_0_298371109(ex64):
  E = jbp.loss(ex64.params, ex64.inputs, ex64.targets)
  assert abs(float(E) - 0.298371109) <= NINE_DECIMALS


def test_dE_dw5_is_0_082167041_by_the_chain_rule(ex64):
  # dE/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dw5 = 0.74136507 * 0.186815602 * 0.593269992
  g = jbp.backprop(ex64.params, ex64.inputs, ex64.targets)
  assert abs(float(g[1].w[0, 0]) - 0.082167041) <= NINE_DECIMALS
  assert abs(float(g[0].w[0, 0]) - 0.000438568) <= NINE_DECIMALS  # dE/dw1


def test_sequential_error_after_one_update_is_0_291027924(ex64):
  _, losses = first_update(ex64, "sequential")
  assert abs(float(losses[1]) - 0.291027924) <= NINE_DECIMALS


def test_simultaneous_error_after_one_update_is_0_291027774(ex64):
  _, losses = first_update(ex64, "simultaneous")
  assert abs(float(losses[1]) - 0.291027774) <= NINE_DECIMALS


def test_simultaneous_first_step_weights_are_the_derivations(ex64):
  params, _ = first_update(ex64, "simultaneous")
  # w1..w4 printed to 9 decimals; w5 as printed (8 decimals), w6..w8 to 9.
  hidden = [0.149780716, 0.19956143, 0.24975114, 0.29950229]
  output = [0.35891648, 0.408666186, 0.511301270, 0.561370121]
  np.testing.assert_allclose(params[0].w.ravel(), hidden, rtol=0, atol=1e-8)
  np.testing.assert_allclose(params[1].w.ravel(), output, rtol=0, atol=1e-8)
  assert abs(float(params[0].w[0, 0]) - 0.149780716) <= NINE_DECIMALS
  assert abs(float(params[1].w[0, 0]) - 0.35891648) <= 1e-8
  # The biases are not updated.
  assert float(params[0].b) == 0.35 and float(params[1].b) == 0.60


def test_sequential_first_step_hidden_weights_use_updated_output_weights(ex64):
  seq, _ = first_update(ex64, "sequential")
  sim, _ = first_update(ex64, "simultaneous")
  # The output layer is the same in both orders; the hidden layer differs.
  np.testing.assert_allclose(seq[1].w, sim[1].w, rtol=0, atol=1e-15)
  assert float(jnp.max(jnp.abs(seq[0].w - sim[0].w))) > 1e-6
  # By hand: delta_h1 through the updated w5, w7.
  out_h = jbp.forward(ex64.params[:1], ex64.inputs)
  out_o = jbp.forward(ex64.params, ex64.inputs)
  delta_o = (out_o - ex64.targets) * out_o * (1 - out_o)
  delta_h = (seq[1].w.T @ delta_o) * out_h * (1 - out_h)
  np.testing.assert_allclose(seq[0].w, ex64.params[0].w - 0.5 * jnp.outer(delta_h, ex64.inputs),
                             rtol=0, atol=1e-15)


def test_sequential_error_after_10000_updates_is_0_000035085(ex64):
  _, losses = full_run(ex64, "sequential")
  assert abs(float(losses[-1]) - 0.000035085) <= NINE_DECIMALS


def test_sequential_outputs_after_10000_updates_are_0_015912196_and_0_984065734(ex64):
  params, _ = full_run(ex64, "sequential")
  out = jbp.forward(params, ex64.inputs)
  np.testing.assert_allclose(out, [0.015912196, 0.984065734], rtol=0, atol=NINE_DECIMALS)


def test_simultaneous_after_10000_updates(ex64):
  params, losses = full_run(ex64, "simultaneous")
  assert abs(float(losses[-1]) - 3.51018778e-05) <= 1e-13  # printed to 9 significant digits
  out = jbp.forward(params, ex64.inputs)
  np.testing.assert_allclose(out, [0.01591362, 0.98406427], rtol=0, atol=1e-8)


@pytest.mark.parametrize("update", jbp.UPDATES)
def test_float32_ends_within_1e_4_relative_of_float64(ex64, update):
  _, l64 = full_run(ex64, update)
  ex32 = jbp.worked_example(jnp.float32)
  _, l32 = full_run(ex32, update)
  assert l32.dtype == jnp.float32
  np.testing.assert_allclose(float(l32[-1]), float(l64[-1]), rtol=1e-4)


def test_published_figures_all_match_in_the_sequential_order(x64):
  from jbp._figures import worked_example_figures

  rows = worked_example_figures(jnp.float64)
  assert [r.published for r in rows] == [t for _, t in jbp.PUBLISHED]
  assert all(r.matches["sequential"] for r in rows)
  # The simultaneous order cannot give the published iteration figures.
  assert [r.matches["simultaneous"] for r in rows] == [True] * 3 + [False] * 4


def test_matches_published_is_one_unit_of_the_last_digit():
  from jbp._figures import matches_published

  assert matches_published(0.2983711087, "0.298371109")
  assert matches_published(0.2983711099, "0.298371109")
  assert not matches_published(0.2983711101, "0.298371109")
  assert not matches_published(0.291027774, "0.291027924")
