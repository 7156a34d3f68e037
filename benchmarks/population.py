"""Network-steps per second of jbp.train_many against three baselines, on the worked example.

Every case trains a population of n 2-2-2 sigmoid networks (the worked example's
shape, each member its own uniform [0, 1) initialization, shared biases fixed, plain
gradient descent, learning rate 0.5, float32) for 10,000 full-batch steps and records
the loss every 1,000 steps. Four implementations:

* ``train_many``: ``jbp.train_many`` (on a CPU: the unrolled form, population last, the members
  split over the cores in threads, each share in cache-sized blocks).
* ``C SIMD``: the same loop in C, written here and compiled with ``cc -O3 -march=native
  -fopenmp``: the population in the vector lanes (16 members a 512-bit vector where the CPU
  has AVX-512, as ``train_many``'s program uses; else 8 a 256-bit vector; glibc's vector
  ``expf``), each block of two vectors held in registers through all the steps, the blocks
  split over 2 threads (``OMP_NUM_THREADS=2``).
* ``jit(vmap(train))``: the naive JAX program, written here: one network's step with
  ``jax.grad`` of ``w @ a``, a ``lax.scan`` over steps, ``jax.vmap`` over members, ``jax.jit``.
* ``numpy``: the same training loop in NumPy, vectorized over the population.

``--big`` measures populations past the cache instead: ``train_many`` alone,
``record="final"``, 100 steps, n = 100,000, 1,000,000 and 10,000,000, with the bytes of
the params and the recorded losses beside the peak memory the run added.

Each case runs in its own subprocess, so its peak resident memory
(``resource.getrusage(...).ru_maxrss``, which includes the Python and JAX runtime)
is its own. Each JAX case is called once to compile, untimed, then timed on a second call.
"cores busy" is the case's CPU seconds (all its threads) over its wall seconds: on a
machine shared with other work it shows whether the case had the cores it could use.

Usage::

    python benchmarks/population.py                 # n = 100, 10,000, 100,000
    python benchmarks/population.py --big           # n = 1e5, 1e6, 1e7, 100 steps, final loss only
    python benchmarks/population.py --quick         # a smoke test: n = 1, 100; 20 steps
    python benchmarks/population.py --json out.json
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

METHODS = ("train_many", "C SIMD", "jit(vmap(train))", "numpy")
# Run only when named in --methods: the C loop on 256-bit vectors even where the CPU has wider ones.
EXTRA_METHODS = ("C SIMD 256",)
LEARNING_RATE = 0.5
C_FLAGS = ["-O3", "-march=native", "-fopenmp"]
C_THREADS = 2


def _population(n):
  import jax

  import jbp

  return jbp.init_many(jax.random.key(0), n, (2, 2, 2), method="uniform", shared_bias=True)


UNROLL = int(os.environ["JBP_BENCH_UNROLL"]) if os.environ.get("JBP_BENCH_UNROLL") else None  # --unroll


def _case_train_many(n, steps, record_every):
  import jax

  import jbp

  ex = jbp.worked_example()
  pop = _population(n)
  record = dict(record="final") if record_every == steps else dict(record_every=record_every)
  # jbp.train_many called as a user calls it (on a CPU it splits the members over the cores, one
  # thread a share, which a call inside jax.jit cannot); the first call compiles and is not timed.
  run = lambda p: jbp.train_many(p, ex.inputs, ex.targets, steps=steps, learning_rate=LEARNING_RATE,
                                 unroll=UNROLL, **record)
  jax.block_until_ready(run(pop))
  base = _reset_peak_rss()
  with _Clock() as clock:
    res = jax.block_until_ready(run(pop))
  clock.added_kib = _peak_rss_kib() - base if base is not None else float("nan")
  clock.data_bytes = sum(a.nbytes for a in jax.tree_util.tree_leaves(pop)) + res.losses.nbytes
  return clock, float(res.losses[:, -1].mean())


def _status_kib(field):
  with open("/proc/self/status") as f:
    return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _reset_peak_rss():
  """Resets the process's peak resident memory (Linux: /proc/self/clear_refs) and returns the
  current one in KiB, so that the peak after a run is the run's own; None where that cannot be done."""
  gc.collect()
  time.sleep(0.1)  # let freed buffers of the set-up go back to the system first
  try:
    with open("/proc/self/clear_refs", "w") as f:
      f.write("5")
    return _status_kib("VmRSS")
  except (OSError, StopIteration):
    return None


def _peak_rss_kib():
  return _status_kib("VmHWM")


C_SOURCE = r"""
/* The worked example for a population, population in the vector lanes: LANES members a vector (16 a
   512-bit vector where the CPU has AVX-512, else 8 a 256-bit one), K vectors a block, each block's
   weights held in registers through all the steps. */
#include <immintrin.h>
#define K 2
#if LANES == 16
typedef float vf __attribute__((vector_size(64)));
__m512 _ZGVeN16v_expf(__m512); /* glibc's vector expf (libmvec) */
static inline vf sig(vf v) { return 1.0f / (1.0f + (vf)_ZGVeN16v_expf((__m512)(-v))); }
#else
#define LANES 8
typedef float vf __attribute__((vector_size(32)));
__m256 _ZGVdN8v_expf(__m256); /* glibc's vector expf (libmvec) */
static inline vf sig(vf v) { return 1.0f / (1.0f + (vf)_ZGVdN8v_expf((__m256)(-v))); }
#endif

/* w[q * n + m]: weight q (w1..w8) of member m; losses[m * R + r], R = steps / record_every + 1. */
void train(long n, int steps, int record_every, float lr, float *w, const float *b1, const float *b2,
           const float *x, const float *y, float *losses) {
  const int R = steps / record_every + 1;
  const float x0 = x[0], x1 = x[1], y0 = y[0], y1 = y[1];
  const long B = LANES * K;
  #pragma omp parallel for schedule(static)
  for (long m0 = 0; m0 < n; m0 += B) {
    vf W[8][K], c1[K], c2[K];
    const long len = n - m0 < B ? n - m0 : B;
    for (int k = 0; k < K; k++)
      for (int l = 0; l < LANES; l++) {
        long m = m0 + (k * LANES + l < len ? k * LANES + l : 0);
        for (int q = 0; q < 8; q++) W[q][k][l] = w[q * n + m];
        c1[k][l] = b1[m]; c2[k][l] = b2[m];
      }
    for (int s = 0; s <= steps; s++) {
      for (int k = 0; k < K; k++) {
        vf h0 = sig(W[0][k] * x0 + W[1][k] * x1 + c1[k]), h1 = sig(W[2][k] * x0 + W[3][k] * x1 + c1[k]);
        vf o0 = sig(W[4][k] * h0 + W[5][k] * h1 + c2[k]), o1 = sig(W[6][k] * h0 + W[7][k] * h1 + c2[k]);
        if (s % record_every == 0) {
          vf E = 0.5f * ((y0 - o0) * (y0 - o0) + (y1 - o1) * (y1 - o1));
          for (int l = 0; l < LANES && k * LANES + l < len; l++)
            losses[(m0 + k * LANES + l) * R + s / record_every] = E[l];
        }
        if (s == steps) continue;
        vf d0 = (o0 - y0) * o0 * (1 - o0), d1 = (o1 - y1) * o1 * (1 - o1);
        vf e0 = (d0 * W[4][k] + d1 * W[6][k]) * h0 * (1 - h0);
        vf e1 = (d0 * W[5][k] + d1 * W[7][k]) * h1 * (1 - h1);
        W[4][k] -= lr * d0 * h0; W[5][k] -= lr * d0 * h1; W[6][k] -= lr * d1 * h0; W[7][k] -= lr * d1 * h1;
        W[0][k] -= lr * e0 * x0; W[1][k] -= lr * e0 * x1; W[2][k] -= lr * e1 * x0; W[3][k] -= lr * e1 * x1;
      }
    }
    for (int k = 0; k < K; k++)
      for (int l = 0; l < LANES && k * LANES + l < len; l++)
        for (int q = 0; q < 8; q++) w[q * n + m0 + k * LANES + l] = W[q][k][l];
  }
}
"""


def build_c_simd(folder, lanes=None):
  """Compiles the C loop into ``folder`` for ``lanes`` members a vector (default: the widest vectors the
  CPU has); returns ``(its train function, members a vector)``, or raises RuntimeError why it cannot."""
  cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
  if not cc:
    raise RuntimeError("no C compiler found")
  src = os.path.join(folder, "population.c")
  with open(src, "w") as f:
    f.write(C_SOURCE)
  errors = []
  for width in (lanes,) if lanes else (16, 8) if _has_avx512() else (8,):
    lib = os.path.join(folder, f"population{width}.so")
    cmd = [cc, *C_FLAGS, f"-DLANES={width}", "-shared", "-fPIC", "-o", lib, src, "-lmvec", "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode == 0:
      return ctypes.CDLL(lib).train, width
    errors.append(proc.stderr.strip()[:300])
  raise RuntimeError(f"{cc} {' '.join(C_FLAGS)} failed: {errors[-1]}")


def _has_avx512():
  try:
    with open("/proc/cpuinfo") as f:
      return " avx512f" in f.read()
  except OSError:
    return False


def _case_c_simd(n, steps, record_every, lanes=None):
  import numpy as np

  import jbp

  with tempfile.TemporaryDirectory() as tmp:
    train, _ = build_c_simd(tmp, lanes)
  floats = ctypes.POINTER(ctypes.c_float)
  train.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_int, ctypes.c_float] + [floats] * 6
  ex = jbp.worked_example()
  pop = _population(n)
  w = np.ascontiguousarray(np.concatenate([np.asarray(pop[0].w).reshape(n, 4).T,
                                           np.asarray(pop[1].w).reshape(n, 4).T]), np.float32)
  b1, b2 = (np.ascontiguousarray(pop[l].b, np.float32) for l in (0, 1))
  x, y = (np.ascontiguousarray(a, np.float32) for a in (ex.inputs, ex.targets))
  losses = np.zeros((n, steps // record_every + 1), np.float32)
  ptr = lambda a: a.ctypes.data_as(floats)
  with _Clock() as clock:
    train(n, steps, record_every, LEARNING_RATE, ptr(w), ptr(b1), ptr(b2), ptr(x), ptr(y), ptr(losses))
  return clock, float(losses[:, -1].mean())


def _case_naive(n, steps, record_every):
  import jax
  import jax.numpy as jnp
  from jax import lax

  import jbp

  ex = jbp.worked_example()
  x, y = ex.inputs, ex.targets

  def loss(w, b):  # one network; w = (w_hidden, w_output), b fixed
    h = jax.nn.sigmoid(w[0] @ x + b[0])
    out = jax.nn.sigmoid(w[1] @ h + b[1])
    return 0.5 * jnp.sum((y - out) ** 2)

  def train(w, b):
    def step(w, _):
      E, g = jax.value_and_grad(loss)(w, b)
      return jax.tree_util.tree_map(lambda a, d: a - LEARNING_RATE * d, w, g), E

    def chunk(w, _):
      w, E = lax.scan(step, w, None, length=record_every)
      return w, E[0]

    w, recorded = lax.scan(chunk, w, None, length=steps // record_every)
    return w, jnp.append(recorded, loss(w, b))

  pop = _population(n)
  w, b = (pop[0].w, pop[1].w), (pop[0].b, pop[1].b)
  compiled = jax.jit(jax.vmap(train)).lower(w, b).compile()
  with _Clock() as clock:
    _, losses = jax.block_until_ready(compiled(w, b))
  return clock, float(losses[:, -1].mean())


def _case_numpy(n, steps, record_every):
  import numpy as np

  import jbp

  ex = jbp.worked_example()
  x, y = np.asarray(ex.inputs), np.asarray(ex.targets)
  pop = _population(n)
  w1, w2 = np.array(pop[0].w), np.array(pop[1].w)  # (n, 2, 2)
  b1, b2 = np.asarray(pop[0].b)[:, None], np.asarray(pop[1].b)[:, None]  # (n, 1)
  lr = np.float32(LEARNING_RATE)
  recorded = []
  with _Clock() as clock:
    _numpy_loop(x, y, w1, w2, b1, b2, lr, steps, record_every, recorded)
  return clock, float(recorded[-1].mean())


def _numpy_loop(x, y, w1, w2, b1, b2, lr, steps, record_every, recorded):
  import numpy as np

  sig = lambda v: 1 / (1 + np.exp(-v))
  for k in range(steps + 1):
    h = sig(w1 @ x + b1)  # (n, 2)
    out = sig(np.einsum("nji,ni->nj", w2, h) + b2)
    err = out - y
    if k % record_every == 0:
      recorded.append(0.5 * np.sum(err * err, axis=1))
    if k == steps:
      break
    d2 = err * out * (1 - out)
    d1 = np.einsum("nji,nj->ni", w2, d2) * h * (1 - h)
    w2 -= lr * d2[:, :, None] * h[:, None, :]
    w1 -= lr * d1[:, :, None] * x[None, None, :]


class _Clock:
  """Wall and CPU seconds (all of this process's threads) of a block."""

  def __enter__(self):
    self.wall, self.cpu = time.perf_counter(), time.process_time()
    return self

  def __exit__(self, *exc):
    self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


CASES = {"train_many": _case_train_many, "C SIMD": _case_c_simd,
         "C SIMD 256": lambda *a: _case_c_simd(*a, lanes=8), "jit(vmap(train))": _case_naive,
         "numpy": _case_numpy}


def run_case(method, n, steps, record_every):
  """Runs one case in this process and returns its row."""
  clock, mean_final = CASES[method](n, steps, record_every)
  peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
  row = dict(method=method, n=n, steps=steps, seconds=clock.wall, cpu_seconds=clock.cpu,
             network_steps_per_s=n * steps / clock.wall, peak_rss_mib=peak_kib / 1024,
             mean_final_loss=mean_final)
  if hasattr(clock, "added_kib"):
    row.update(added_mib=clock.added_kib / 1024, data_mib=clock.data_bytes / 2**20)
  return row


def run_in_subprocess(method, n, steps, record_every):
  cmd = [sys.executable, os.path.abspath(__file__), "--case", method, str(n), str(steps), str(record_every)]
  env = dict(os.environ, OMP_NUM_THREADS=str(C_THREADS))
  proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
  if proc.returncode != 0:
    raise RuntimeError(f"case {method} n={n} failed:\n{proc.stderr}")
  return json.loads(proc.stdout.strip().splitlines()[-1])


def machine():
  import jax

  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    pass
  load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
  return dict(cpu=cpu, cores=os.cpu_count(), jax=jax.__version__, devices=[str(d) for d in jax.devices()],
              load_average_1min=load)


def table(rows):
  speed = {(r["n"], r["method"]): r["network_steps_per_s"] for r in rows}
  lines = ["| n | method | network-steps/s | x C SIMD | x jit(vmap(train)) | seconds | cores busy "
           "| peak RSS (MiB) |",
           "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
  for r in rows:
    ratio = lambda m, r=r: r["network_steps_per_s"] / speed.get((r["n"], m), float("nan"))
    lines.append(f"| {r['n']:,} | {r['method']} | {r['network_steps_per_s']:.3g} | {ratio('C SIMD'):.2f} | "
                 f"{ratio('jit(vmap(train))'):.2f} | {r['seconds']:.2f} | "
                 f"{r['cpu_seconds'] / r['seconds']:.2f} | {r['peak_rss_mib']:.0f} |")
  return "\n".join(lines)


def big_table(rows):
  base = next((r["network_steps_per_s"] for r in rows if r["n"] == min(x["n"] for x in rows)), None)
  lines = ["| n | network-steps/s | x smallest n | seconds | cores busy | params + losses (MiB) "
           "| memory added by the run (MiB) | added / (params + losses) |",
           "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
  for r in rows:
    lines.append(f"| {r['n']:,} | {r['network_steps_per_s']:.3g} | {r['network_steps_per_s'] / base:.2f} | "
                 f"{r['seconds']:.2f} | {r['cpu_seconds'] / r['seconds']:.2f} | {r['data_mib']:.0f} | "
                 f"{r['added_mib']:.0f} | {r['added_mib'] / r['data_mib']:.2f} |")
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="n = 1, 100; 20 steps; one process")
  parser.add_argument("--big", action="store_true",
                      help="past the cache: train_many alone, n = 1e5, 1e6, 1e7, 100 steps, final loss only")
  parser.add_argument("--json", metavar="PATH", help="also write the rows and the machine to PATH")
  parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")],
                      help="comma-separated population sizes (default 1,100,10000,100000)")
  parser.add_argument("--methods", type=lambda s: s.split(","), default=list(METHODS),
                      help=f"comma-separated methods to run (default all: {','.join(METHODS)})")
  parser.add_argument("--force", action="store_true", help="let --json replace an existing file")
  parser.add_argument("--unroll", type=int, help="train_many's unroll (default: train_many's own)")
  parser.add_argument("--case", nargs=4, metavar=("METHOD", "N", "STEPS", "RECORD_EVERY"),
                      help=argparse.SUPPRESS)  # internal: one case, printed as JSON
  args = parser.parse_args(argv)
  if args.case:
    method, n, steps, record_every = args.case
    print(json.dumps(run_case(method, int(n), int(steps), int(record_every))))
    return
  unknown = [m for m in args.methods if m not in METHODS + EXTRA_METHODS]
  if unknown:
    parser.error(f"--methods: expected names from {','.join(METHODS + EXTRA_METHODS)}, got "
                 f"{','.join(unknown)}")
  os.environ["JBP_BENCH_UNROLL"] = "" if args.unroll is None else str(args.unroll)  # for the subprocesses
  global UNROLL
  UNROLL = args.unroll
  lanes = None
  if any(m.startswith("C SIMD") for m in args.methods):
    try:
      with tempfile.TemporaryDirectory() as tmp:
        _, lanes = build_c_simd(tmp)
      print(f"# C SIMD: {lanes} members a {32 * lanes}-bit vector", flush=True)
    except RuntimeError as e:  # no compiler, or not an x86-64 with AVX2 and glibc's vector math
      print(f"# C SIMD left out: {e}", flush=True)
      args.methods = [m for m in args.methods if not m.startswith("C SIMD")]
  if args.json and os.path.exists(args.json) and not args.force:
    parser.error(f"--json: {args.json} exists; pass --force to replace it")
  if args.big:
    sizes = args.sizes or [100_000, 1_000_000, 10_000_000]
    steps, record_every, args.methods = 100, 100, ["train_many"]
  else:
    sizes = args.sizes or ([1, 100] if args.quick else [100, 10_000, 100_000])
    steps, record_every = (20, 10) if args.quick else (10_000, 1_000)
  info = dict(machine(), c_simd_lanes=lanes)
  print(f"# {info['cpu']}, {info['cores']} cores, jax {info['jax']}, devices {info['devices']}, "
        f"load average {info['load_average_1min']:.2f}", flush=True)
  print(f"# worked example 2-2-2, float32, {steps:,} steps, loss recorded every {record_every:,}",
        flush=True)
  rows = []
  for n in sizes:
    for method in args.methods:
      # --quick runs in this process (peak RSS is then the process's running peak).
      row = (run_case if args.quick else run_in_subprocess)(method, n, steps, record_every)
      rows.append(row)
      print(f"#   n={n:,} {method}: {row['network_steps_per_s']:.3g} network-steps/s, "
            f"{row['seconds']:.2f} s, mean final loss {row['mean_final_loss']:.6g}", flush=True)
  print(big_table(rows) if args.big else table(rows))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(dict(machine=info, steps=steps, record_every=record_every, rows=rows), f, indent=1)


if __name__ == "__main__":
  main()
