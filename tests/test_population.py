"""Populations: jbp.init_many, jbp.train_many, jbp.sweep and jbp.summarize."""

import logging
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import random_params

import jbp

ROOT = Path(__file__).resolve().parents[1]


def stack(members):
  return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *members)


def member(params, i):
  return jax.tree_util.tree_map(lambda a: a[i], params)


def assert_trees_close(got, want, rtol, atol=0.0):
  for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def test_init_many_is_one_key_per_member():
  key = jax.random.key(7)
  pop = jbp.init_many(key, 5, (3, 4, 2), method="uniform")
  assert [l.w.shape for l in pop] == [(5, 4, 3), (5, 2, 4)] and [l.b.shape for l in pop] == [(5, 4), (5, 2)]
  keys = jax.random.split(key, 5)
  for i in range(5):
    assert_trees_close(member(pop, i), jbp.init_params(keys[i], (3, 4, 2), method="uniform"), rtol=0)
  assert len({float(pop[0].w[i, 0, 0]) for i in range(5)}) == 5  # no two members share a draw


# float64, the same arithmetic in another order (unrolled sums instead of matrix
# products): the members agree to rounding, 1e-12 relative over these few steps.
@pytest.mark.parametrize("form", ["unrolled", "matmul"])
@pytest.mark.parametrize("update", jbp.UPDATES)
def test_each_member_equals_jbp_train(ex64, update, form):
  pop = jbp.init_many(jax.random.key(0), 16, (2, 2, 2), method="uniform", shared_bias=True,
                      dtype=jnp.float64)
  lrs = jnp.linspace(0.1, 2.0, 16)
  one = lambda p, lr: jbp.train(p, ex64.inputs, ex64.targets, steps=60, learning_rate=lr, update=update,
                                record_every=10)
  want_p, want_l = jax.vmap(one)(pop, lrs)
  for lr, wp, wl in ((lrs, want_p, want_l), (0.5, *jax.vmap(lambda p: one(p, 0.5))(pop))):
    got = jbp.train_many(pop, ex64.inputs, ex64.targets, steps=60, learning_rate=lr, update=update,
                         record_every=10, form=form)
    assert got.losses.shape == (16, 7) and not bool(got.diverged.any())
    np.testing.assert_array_equal(got.diverged_step, -1)
    np.testing.assert_allclose(got.losses, wl, rtol=1e-12)
    assert_trees_close(got.params, wp, rtol=1e-12)
  # and member 3 against a plain call, outside vmap
  p3, l3 = jbp.train(member(pop, 3), ex64.inputs, ex64.targets, steps=60, learning_rate=float(lrs[3]),
                     update=update, record_every=10)
  np.testing.assert_allclose(want_l[3], l3, rtol=1e-12)


@pytest.mark.parametrize("activation, update", [("sigmoid", "sequential"), ("tanh", "simultaneous"),
                                                ("relu", "sequential")])
def test_any_depth_per_neuron_biases_and_activations(x64, activation, update):
  # A 2-3-3-2 network on a batch of 3, biases trained, mean reduction: the unrolled
  # step must follow jbp.train for any shape. Few, small steps keep the dynamics
  # tame, so float64 rounding stays near 1e-15 and 1e-12 is a safe bound.
  pop = stack([random_params(i, (2, 3, 3, 2), scale=0.5) for i in range(6)])
  x = jax.random.normal(jax.random.key(10), (3, 2), jnp.float64)
  y = jax.random.uniform(jax.random.key(11), (3, 2), jnp.float64)
  kw = dict(steps=12, learning_rate=0.2, update=update, activation=activation, trainable="all",
            reduction="mean")
  got = jbp.train_many(pop, x, y, form="unrolled", **kw)
  want_p, want_l = jax.vmap(lambda p: jbp.train(p, x, y, **kw))(pop)
  np.testing.assert_allclose(got.losses, want_l, rtol=1e-12)
  assert_trees_close(got.params, want_p, rtol=1e-12, atol=1e-15)


def test_trainable_masks_and_shared_biases(ex64):
  pop = stack([random_params(i, (2, 3, 2), shared_bias=True) for i in range(4)])
  mask = (jbp.Layer(w=False, b=True), jbp.Layer(w=True, b=False))
  got = jbp.train_many(pop, ex64.inputs, ex64.targets, steps=20, learning_rate=0.5, trainable=mask,
                       update="sequential")
  want_p, want_l = jax.vmap(lambda p: jbp.train(p, ex64.inputs, ex64.targets, steps=20, learning_rate=0.5,
                                                trainable=mask, update="sequential"))(pop)
  np.testing.assert_array_equal(got.params[0].w, pop[0].w)  # frozen, untouched
  np.testing.assert_array_equal(got.params[1].b, pop[1].b)
  np.testing.assert_allclose(got.losses, want_l, rtol=1e-12)
  assert_trees_close(got.params, want_p, rtol=1e-12)


def test_record_every_and_final_only(ex64):
  pop = jbp.init_many(jax.random.key(1), 8, (2, 2, 2), dtype=jnp.float64)
  kw = dict(steps=100, learning_rate=0.5)
  every = jbp.train_many(pop, ex64.inputs, ex64.targets, **kw)
  thin = jbp.train_many(pop, ex64.inputs, ex64.targets, record_every=20, **kw)
  final = jbp.train_many(pop, ex64.inputs, ex64.targets, record="final", **kw)
  assert every.losses.shape == (8, 101) and thin.losses.shape == (8, 6) and final.losses.shape == (8, 2)
  # The same loop, only what is kept differs: equal to the last bit.
  np.testing.assert_array_equal(thin.losses, every.losses[:, ::20])
  np.testing.assert_array_equal(final.losses, every.losses[:, [0, -1]])
  np.testing.assert_array_equal(final.params[1].w, every.params[1].w)


@pytest.mark.parametrize("form", ["unrolled", "matmul"])
def test_a_diverging_member_is_flagged_and_the_others_are_unaffected(form):
  # A linear network (identity activation) with learning rate 50 grows without
  # bound and overflows float32; its neighbours use 0.1 and must not notice.
  params = stack([random_params(i, (2, 3, 2), dtype=jnp.float32) for i in range(3)])
  x, y = jnp.array([[0.5, -1.0], [1.0, 0.3]]), jnp.array([[0.2, 0.1], [0.9, -0.4]])
  lrs = jnp.array([0.1, 50.0, 0.1])
  kw = dict(steps=40, activation="identity", trainable="all")
  res = jbp.train_many(params, x, y, learning_rate=lrs, form=form, **kw)
  ref = [jbp.train(member(params, i), x, y, learning_rate=float(lrs[i]), **kw) for i in range(3)]
  bad = np.flatnonzero(~np.isfinite(np.asarray(ref[1][1])))
  assert bad.size, "the test needs member 1 to overflow"
  np.testing.assert_array_equal(res.diverged, [False, True, False])
  np.testing.assert_array_equal(res.diverged_step, [-1, bad[0], -1])
  assert np.all(np.isnan(res.losses[1, bad[0]:]))  # NaN from the divergence on, never inf
  np.testing.assert_allclose(res.losses[1, :bad[0]], ref[1][1][:bad[0]], rtol=1e-5)
  assert all(np.all(np.isnan(leaf[1])) for leaf in jax.tree_util.tree_leaves(res.params))
  for i in (0, 2):  # float32, the same arithmetic up to summation order: a few ulp of the
    # initial loss (about 4) in absolute terms, as the losses fall towards 0
    np.testing.assert_allclose(res.losses[i], ref[i][1], rtol=1e-5, atol=2e-6)
    assert_trees_close(member(res.params, i), ref[i][0], rtol=1e-5, atol=1e-6)


def test_sweep_1000_initializations_by_8_learning_rates_in_one_call():
  ex = jbp.worked_example()
  pop = jbp.init_many(jax.random.key(0), 1000, (2, 2, 2), method="uniform", shared_bias=True)
  lrs = jnp.array([0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0])
  res = jbp.sweep(pop, ex.inputs, ex.targets, learning_rates=lrs, steps=1000, record_every=100)
  assert res.losses.shape == (1000, 8, 11) and res.params[0].w.shape == (1000, 8, 2, 2)
  for i, j in ((0, 0), (417, 3), (999, 7)):
    p, l = jbp.train(member(pop, i), ex.inputs, ex.targets, steps=1000, learning_rate=float(lrs[j]),
                     record_every=100)
    np.testing.assert_allclose(res.losses[i, j], l, rtol=2e-5)  # float32, summation order
  s = jbp.summarize(res.losses, 0.01, record_every=100)
  assert s.fraction.shape == (8,) and s.first_step.shape == (1000, 8) and s.final_quantiles.shape == (5, 8)
  np.testing.assert_allclose(s.fraction, np.mean(np.asarray(res.losses[:, :, -1]) < 0.01, axis=0))
  # Larger steps converge sooner on this problem: the fraction below 0.01 after
  # 1000 updates rises from (almost) none at 0.05 to (almost) all at 2.0.
  assert s.fraction[0] < 0.1 < 0.9 < s.fraction[5]
  np.testing.assert_array_equal(s.fraction_diverged, 0)


def test_summarize_counts_nan_as_not_converged():
  nan = np.nan
  losses = np.array([[0.5, 0.2, 0.04], [0.5, nan, nan], [0.5, 0.03, 0.06], [0.5, 0.4, 0.3]])
  s = jbp.summarize(losses, 0.05, record_every=10, quantiles=(0.0, 0.5, 1.0))
  assert float(s.fraction) == 0.25  # member 2 crossed, but ends above
  np.testing.assert_array_equal(s.first_step, [20, -1, 10, -1])
  np.testing.assert_array_equal(s.final_quantiles, [0.04, 0.06, np.inf])
  assert float(s.fraction_diverged) == 0.25


def test_xor_converges_from_almost_every_initialization():
  # jbp.xor's setting: 2-5-1 sigmoid, weights and the shared biases uniform in [0, 1),
  # learning rate 0.5, full batch, weights trained. Two reference runs of 20,000
  # members each (keys 1 and 2, same code) gave: all 40,000 below E = 0.05 after
  # 10,000 updates, and 29.6% below it already after 1,000 updates. With 1,000
  # members the sampling error of a fraction p is sqrt(p (1 - p) / 1000) = 1.4%:
  # we allow 4 of those; and with no failure in 40,000, an expected 0.075 in 1,000,
  # more than 5 would be a real change.
  ex = jbp.xor()
  pop = jbp.init_many(jax.random.key(0), 1000, (2, 5, 1), method="uniform", shared_bias=True)
  res = jbp.train_many(pop, ex.inputs, ex.targets, steps=10_000, learning_rate=0.5, record_every=1000)
  s = jbp.summarize(res.losses, 0.05, record_every=1000)
  assert float(s.fraction) >= 0.995
  p_1000 = float(np.mean(s.first_step == 1000))
  assert abs(p_1000 - 0.296) < 4 * np.sqrt(0.296 * 0.704 / 1000), p_1000
  assert float(s.fraction_diverged) == 0


def test_a_second_call_compiles_nothing(caplog):
  ex = jbp.worked_example()
  pop = jbp.init_many(jax.random.key(0), 10, (2, 2, 2))
  kw = dict(steps=30, record_every=3)
  jbp.train_many(pop, ex.inputs, ex.targets, learning_rate=0.5, **kw)
  jbp.train_many(pop, ex.inputs, ex.targets, learning_rate=jnp.linspace(0.1, 1, 10), **kw)
  with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
    caplog.clear()
    jbp.train_many(pop, ex.inputs, ex.targets, learning_rate=0.25, **kw)  # a new rate
    jbp.train_many(pop, ex.inputs, ex.targets, learning_rate=jnp.linspace(0.2, 2, 10), **kw)  # new rates
    jbp.train_many(jbp.init_many(jax.random.key(1), 10, (2, 2, 2)), ex.inputs, ex.targets,
                   learning_rate=0.5, **kw)  # a new population of the same shape
  compiles = [r.getMessage() for r in caplog.records if "_train_many" in r.getMessage()]
  assert compiles == []
  with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
    caplog.clear()
    jbp.train_many(pop, ex.inputs, ex.targets, learning_rate=0.5, steps=33, record_every=3)
  assert any("_train_many" in r.getMessage() for r in caplog.records)  # the check can fail


@pytest.fixture
def pop():
  return jbp.init_many(jax.random.key(0), 4, (2, 2, 2))


def many(pop, **kw):
  ex = jbp.worked_example()
  args = dict(steps=10, learning_rate=0.5)
  args.update(kw)
  return jbp.train_many(args.pop("params", pop), ex.inputs, ex.targets, **args)


@pytest.mark.parametrize("call, match", [
    (lambda pop: jbp.init_many(jax.random.key(0), 0, (2, 2)), r"n: expected an integer >= 1, got 0"),
    (lambda pop: jbp.init_many(jax.random.key(0), 2.0, (2, 2)), r"n: expected an integer >= 1, got float"),
    (lambda pop: many(pop, params=jax.tree_util.tree_map(lambda a: a[:0], pop)),
     r"params: expected a population of n >= 1 members, got a leading axis of size 0"),
    (lambda pop: many(pop, learning_rate=jnp.ones(3)),
     r"learning_rate: expected a scalar or shape \(4,\), one rate for each of the 4 members, "
     r"got shape \(3,\)"),
    (lambda pop: many(pop, learning_rate=jnp.array([0.1, 0.2, -1.0, 0.3])),
     r"learning_rate: expected a positive finite number, got -1.0 \(at index \(2,\)\)"),
    (lambda pop: many(pop, params=(pop[0], jbp.Layer(pop[1].w[:3], pop[1].b[:3]))),
     r"params\[1\]: expected leading axes \(4,\) on w and b, got w of shape \(3, 2, 2\)"),
    (lambda pop: many(pop, params=(jbp.Layer(pop[0].w, pop[0].b[:2]), pop[1])),
     r"params\[0\]: expected leading axes \(4,\) on w and b, got w of shape \(4, 2, 2\) and b of "
     r"shape \(2, 2\)"),
    (lambda pop: many(pop, params=jbp.worked_example().params),
     r"params: expected a population, every w of shape \(n, n_out, n_in\).*got params\[0\].w of "
     r"shape \(2, 2\)"),
    (lambda pop: many(pop, record_every=3), r"record_every: expected a divisor of steps=10, got 3"),
    (lambda pop: many(pop, record="final", record_every=5), r"record_every: expected 1 \(the default\) with"),
    (lambda pop: many(pop, record="some"), r"record: expected one of \['all', 'final'\], got 'some'"),
    (lambda pop: many(pop, form="middle"), r"form: expected one of \['auto', 'unrolled', 'matmul'\]"),
    (lambda pop: many(pop, devices=[]), r"devices: expected None or a non-empty sequence of jax.Device"),
    (lambda pop: jbp.sweep(pop, jnp.ones(2), jnp.ones(2), learning_rates=0.5, steps=5),
     r"learning_rates: expected a 1-d array of m >= 1 positive rates, got shape \(\)"),
    (lambda pop: jbp.sweep(pop, jnp.ones(2), jnp.ones(2), learning_rates=[0.5, 0.0], steps=5),
     r"learning_rates: expected a positive finite number, got 0.0 \(at index \(1,\)\)"),
    (lambda pop: jbp.summarize(np.ones(5), 0.1), r"losses: expected shape \(n, ..., T\)"),
    (lambda pop: jbp.summarize(np.ones((5, 2)), float("nan")), r"threshold: expected a finite number"),
    (lambda pop: jbp.summarize(np.ones((5, 2)), 0.1, quantiles=(0.5, 2)), r"quantiles: expected"),
])
def test_bad_input_is_refused_before_compiling(pop, call, match):
  with pytest.raises((ValueError, TypeError), match=match):
    call(pop)




def test_auto_form_unrolls_small_networks_on_cpus_only(monkeypatch):
  from jbp import _options
  from jbp._options import choose_form

  # One network: unrolled up to 24 weight-times-example products (the worked example has 8, XOR
  # 2-2-1 on four examples 24), where its first call takes no longer than the matmul form's.
  assert choose_form("auto", (2, 2, 2), None, "cpu") == "unrolled"
  assert choose_form("auto", (2, 2, 1), 4, "cpu") == "unrolled"
  assert choose_form("auto", (2, 3, 1), 4, "cpu") == "matmul"
  assert choose_form("auto", (2, 8, 8, 2), None, "cpu") == "matmul"
  # A population: unrolled up to 512, each weight a vector over the members.
  assert choose_form("auto", (2, 5, 1), 4, "cpu", population=True) == "unrolled"
  assert choose_form("auto", (2, 8, 8, 2), 4, "cpu", population=True) == "unrolled"  # 384
  for population in (False, True):
    assert choose_form("auto", (2, 64, 64, 2), None, "cpu", population) == "matmul"
    assert choose_form("auto", (2, 16, 16, 2), 4, "cpu", population) == "matmul"  # 4 examples x 320 products
    assert choose_form("auto", (2,) * 6, None, "cpu", population) == "matmul"  # 5 layers
    assert choose_form("auto", (2, 2, 2), None, "gpu", population) == "matmul"
    assert choose_form("unrolled", (2, 2, 2), None, "gpu", population) == "unrolled"
  # train_many asks for the population's rule, train for one network's, and traced params (as under
  # jax.vmap) for the population's; each call stops there, before anything is compiled.
  class Asked(Exception):
    pass

  def ask(*args):
    raise Asked(args[-1])

  monkeypatch.setattr(_options, "choose_form", ask)
  xor = jbp.xor()
  pop = jbp.init_many(jax.random.key(0), 3, (2, 5, 1))
  one = jax.tree_util.tree_map(lambda a: a[0], pop)
  calls = {True: lambda: jbp.train_many(pop, xor.inputs, xor.targets, steps=2, learning_rate=0.5),
           False: lambda: jbp.train(one, xor.inputs, xor.targets, steps=2, learning_rate=0.5)}
  calls["vmap"] = lambda: jax.vmap(lambda p: jbp.train(p, xor.inputs, xor.targets, steps=2,
                                                       learning_rate=0.5))(pop)
  for want, call in calls.items():
    with pytest.raises(Asked) as asked:
      call()
    assert asked.value.args[0] is (want is not False), want


@pytest.mark.parametrize("cores, dtype", [(2, "float32"), (3, "float32"), (2, "float64")])
def test_shares_trained_on_several_cores_equal_one_program_to_the_bit(monkeypatch, request, cores, dtype):
  """On a CPU the members are split over the cores, one thread a share (the last share moved back,
  redoing a few members): the same numbers as one program over all, a rate a member included, a
  diverged member still flagged, and float64 under ``jax.enable_x64`` (a setting of the caller's
  thread, which the threads do not share)."""
  from jbp import _population

  if dtype == "float64":
    request.getfixturevalue("x64")
  ex = jbp.worked_example(dtype)
  n = 10
  pop = jbp.init_many(jax.random.key(5), n, (2, 2, 2), method="uniform", shared_bias=True, dtype=dtype)
  pop = jax.tree_util.tree_map(lambda a: a.at[7].set(jnp.nan), pop)  # member 7 has diverged already
  rates = jnp.linspace(0.1, 0.9, n, dtype=dtype)
  lowered = []
  real = _population._cpu_program.lower
  monkeypatch.setattr(_population._cpu_program, "lower", lambda *a, **k: lowered.append(1) or real(*a, **k))
  monkeypatch.setattr(_population, "MIN_SHARE", 1)
  monkeypatch.setattr(_population, "MIN_WORK", 1)
  run = lambda: jbp.train_many(pop, ex.inputs, ex.targets, steps=50, learning_rate=rates, record_every=10)
  monkeypatch.setattr(_population, "cores", lambda: 1)
  one = run()
  assert lowered == []  # one program over all
  monkeypatch.setattr(_population, "cores", lambda: cores)
  split = run()
  assert lowered == [1]  # compiled once, for every share
  assert bool(split.diverged[7]) and int(split.diverged.sum()) == 1
  for a, b in zip(jax.tree_util.tree_leaves(one), jax.tree_util.tree_leaves(split)):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)
  assert split.params[0].w.dtype == dtype
