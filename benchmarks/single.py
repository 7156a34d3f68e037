"""One training run of the worked example (10,000 steps), jbp.train against every peer.

Each peer trains the same 2-2-2 sigmoid network on the same example, learning rate
0.5, biases fixed, and reports the total error E after the last step: every row's E
must agree with jbp's (same dtype and update order), or the script says so and exits 1.

Rows:
  jbp.train          float32 and float64, both update orders; compile time apart from run time
  jbp program        the program jbp.train runs, compiled ahead of time and called directly: the
                     difference to jbp.train is its argument checks and dispatch
  C -O3              the same loop in C, compiled here with the system's cc (skipped without one)
  object program     neurons as objects, one weight at a time, like the example's reference program
  flat Python        the same arithmetic on Python floats, no objects
  NumPy              one array a layer, a Python loop over steps
  PyTorch eager      autograd and an in-place SGD update (skipped when torch is not installed)
  jit step loop      a Python loop calling a jitted jbp step, 10,000 dispatches
  XLA loop           the C loop's arithmetic written by hand in jax.numpy, one bare jitted
                     lax.fori_loop: no autodiff, no optimizer, no checks

All rows run in one process, in interleaved rounds (every row once a round, fast rows
a few times), so that a busy machine slows every row alike; the table gives the median
with min and max over all runs, and each row's ratio to jbp (median over median).

Usage:
    python benchmarks/single.py                      # prints the table
    python benchmarks/single.py --out results/       # also writes results/single.md and .json
    python benchmarks/single.py --quick              # a smoke test: 200 steps, 2 rounds
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import logging
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial

import numpy as np

W1 = [0.15, 0.20, 0.25, 0.30]  # w1..w4: into the hidden neurons, row by row
W2 = [0.40, 0.45, 0.50, 0.55]  # w5..w8: into the output neurons
B1, B2 = 0.35, 0.60
X = [0.05, 0.10]
Y = [0.01, 0.99]
LR = 0.5
ORDERS = ("simultaneous", "sequential")


# ---------------------------------------------------------------- the peers, written here


def _sigmoid(z):
  return 1.0 / (1.0 + math.exp(-z))


class Neuron:
  """A neuron of the reference program: its weights, a bias, and what it saw last."""

  def __init__(self, weights, bias):
    self.weights = list(weights)
    self.bias = bias
    self.inputs = None
    self.output = None

  def calculate_output(self, inputs):
    self.inputs = inputs
    total = self.bias
    for w, i in zip(self.weights, inputs):
      total += w * i
    self.output = _sigmoid(total)
    return self.output

  def delta_from_target(self, target):
    """dE/dnet for an output neuron."""
    return (self.output - target) * self.output * (1 - self.output)


class NeuronLayer:
  def __init__(self, weights, bias, n):
    k = len(weights) // n
    self.neurons = [Neuron(weights[j * k:(j + 1) * k], bias) for j in range(n)]

  def feed_forward(self, inputs):
    return [n.calculate_output(inputs) for n in self.neurons]


class NeuralNetwork:
  """The reference program's shape: layers of neuron objects, updated one weight at a time."""

  def __init__(self, sequential):
    self.hidden = NeuronLayer(W1, B1, 2)
    self.output = NeuronLayer(W2, B2, 2)
    self.sequential = sequential

  def feed_forward(self, inputs):
    return self.output.feed_forward(self.hidden.feed_forward(inputs))

  def _hidden_deltas(self, out_deltas):
    deltas = []
    for h, hidden in enumerate(self.hidden.neurons):
      d = 0.0
      for o, neuron in enumerate(self.output.neurons):
        d += out_deltas[o] * neuron.weights[h]
      deltas.append(d * hidden.output * (1 - hidden.output))
    return deltas

  def train(self, inputs, targets, lr):
    self.feed_forward(inputs)
    out_deltas = [n.delta_from_target(t) for n, t in zip(self.output.neurons, targets)]
    if not self.sequential:
      hidden_deltas = self._hidden_deltas(out_deltas)
    for o, neuron in enumerate(self.output.neurons):
      for k in range(len(neuron.weights)):
        neuron.weights[k] -= lr * out_deltas[o] * neuron.inputs[k]
    if self.sequential:  # the reference program: through the output weights just updated
      hidden_deltas = self._hidden_deltas(out_deltas)
    for h, neuron in enumerate(self.hidden.neurons):
      for k in range(len(neuron.weights)):
        neuron.weights[k] -= lr * hidden_deltas[h] * neuron.inputs[k]

  def total_error(self, inputs, targets):
    out = self.feed_forward(inputs)
    return sum(0.5 * (t - o) ** 2 for t, o in zip(targets, out))


def object_program(steps, sequential):
  net = NeuralNetwork(sequential)
  for _ in range(steps):
    net.train(X, Y, LR)
  return net.total_error(X, Y)


def flat_python(steps, sequential):
  """The same arithmetic on Python floats, unrolled, no objects."""
  w1, w2, w3, w4 = W1
  w5, w6, w7, w8 = W2
  x1, x2 = X
  y1, y2 = Y
  exp = math.exp
  for _ in range(steps):
    h1 = 1 / (1 + exp(-(w1 * x1 + w2 * x2 + B1)))
    h2 = 1 / (1 + exp(-(w3 * x1 + w4 * x2 + B1)))
    o1 = 1 / (1 + exp(-(w5 * h1 + w6 * h2 + B2)))
    o2 = 1 / (1 + exp(-(w7 * h1 + w8 * h2 + B2)))
    d1 = (o1 - y1) * o1 * (1 - o1)
    d2 = (o2 - y2) * o2 * (1 - o2)
    v5, v6, v7, v8 = w5, w6, w7, w8
    w5 -= LR * d1 * h1
    w6 -= LR * d1 * h2
    w7 -= LR * d2 * h1
    w8 -= LR * d2 * h2
    if sequential:
      v5, v6, v7, v8 = w5, w6, w7, w8
    e1 = (d1 * v5 + d2 * v7) * h1 * (1 - h1)
    e2 = (d1 * v6 + d2 * v8) * h2 * (1 - h2)
    w1 -= LR * e1 * x1
    w2 -= LR * e1 * x2
    w3 -= LR * e2 * x1
    w4 -= LR * e2 * x2
  h1 = 1 / (1 + exp(-(w1 * x1 + w2 * x2 + B1)))
  h2 = 1 / (1 + exp(-(w3 * x1 + w4 * x2 + B1)))
  o1 = 1 / (1 + exp(-(w5 * h1 + w6 * h2 + B2)))
  o2 = 1 / (1 + exp(-(w7 * h1 + w8 * h2 + B2)))
  return 0.5 * (y1 - o1) ** 2 + 0.5 * (y2 - o2) ** 2


def numpy_loop(steps, sequential, dtype):
  a = lambda v: np.asarray(v, dtype)  # noqa: E731
  w1, w2 = a(W1).reshape(2, 2), a(W2).reshape(2, 2)
  b1, b2, x, y, lr = a(B1), a(B2), a(X), a(Y), a(LR)
  one = a(1)
  sig = lambda z: one / (one + np.exp(-z))  # noqa: E731
  for _ in range(steps):
    h = sig(w1 @ x + b1)
    o = sig(w2 @ h + b2)
    d = (o - y) * o * (one - o)
    new2 = w2 - lr * np.outer(d, h)
    dh = ((new2 if sequential else w2).T @ d) * h * (one - h)
    w1 = w1 - lr * np.outer(dh, x)
    w2 = new2
  o = sig(w2 @ sig(w1 @ x + b1) + b2)
  return float(np.sum(0.5 * (y - o) ** 2))


def torch_loop(torch, steps, dtype):
  """PyTorch eager autograd, simultaneous order: all gradients at the same weights."""
  t = lambda v: torch.tensor(v, dtype=dtype)  # noqa: E731
  w1 = t(W1).reshape(2, 2).requires_grad_()
  w2 = t(W2).reshape(2, 2).requires_grad_()
  x, y = t(X), t(Y)

  def loss():
    out = torch.sigmoid(w2 @ torch.sigmoid(w1 @ x + B1) + B2)
    return 0.5 * torch.sum((y - out) ** 2)

  for _ in range(steps):
    E = loss()
    E.backward()
    with torch.no_grad():
      w1 -= LR * w1.grad
      w2 -= LR * w2.grad
    w1.grad = None
    w2.grad = None
  with torch.no_grad():
    return float(loss())


def jit_step_loop(jax, jbp, ex, steps, sequential):
  """A Python loop calling a jitted step: the usual way to train with JAX, one dispatch a step."""
  step = _jitted_step(jax, jbp, sequential)
  params = ex.params
  lr = np.asarray(LR, ex.params[0].w.dtype)
  for _ in range(steps):
    params = step(params, ex.inputs, ex.targets, lr)
  return float(jbp.loss(params, ex.inputs, ex.targets))


def xla_loop(jax, steps, sequential, dtype):
  """The C loop's arithmetic written by hand in ``jax.numpy``, in one bare jitted ``lax.fori_loop``.

  No autodiff, no optimizer, no checks: the weights one array of 8, each step's E written to an
  array that the program returns. XLA's fusion decides how many kernels a step takes, and the form
  decides it: with the losses left out, the step became one kernel that recomputes the sigmoids
  for each weight it writes, and ran 1.5x (float32) and 6x (float64) the C loop's time
  (``benchmarks/README.md``).
  """
  jnp = jax.numpy
  sig = lambda z: 1 / (1 + jnp.exp(-z))  # noqa: E731
  (x1, x2), (y1, y2) = X, Y

  def forward(w):
    h1 = sig(w[0] * x1 + w[1] * x2 + B1)
    h2 = sig(w[2] * x1 + w[3] * x2 + B1)
    return h1, h2, sig(w[4] * h1 + w[5] * h2 + B2), sig(w[6] * h1 + w[7] * h2 + B2)

  def error(o1, o2):
    return 0.5 * (y1 - o1) ** 2 + 0.5 * (y2 - o2) ** 2

  def step(i, carry):
    w, E = carry
    h1, h2, o1, o2 = forward(w)
    d1 = (o1 - y1) * o1 * (1 - o1)
    d2 = (o2 - y2) * o2 * (1 - o2)
    out = [w[4] - LR * d1 * h1, w[5] - LR * d1 * h2, w[6] - LR * d2 * h1, w[7] - LR * d2 * h2]
    v5, v6, v7, v8 = out if sequential else (w[4], w[5], w[6], w[7])
    e1 = (d1 * v5 + d2 * v7) * h1 * (1 - h1)
    e2 = (d1 * v6 + d2 * v8) * h2 * (1 - h2)
    new = [w[0] - LR * e1 * x1, w[1] - LR * e1 * x2, w[2] - LR * e2 * x1, w[3] - LR * e2 * x2] + out
    return jnp.stack(new), E.at[i].set(error(o1, o2))

  @jax.jit
  def run(w):
    w, E = jax.lax.fori_loop(0, steps, step, (w, jnp.zeros(steps, w.dtype)))
    return error(*forward(w)[2:]), E

  w = jnp.asarray(W1 + W2, dtype)
  return lambda: float(run(w)[0])


_STEPS = {}


def _jitted_step(jax, jbp, sequential):
  if sequential not in _STEPS:
    from jbp._backprop import delta_rule

    sigmoid = jbp.ACTIVATIONS["sigmoid"]

    def step(params, x, y, lr):
      if sequential:
        update = lambda l, layer, g: jbp.Layer(layer.w - lr * g.w, layer.b)  # noqa: E731
        return delta_rule(params, x, y, sigmoid, step=update)[2]
      grads = jax.grad(jbp.loss)(params, x, y)
      return tuple(jbp.Layer(p.w - lr * g.w, p.b) for p, g in zip(params, grads))

    _STEPS[sequential] = jax.jit(step)
  return _STEPS[sequential]


C_SOURCE = r"""
#include <math.h>
#define DEF(NAME, REAL, EXP)                                                          \
double NAME(int steps, int seq, REAL lr, REAL *w, REAL b1, REAL b2,                 \
            const REAL *x, const REAL *y) {                                         \
  REAL h[2], o[2], d[2], e[2], v[4];                                                \
  for (int s = 0; s <= steps; s++) {                                                \
    h[0] = 1 / (1 + EXP(-(w[0] * x[0] + w[1] * x[1] + b1)));                         \
    h[1] = 1 / (1 + EXP(-(w[2] * x[0] + w[3] * x[1] + b1)));                         \
    o[0] = 1 / (1 + EXP(-(w[4] * h[0] + w[5] * h[1] + b2)));                         \
    o[1] = 1 / (1 + EXP(-(w[6] * h[0] + w[7] * h[1] + b2)));                         \
    if (s == steps) break;                                                          \
    d[0] = (o[0] - y[0]) * o[0] * (1 - o[0]);                                       \
    d[1] = (o[1] - y[1]) * o[1] * (1 - o[1]);                                       \
    for (int i = 0; i < 4; i++) v[i] = w[4 + i];                                    \
    w[4] -= lr * d[0] * h[0]; w[5] -= lr * d[0] * h[1];                              \
    w[6] -= lr * d[1] * h[0]; w[7] -= lr * d[1] * h[1];                              \
    if (seq) for (int i = 0; i < 4; i++) v[i] = w[4 + i];                           \
    e[0] = (d[0] * v[0] + d[1] * v[2]) * h[0] * (1 - h[0]);                         \
    e[1] = (d[0] * v[1] + d[1] * v[3]) * h[1] * (1 - h[1]);                         \
    w[0] -= lr * e[0] * x[0]; w[1] -= lr * e[0] * x[1];                              \
    w[2] -= lr * e[1] * x[0]; w[3] -= lr * e[1] * x[1];                              \
  }                                                                                 \
  return 0.5 * ((double)(y[0] - o[0]) * (y[0] - o[0]) + (double)(y[1] - o[1]) * (y[1] - o[1])); \
}
DEF(train_f32, float, expf)
DEF(train_f64, double, exp)
"""


def build_c(workdir):
  """Compiles the C loop with the system's cc -O3; returns (library, compiler version) or (None, why)."""
  cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
  if not cc:
    return None, "no C compiler found"
  src = os.path.join(workdir, "loop.c")
  lib = os.path.join(workdir, "loop.so")
  with open(src, "w") as f:
    f.write(C_SOURCE)
  try:
    subprocess.run([cc, "-O3", "-shared", "-fPIC", "-o", lib, src, "-lm"], check=True,
                   capture_output=True, text=True, timeout=60)
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return ctypes.CDLL(lib), version
  except (subprocess.SubprocessError, OSError) as e:
    return None, f"cc failed: {e}"


def c_loop(lib, steps, sequential, dtype):
  f32 = dtype == np.float32
  fn = lib.train_f32 if f32 else lib.train_f64
  ct = ctypes.c_float if f32 else ctypes.c_double
  ptr = ctypes.POINTER(ct)
  fn.restype = ctypes.c_double
  fn.argtypes = [ctypes.c_int, ctypes.c_int, ct, ptr, ct, ct, ptr, ptr]
  w = np.asarray(W1 + W2, dtype)
  x, y = np.asarray(X, dtype), np.asarray(Y, dtype)
  return fn(steps, int(sequential), LR, w.ctypes.data_as(ptr), B1, B2, x.ctypes.data_as(ptr),
            y.ctypes.data_as(ptr))


# ---------------------------------------------------------------- timing


class Row:
  def __init__(self, name, dtype, order, run, note=""):
    self.name, self.dtype, self.order, self.run, self.note = name, dtype, order, run, note
    self.times = []
    self.E = None
    self.reps = 1

  def once(self):
    t = time.perf_counter()
    E = self.run()
    self.times.append(time.perf_counter() - t)
    return E


def jbp_run(jbp, ex, steps, order, unroll=1):
  """One jbp.train call as a user makes it; the losses come back to the host (which waits for them)."""
  _, losses = jbp.train(ex.params, ex.inputs, ex.targets, steps=steps, learning_rate=LR, update=order,
                        record_every=steps, unroll=unroll)
  return float(np.asarray(losses)[-1])


def loop_body(hlo_text):
  """``{op: count}`` of the innermost loop body (a while body with no loop in it) of an optimized HLO text.

  The training program's loop body is one step; its fused kernels and copies are what a step costs.
  """
  bodies, name, ops = {}, None, []
  for line in hlo_text.splitlines():
    head = re.match(r"^(?:ENTRY )?%(\S+) .*\{$", line)
    if head:
      name, ops = head.group(1), []
    elif line == "}" and name:
      bodies[name], name = ops, None
    elif name:
      rest = re.match(r"^\s+(?:ROOT )?%\S+ = (.*)$", line)
      if rest:
        text = rest.group(1)
        if text.startswith("("):  # a tuple shape: skip its balanced parentheses
          depth = 0
          for i, ch in enumerate(text):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0:
              text = text[i + 1:]
              break
        op = re.match(r"^\s*(?:\S+\s)?\s*([\w\-]+)\(", text)
        ops.append(op.group(1) if op else "?")
  loops = [b for b in re.findall(r"while\(.*?body=%?([\w.\-]+)", hlo_text) if b in bodies]
  inner = [b for b in loops if "while" not in bodies[b]]
  if not inner:
    return {}
  ops = bodies[inner[0]]
  return {op: ops.count(op) for op in sorted(set(ops))}


def program_run(jbp, ex, steps, order, unroll=1, kernels=None):
  """The compiled program of the jbp.train call above, called directly (no checks, no jit dispatch).

  ``kernels``, a dict, gets the op counts of the program's loop body (:func:`loop_body`).
  """
  from jbp import _options, _train

  opts, values, _ = _options.make_options(
      ex.params, ex.inputs, ex.targets, steps=steps, learning_rate=LR, update=order, record_every=steps,
      activation="sigmoid", optimizer=None, trainable="weights", reduction="sum", form="auto",
      unroll=unroll)
  compiled = _train.train_program.lower(ex.params, ex.inputs, ex.targets, values, opts).compile()
  if kernels is not None:
    kernels.update(loop_body(compiled.as_text()))
  return lambda: float(np.asarray(compiled(ex.params, ex.inputs, ex.targets, values)[1])[-1])


def jbp_rows(jax, jbp, steps, unroll=1):
  """The jbp.train rows, each timed once cold (trace + compile + run) before the rounds."""
  rows, compile_s, recompiled, kernels = [], {}, {}, {}
  records = []

  class Count(logging.Handler):
    def emit(self, record):
      if "Compiling" in record.getMessage() and "_train_program" in record.getMessage():
        records.append(record)

  logger = logging.getLogger("jax")
  handler = Count()
  logger.addHandler(handler)
  try:
    for dtype in ("float32", "float64"):
      ex = jbp.worked_example(getattr(jax.numpy, dtype))
      for order in ORDERS:
        run = partial(jbp_run, jbp, ex, steps, order, unroll)
        with jax.log_compiles(True):
          logger.setLevel(logging.WARNING)
          t = time.perf_counter()
          run()
          cold = time.perf_counter() - t
          before = len(records)
          warm = []
          for _ in range(3):
            t = time.perf_counter()
            run()
            warm.append(time.perf_counter() - t)
          recompiled[(dtype, order)] = len(records) > before
        compile_s[(dtype, order)] = max(0.0, cold - min(warm))
        rows.append(Row("jbp.train", dtype, order, run))
        kernels[(dtype, order)] = {}
        rows.append(Row("jbp program", dtype, order,
                        program_run(jbp, ex, steps, order, unroll, kernels[(dtype, order)])))
  finally:
    logger.removeHandler(handler)
  return rows, compile_s, recompiled, kernels


def measure(rows, rounds, budget_s):
  """Interleaved rounds; a fast row runs several times a round so each round takes about budget_s."""
  for row in rows:
    row.E = row.once()  # warm-up, and the row's final error
    row.reps = max(1, min(50, int(budget_s / max(row.times[-1], 1e-6))))
    row.times.clear()
  for _ in range(rounds):
    for row in rows:
      for _ in range(row.reps):
        E = row.once()
        if E != row.E and not (math.isnan(E) and math.isnan(row.E)):
          row.note = (row.note + "; " if row.note else "") + "E varied between runs"


# ---------------------------------------------------------------- report


TOLERANCE = {"float64": 1e-9, "float32": 1e-3}  # relative, on E after all steps; see the README


def agrees(row, ref):
  return ref is not None and abs(row.E - ref.E) <= TOLERANCE[row.dtype] * abs(ref.E)


def table(rows, steps):
  ref = {(r.dtype, r.order): r for r in rows if r.name == "jbp.train"}
  lines = [f"| implementation | dtype | order | median ms | min ms | max ms | x jbp | E after {steps:,} "
           "| agrees |",
           "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
  for r in rows:
    j = ref.get((r.dtype, r.order))
    med = np.median(r.times) * 1e3
    ratio = f"{med / (np.median(j.times) * 1e3):.2f}" if j else "-"
    ok = "yes" if agrees(r, j) else "NO"
    note = f" ({r.note})" if r.note else ""
    lines.append(f"| {r.name}{note} | {r.dtype} | {r.order} | {med:.3f} | {min(r.times) * 1e3:.3f} | "
                 f"{max(r.times) * 1e3:.3f} | {ratio} | {r.E:.9e} | {ok} |")
  return "\n".join(lines)


def machine(jax, torch, c_version):
  cpu = platform.processor()
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
  except OSError:
    pass
  versions = {"python": platform.python_version(), "numpy": np.__version__, "jax": jax.__version__}
  for name in ("jaxlib", "optax"):
    try:
      versions[name] = __import__(name).__version__
    except ImportError:
      pass
  versions["torch"] = torch.__version__ if torch else None
  versions["cc"] = c_version
  return {
      "platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(),
      "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
      "jax_backend": jax.default_backend(), "jax_devices": [str(d) for d in jax.devices()],
      "versions": versions,
  }


def summary(rows, compile_s, recompiled, kernels):
  med = {(r.name, r.dtype, r.order): np.median(r.times) for r in rows}
  lines = ["| jbp.train | compile s | recompiled on a second call | loop body: fusions, copies | x C -O3 "
           "| program x C -O3 | XLA loop x C -O3 | checks + dispatch µs | object program / jbp "
           "| NumPy / jbp |",
           "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
  for (dtype, order), c in compile_s.items():
    j = med[("jbp.train", dtype, order)]
    prog = med.get(("jbp program", dtype, order))
    cx = med.get(("C -O3", dtype, order))
    xla = med.get(("XLA loop", dtype, order))
    obj = med.get(("object program", "float64", order))
    npy = med.get(("NumPy", dtype, order))
    f = lambda v: f"{v:.2f}" if v is not None else "-"  # noqa: E731
    over = lambda a, b: a / b if a is not None and b else None  # noqa: E731
    k = kernels.get((dtype, order), {})
    lines.append(f"| {dtype} {order} | {c:.3f} | {'yes' if recompiled[(dtype, order)] else 'no'} | "
                 f"{k.get('fusion', 0)}, {k.get('copy', 0)} | {f(over(j, cx))} | {f(over(prog, cx))} | "
                 f"{f(over(xla, cx))} | "
                 f"{f((j - prog) * 1e6 if prog else None)} | "
                 f"{f(over(obj, j))} | {f(over(npy, j))} |")
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", metavar="DIR", help="write DIR/single.md and DIR/single.json")
  parser.add_argument("--force", action="store_true", help="overwrite DIR/single.* if they exist")
  parser.add_argument("--quick", action="store_true", help="a smoke test: 200 steps, 2 rounds")
  parser.add_argument("--steps", type=int, help="updates a run (default 10,000; --quick: 200)")
  parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; --quick: 2)")
  parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
  parser.add_argument("--no-c", action="store_true", help="leave the C loop out")
  parser.add_argument("--unroll", type=int, default=1, help="jbp.train's unroll: steps a loop iteration")
  parser.add_argument("--jbp-only", action="store_true", help="only the jbp rows and the C loop")
  args = parser.parse_args(argv)
  steps = args.steps if args.steps is not None else (200 if args.quick else 10_000)
  rounds = args.rounds if args.rounds is not None else (2 if args.quick else 5)
  if steps < 1 or rounds < 1 or args.unroll < 1:
    parser.error(f"--steps, --rounds and --unroll: expected integers >= 1, got {steps}, {rounds} and "
                 f"{args.unroll}")
  outputs = []
  if args.out:
    outputs = [os.path.join(args.out, "single.md"), os.path.join(args.out, "single.json")]
    existing = [p for p in outputs if os.path.exists(p)]
    if existing and not args.force:
      parser.error(f"--out: {', '.join(existing)} exists; pass --force to overwrite or name another folder")

  import jax

  jax.config.update("jax_enable_x64", True)  # this script's own process: float64 rows need it
  import jbp

  torch = None
  if not args.no_torch:
    try:
      import torch
    except ImportError:
      torch = None

  rows, compile_s, recompiled, kernels = jbp_rows(jax, jbp, steps, args.unroll)
  with tempfile.TemporaryDirectory() as tmp:
    lib, c_version = (None, "left out") if args.no_c else build_c(tmp)
    for dtype in ("float32", "float64"):
      for order in ORDERS:
        seq = order == "sequential"
        if lib is not None:
          rows.append(Row("C -O3", dtype, order, partial(c_loop, lib, steps, seq, np.dtype(dtype))))
        rows.append(Row("XLA loop", dtype, order, xla_loop(jax, steps, seq, np.dtype(dtype))))
    ex64 = jbp.worked_example(jax.numpy.float64)
    for order in () if args.jbp_only else ORDERS:
      seq = order == "sequential"
      rows.append(Row("object program", "float64", order, partial(object_program, steps, seq)))
      rows.append(Row("flat Python", "float64", order, partial(flat_python, steps, seq)))
      for dtype in ("float32", "float64"):
        rows.append(Row("NumPy", dtype, order, partial(numpy_loop, steps, seq, np.dtype(dtype))))
      rows.append(Row("jit step loop", "float64", order, partial(jit_step_loop, jax, jbp, ex64, steps, seq)))
    if torch is not None and not args.jbp_only:
      for dtype in ("float32", "float64"):
        rows.append(Row("PyTorch eager", dtype, "simultaneous",
                        partial(torch_loop, torch, steps, getattr(torch, dtype))))
    measure(rows, rounds, budget_s=0.02 if args.quick else 0.05)

  rows.sort(key=lambda r: (r.dtype, r.order, np.median(r.times)))
  body = table(rows, steps)
  extra = summary(rows, compile_s, recompiled, kernels)
  skipped = []
  if lib is None:
    skipped.append(f"C loop: {c_version}")
  if torch is None:
    skipped.append("PyTorch: " + ("left out" if args.no_torch else "not installed"))
  info = machine(jax, torch, c_version if lib is not None else None)
  head = (f"Worked example, {steps:,} steps (jbp unroll {args.unroll}), {rounds} interleaved rounds, "
          f"one process; "
          f"{info['cpu']} ({info['cpus']} CPUs), JAX {jax.__version__} on {jax.default_backend()}.")
  text = "\n\n".join([head, body, extra] + (["Skipped: " + "; ".join(skipped)] if skipped else []))
  print(text)
  bad = [r for r in rows if not agrees(r, next((j for j in rows if j.name == "jbp.train" and
                                                  (j.dtype, j.order) == (r.dtype, r.order)), None))]
  if args.out:
    os.makedirs(args.out, exist_ok=True)
    with open(outputs[0], "w") as f:
      f.write(text + "\n")
    record = {
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "steps": steps, "rounds": rounds, "machine": info, "skipped": skipped,
        "compile_s": {f"{d} {o}": v for (d, o), v in compile_s.items()},
        "recompiled_on_second_call": {f"{d} {o}": v for (d, o), v in recompiled.items()},
        "loop_body_ops": {f"{d} {o}": v for (d, o), v in kernels.items()},
        "rows": [{"name": r.name, "dtype": r.dtype, "order": r.order, "note": r.note,
                  "times_s": r.times, "median_s": float(np.median(r.times)), "min_s": min(r.times),
                  "max_s": max(r.times), "final_E": r.E, "agrees": r not in bad} for r in rows],
    }
    with open(outputs[1], "w") as f:
      json.dump(record, f, indent=1)
    print(f"\nwrote {outputs[0]} and {outputs[1]}")
  if bad:
    print("rows whose final E disagrees with jbp's: " + ", ".join(f"{r.name} {r.dtype} {r.order}"
                                                                   for r in bad), file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
