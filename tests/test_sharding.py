"""train_many over several devices, and over two processes, each in fresh subprocesses.

The device count of the CPU backend is fixed when JAX starts, so every case runs in
its own interpreter with ``XLA_FLAGS=--xla_force_host_platform_device_count=...``.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jbp

ROOT = Path(__file__).resolve().parents[1]


def python(code, *args, devices, timeout=240, **popen):
  env = dict(os.environ, PYTHONPATH=str(ROOT),
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
  cmd = [sys.executable, "-c", textwrap.dedent(code), *map(str, args)]
  if popen:
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
  assert proc.returncode == 0, proc.stderr
  return json.loads(proc.stdout.strip().splitlines()[-1])


FOUR_DEVICES = """
import json, jax, jax.numpy as jnp, numpy as np, jbp
out = {"devices": len(jax.devices())}
with jax.enable_x64(True):
  ex = jbp.worked_example(jnp.float64)
  for n in (1000, 1001):
    pop = jbp.init_many(jax.random.key(0), n, (2, 2, 2), method="uniform", shared_bias=True,
                        dtype=jnp.float64)
    lrs = jnp.linspace(0.1, 2.0, n)
    for form in ("unrolled", "matmul"):
      kw = dict(steps=50, learning_rate=lrs, record_every=10, form=form, update="sequential")
      four = jbp.train_many(pop, ex.inputs, ex.targets, **kw)
      one = jbp.train_many(pop, ex.inputs, ex.targets, devices=jax.devices()[:1], **kw)
      leaves = lambda r: jax.tree_util.tree_leaves((r.params, r.losses))
      out[f"{n}-{form}"] = dict(
          shape=list(four.losses.shape), w_shape=list(four.params[0].w.shape),
          devices=len(four.losses.sharding.device_set),
          w_devices=len(four.params[1].w.sharding.device_set),
          spec=str(getattr(four.losses.sharding, "spec", None)),
          max_rel=max(float(np.max(np.abs(a - b) / np.abs(b))) for a, b in zip(leaves(four), leaves(one))),
          one_device=len(one.losses.sharding.device_set))
print(json.dumps(out))
"""


def test_four_devices_split_the_population_and_change_no_number():
  out = python(FOUR_DEVICES, devices=4)
  assert out["devices"] == 4
  for n in (1000, 1001):
    for form in ("unrolled", "matmul"):
      r = out[f"{n}-{form}"]
      assert r["shape"] == [n, 6] and r["w_shape"] == [n, 2, 2] and r["one_device"] == 1
      # Members never interact: the split changes at most the rounding of the
      # vectorized loops (seen: 0 for "unrolled", 1 ulp for "matmul"); float64, 1e-12.
      assert r["max_rel"] <= 1e-12, (n, form, r)
      assert r["devices"] == 4 and r["w_devices"] == 4
  # 1000 = 4 x 250: the result stays split, 250 members a device. 1001 is padded
  # to 1004 for the run and trimmed: an array of 1001 rows cannot be split evenly
  # over 4 devices, so it comes back replicated on all 4.
  assert out["1000-unrolled"]["spec"] in ("P('population',)", "PartitionSpec('population',)")
  assert out["1001-unrolled"]["spec"] in ("P()", "PartitionSpec()")


TWO_PROCESSES = """
import json, sys, jax
process, port, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2, process_id=process)
import numpy as np, jbp
from jax.experimental import multihost_utils
ex = jbp.worked_example()
pop = jbp.init_many(jax.random.key(0), 1000, (2, 2, 2), method="uniform", shared_bias=True)
res = jbp.train_many(pop, ex.inputs, ex.targets, steps=50, learning_rate=0.5, record_every=10)
np.save(path, multihost_utils.process_allgather(res.losses, tiled=True))
print(json.dumps(dict(processes=jax.process_count(), devices=len(jax.devices()),
                      local=len(jax.local_devices()), addressable=res.losses.is_fully_addressable,
                      result_devices=len(res.losses.sharding.device_set))))
"""


def free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_two_processes_with_jax_distributed(tmp_path):
  port = free_port()
  paths = [tmp_path / f"losses{i}.npy" for i in range(2)]
  procs = [python(TWO_PROCESSES, i, port, paths[i], devices=2, popen=True) for i in range(2)]
  outs = []
  try:
    for p in procs:
      stdout, stderr = p.communicate(timeout=240)
      assert p.returncode == 0, stderr
      outs.append(json.loads(stdout.strip().splitlines()[-1]))
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  ex = jbp.worked_example()
  pop = jbp.init_many(jax.random.key(0), 1000, (2, 2, 2), method="uniform", shared_bias=True)
  here = jbp.train_many(pop, ex.inputs, ex.targets, steps=50, learning_rate=0.5, record_every=10)
  for out, path in zip(outs, paths):
    assert (out["processes"], out["devices"], out["local"]) == (2, 4, 2)
    assert out["result_devices"] == 4 and not out["addressable"]  # split over both processes
    # float32; the same elementwise arithmetic on 250 members a device as on 1000.
    np.testing.assert_allclose(np.load(path), here.losses, rtol=1e-6)
  assert jnp.result_type(here.losses) == jnp.float32
