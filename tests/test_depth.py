"""The compiled training program grows linearly with the network's depth, in both update orders.

A structural measure, not a timing: the number of instructions in the optimized HLO of
``jbp.train``'s program for networks of width 2 (the command line's ``--sizes 2,2,...,2``, float64,
one example). For a program that grows linearly the instructions added from ``2d`` to ``4d`` layers
are twice those from ``d`` to ``2d`` (``growth`` 1); a program that grows as depth squared reads
about 1.5 there. The negative control rebuilds the old unrolled form, whose backward pass XLA
copied into every layer's gradient (growth about 1.4 to 1.5 at 3, 6 and 12 layers, compile time
189 s at 40 layers): the measure catches it.
"""

import functools
import re

import jax
import jax.numpy as jnp
import pytest

import jbp
from jbp import _network, _options, _train

INSTRUCTION = re.compile(r"^\s+(ROOT )?%\S+ = ", re.M)
LINEAR = 1.05  # a linear program reads 1.000; allow a few instructions of slack


def instructions(layers, update, form):
  """Instructions in the optimized HLO of a fresh ``jit`` of train's program (no cache shared)."""
  params = tuple(jbp.Layer(jnp.full((2, 2), 0.1 * (l % 3 + 1)), jnp.asarray(0.2)) for l in range(layers))
  x = y = jnp.asarray([0.05, 0.1])
  opts, values, _ = _options.make_options(
      params, x, y, steps=1, learning_rate=0.5, update=update, record_every=1, activation="sigmoid",
      optimizer=None, trainable="weights", reduction="sum", form=form)
  program = jax.jit(functools.partial(_train.train_program.__wrapped__, opts=opts))
  return len(INSTRUCTION.findall(program.lower(params, x, y, values).compile().as_text()))


def growth(depths, update, form):
  """Instructions added a layer from ``depths[1]`` to ``[2]`` over those from ``depths[0]`` to ``[1]``."""
  n = [instructions(d, update, form) for d in depths]
  return ((n[2] - n[1]) / (depths[2] - depths[1])) / ((n[1] - n[0]) / (depths[1] - depths[0]))


@pytest.mark.parametrize("update", jbp.UPDATES)
def test_the_program_grows_linearly_with_depth(x64, update):
  assert growth((25, 50, 100), update, "auto") < LINEAR  # the form the command line gets


@pytest.mark.parametrize("update", jbp.UPDATES)
def test_the_unrolled_form_grows_linearly_with_depth(x64, update):
  assert growth((10, 20, 40), update, "unrolled") < LINEAR


def test_the_measure_catches_a_program_that_grows_as_depth_squared(x64, monkeypatch):
  monkeypatch.setattr(_network, "CHAIN_LAYERS", 10**9)  # the old unrolled form: scalars between layers
  assert growth((3, 6, 12), "simultaneous", "unrolled") > 1.2


def test_auto_unrolls_networks_of_at_most_four_layers():
  assert _options.choose_form("auto", (2,) * 5, None, "cpu") == "unrolled"
  assert _options.choose_form("auto", (2,) * 6, None, "cpu") == "matmul"
  assert _options.choose_form("unrolled", (2,) * 101, None, "cpu") == "unrolled"


@pytest.mark.parametrize("method", ["glorot", "uniform"])
def test_layers_of_one_shape_drawn_together_get_their_own_keys_numbers(method):
  # init_params draws the layers of one shape in one vmapped draw (its compile time grew by about
  # 400 instructions a layer); each layer must still get exactly what its own key draws.
  import numpy as np

  key, sizes = jax.random.key(7), (3, 2, 2, 2, 4, 2, 2)
  got = jbp.init_params(key, sizes, method=method)
  for k, n_in, n_out, layer in zip(jax.random.split(key, len(sizes) - 1), sizes[:-1], sizes[1:], got):
    kw, kb = jax.random.split(k)
    lim = float(np.sqrt(6.0 / (n_in + n_out)))
    if method == "glorot":
      w, b = jax.random.uniform(kw, (n_out, n_in), jnp.float32, -lim, lim), jnp.zeros((n_out,))
    else:
      w, b = jax.random.uniform(kw, (n_out, n_in)), jax.random.uniform(kb, (n_out,))
    assert np.array_equal(layer.w, w) and np.array_equal(layer.b, b)
