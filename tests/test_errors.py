"""Bad input: a clear error naming the argument, what was expected and what was given,
raised eagerly before anything is compiled."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jbp


@pytest.fixture
def ex():
  return jbp.worked_example()


def train(ex, **kw):
  args = dict(x=ex.inputs, y=ex.targets, steps=10, learning_rate=0.5)
  args.update(kw)
  x, y = args.pop("x"), args.pop("y")
  return jbp.train(args.pop("params", ex.params), x, y, **args)


@pytest.mark.parametrize("kw, match", [
    (dict(x=jnp.ones(3)), r"x: expected shape \(2,\) or \(batch, 2\).*got shape \(3,\)"),
    (dict(x=jnp.ones((4, 3))), r"x: expected shape .* got shape \(4, 3\)"),
    (dict(y=jnp.ones(3)), r"y: expected shape \(2,\) .* got shape \(3,\)"),
    (dict(x=jnp.ones((4, 2))), r"y: expected shape \(4, 2\) .* got shape \(2,\)"),
    (dict(steps=0), r"steps: expected an integer >= 1, got 0"),
    (dict(steps=-5), r"steps: expected an integer >= 1, got -5"),
    (dict(steps=2.5), r"steps: expected an integer >= 1, got float 2.5"),
    (dict(steps=True), r"steps: expected an integer >= 1, got bool"),
    (dict(record_every=0), r"record_every: expected an integer >= 1, got 0"),
    (dict(record_every=3), r"record_every: expected a divisor of steps=10, got 3"),
    (dict(record_every=1.0), r"record_every: expected an integer >= 1, got float"),
    (dict(learning_rate=0.0), r"learning_rate: expected a positive finite number, got 0.0"),
    (dict(learning_rate=-0.1), r"learning_rate: expected a positive finite number, got -0.1"),
    (dict(learning_rate=float("nan")), r"learning_rate: expected a positive finite number, got nan"),
    (dict(learning_rate=float("inf")), r"learning_rate: expected a positive finite number, got inf"),
    (dict(learning_rate=None), r"learning_rate: expected a positive finite number, got None"),
    (dict(learning_rate="fast"), r"learning_rate: expected a positive finite number, got str"),
    (dict(learning_rate=jnp.ones(3)), r"learning_rate: expected shape \(\), got shape \(3,\)"),
    (dict(update="backwards"), r"update: expected one of \['simultaneous', 'sequential'\], got 'backwards'"),
    (dict(activation="swish"), r"activation: expected one of .*sigmoid.* got 'swish'"),
    (dict(activation=3), r"activation: expected one of .* got int 3"),
    (dict(trainable="biases"), r"trainable: expected one of \['weights', 'all'\], got 'biases'"),
    (dict(update="sequential", optimizer=optax.sgd(0.5), learning_rate=None),
     r"optimizer: the sequential update order is defined for plain SGD only"),
    (dict(optimizer=optax.adam(0.1)), r"learning_rate: expected None when optimizer is given"),
    (dict(optimizer="adam", learning_rate=None),
         r"optimizer: expected jbp.Optimizer\(factory, ...\) or an optax GradientTransformation"),
    (dict(reduction="max"), r"reduction: expected one of \['sum', 'mean'\], got 'max'"),
])
def test_train_rejects(ex, kw, match):
  with pytest.raises((ValueError, TypeError), match=match):
    train(ex, **kw)


def test_layers_whose_shapes_do_not_chain(ex):
  bad = (ex.params[0], jbp.Layer(jnp.ones((2, 3)), jnp.zeros(())))
  for fn in (lambda: train(ex, params=bad), lambda: jbp.forward(bad, ex.inputs),
             lambda: jbp.loss(bad, ex.inputs, ex.targets), lambda: jbp.backprop(bad, ex.inputs, ex.targets)):
    with pytest.raises(ValueError, match=r"params\[1\].w: expected 2 inputs .* got shape \(2, 3\): "
                                         r"layer shapes do not chain"):
      fn()


@pytest.mark.parametrize("params, match", [
    ((), r"params: expected a non-empty tuple of jbp.Layer"),
    ([(jnp.ones((2, 2)), 0.0)], r"params\[0\]: expected jbp.Layer\(w, b\), got tuple"),
    ((jbp.Layer(jnp.ones(2), jnp.zeros(())),),
     r"params\[0\].w: expected shape \(n_out, n_in\), got shape \(2,\)"),
    ((jbp.Layer(jnp.ones((2, 2)), jnp.zeros(3)),), r"params\[0\].b: expected a scalar or shape \(2,\)"),
    ((jbp.Layer(jnp.ones((2, 2), jnp.int32), jnp.zeros(())),), r"params\[0\].w: expected a floating dtype"),
])
def test_malformed_params(ex, params, match):
  with pytest.raises((ValueError, TypeError), match=match):
    jbp.forward(params, ex.inputs)


def test_float64_with_64_bit_mode_off_says_how_to_turn_it_on():
  assert not jax.config.jax_enable_x64
  with pytest.raises(ValueError, match=r"dtype: float64 was asked for, but 64-bit mode is off; "
                                       r"enable it .*jax_enable_x64"):
    jbp.worked_example(jnp.float64)
  with pytest.raises(ValueError, match=r"dtype: float64"):
    jbp.init_params(jax.random.key(0), (2, 2), dtype=jnp.float64)


@pytest.mark.parametrize("kw, match", [
    (dict(sizes=(2,)), r"sizes: expected at least two layer sizes"),
    (dict(sizes=(2, 0, 1)), r"sizes: expected positive integers .* got \(2, 0, 1\)"),
    (dict(sizes=(2, 2), method="normal"), r"method: expected one of \['glorot', 'uniform'\], got 'normal'"),
    (dict(sizes=(2, 2), dtype=jnp.int32), r"dtype: expected a floating dtype .* got int32"),
    (dict(sizes=(2, 2), key=0), r"key: expected a PRNG key from jax.random.key\(seed\), got int"),
])
def test_init_params_rejects(kw, match):
  kw.setdefault("key", jax.random.key(0))
  with pytest.raises((ValueError, TypeError), match=match):
    jbp.init_params(**kw)


def test_errors_come_before_compilation(ex, monkeypatch):
  from jbp import _train

  def boom(*a, **k):
    raise AssertionError("compiled before checking")

  monkeypatch.setattr(_train, "train_program", boom)
  with pytest.raises(ValueError, match="steps"):
    train(ex, steps=0)


# --- Non-finite data: refused at the boundary, on host data only --------------------------------------

NAN, INF = float("nan"), float("inf")


def _call(fn, x, y):
  """One entry point on the worked example's network (a population of 3 for train_many and sweep)."""
  ex = jbp.worked_example()
  pop = jbp.init_many(jax.random.key(0), 3, (2, 2, 2), method="uniform", shared_bias=True)
  calls = {
      "train": lambda: jbp.train(ex.params, x, y, steps=2, learning_rate=0.5),
      "train_many": lambda: jbp.train_many(pop, x, y, steps=2, learning_rate=0.5),
      "sweep": lambda: jbp.sweep(pop, x, y, learning_rates=[0.5, 1.0], steps=2),
      "explain": lambda: jbp.explain(ex.params, x, y, learning_rate=0.5),
      "backprop": lambda: jbp.backprop(ex.params, x, y),
      "loss": lambda: jbp.loss(ex.params, x, y),
      "forward": lambda: jbp.forward(ex.params, x),
  }
  return calls[fn]()


@pytest.mark.parametrize("fn, name, value", [
    (fn, name, value) for fn in ["train", "train_many", "sweep", "explain", "backprop", "loss", "forward"]
    for name, value in [("x", NAN), ("x", -INF), ("y", INF), ("y", NAN)]
    if not (fn == "forward" and name == "y")])  # forward takes no targets
def test_non_finite_data_is_a_value_error_naming_it(fn, name, value):
  x, y = [[0.05, 0.10], [0.5, 0.5]], [[0.01, 0.99], [0.5, 0.5]]
  bad = {"x": x, "y": y}[name]
  bad[1][0] = value
  with pytest.raises(ValueError, match=rf"^{name}: expected finite numbers, got {value} at index \(1, 0\)"):
    _call(fn, jnp.asarray(x), np.asarray(y))  # a JAX array and a NumPy array: both host data


def test_traced_data_passes_through_under_jit_and_vmap():
  # A traced value has no value to look at: the check is for host data, and NaN flows through as NaN.
  ex = jbp.worked_example()
  x = jnp.array([[0.05, 0.10], [NAN, 0.5]])
  out = jax.jit(lambda x: jbp.forward(ex.params, x))(x)
  assert bool(jnp.isnan(out[1]).all()) and bool(jnp.isfinite(out[0]).all())
  per_example = jax.vmap(lambda xi: jbp.loss(ex.params, xi, ex.targets))(x)
  assert bool(jnp.isfinite(per_example[0])) and bool(jnp.isnan(per_example[1]))
  _, losses = jax.jit(lambda x: jbp.train(ex.params, x, ex.targets[None].repeat(2, 0), steps=2,
                                          learning_rate=0.5))(x)
  assert bool(jnp.isnan(losses).all())


def test_format_figures_rejects_what_is_not_a_list_of_rows():
  row = jbp.FigureRow("E before training", "0.298371109", {"simultaneous": 0.2983711087},
                      {"simultaneous": True})
  with pytest.raises(TypeError, match=r"rows: expected a list of jbp.FigureRow .* got FigureRow"):
    jbp.format_figures(row)
  with pytest.raises(TypeError, match=r"rows\[0\]: expected a jbp.FigureRow, got tuple"):
    jbp.format_figures([tuple(row)])
  with pytest.raises(ValueError, match=r"rows\[0\]: expected values and matches for each update order "
                                       r"\['simultaneous', 'sequential'\]"):
    jbp.format_figures([row])
