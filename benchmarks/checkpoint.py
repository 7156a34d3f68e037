"""Time to save and load a population's checkpoint: npz shards written atomically, or Orbax.

A checkpoint holds everything needed to continue a run of ``jbp.train_many``: the members'
params (the worked example's 2-2-2 network, ``jbp.init_many``: a tuple of two ``jbp.Layer``,
``w`` of shape (n, 2, 2) and ``b`` of shape (n,), float32), the optimizer state
(``optax.sgd(momentum=0.9)``: a momentum trace shaped like the params), the recorded losses
(n, 101) float32, and a few scalars (step, options) as JSON. Two ways of writing it:

* ``npz``: one ``numpy.savez`` file (uncompressed, no pickle) a shard, each written to a
  hidden temporary file in the target folder, flushed, ``os.fsync``-ed and ``os.replace``-d
  into place; then a small JSON of metadata (step, options, the leaves' names, shapes and
  dtypes, the shards' slices) written the same way, last, so a checkpoint whose JSON exists
  is whole; then the folder is fsync-ed. Loading reads each shard, puts it on its device and
  assembles the arrays (``jax.make_array_from_single_device_arrays``) with the shardings
  of a template of the state.
* ``orbax``: ``orbax.checkpoint.StandardCheckpointer``: ``save`` (the metadata as
  ``custom_metadata``) then ``wait_until_finished``, and ``restore`` with the state's
  ``jax.ShapeDtypeStruct``-s (shardings included) as the target. Skipped, with a message,
  when orbax does not import.

Two layouts, each in its own subprocess (``XLA_FLAGS`` must be set before JAX starts):
the population on one CPU device, and sharded over 4 CPU devices
(``--xla_force_host_platform_device_count=4``, a ``NamedSharding`` over a 1-D mesh, the
members axis split), where ``npz`` writes one file a shard (what each process of a
``jax.distributed`` run would write for its own members) and ``orbax`` writes the sharded
arrays. Each (layout, n, method) is saved and loaded once untimed, then timed ``--repeats``
times (median shown), each time into a fresh folder; every load is checked bit for bit
(and for the same shardings) against the state saved. "save" is until the checkpoint is on
disk; for orbax, "returns" is when ``save`` gave control back (its async part still writing).
Loads read files the page cache holds (just written): cold-disk reads are slower.

Usage::

    python benchmarks/checkpoint.py                    # n = 1e4, 1e5, 1e6; 1 and 4 devices
    python benchmarks/checkpoint.py --quick            # n = 1e4 only
    python benchmarks/checkpoint.py --sizes 1000 50000 --repeats 5 --dir /some/disk --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SIZES = (10_000, 100_000, 1_000_000)
LAYOUTS = (1, 4)  # CPU devices the population is spread over
RECORDS = 101  # recorded losses a member: steps 0, 100, ..., 10,000
METHODS = ("npz", "orbax")


def _state(n, devices):
  """The state to checkpoint, every leaf with the members first, sharded over ``devices`` CPU devices."""
  import jax
  import numpy as np
  import optax

  import jbp

  params = jbp.init_many(jax.random.key(0), n, (2, 2, 2), method="uniform", shared_bias=True)
  opt_state = optax.sgd(0.5, momentum=0.9).init(params)
  # A momentum trace of nonzero values, so that a load that returned zeros would not pass.
  leaves, treedef = jax.tree_util.tree_flatten(opt_state)
  keys = jax.random.split(jax.random.key(1), len(leaves))
  opt_state = jax.tree_util.tree_unflatten(
    treedef, [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves)])
  losses = jax.random.uniform(jax.random.key(2), (n, RECORDS), np.float32)
  state = {"params": params, "opt_state": opt_state, "losses": losses}
  if devices > 1:
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:devices]), ("members",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("members"))
    state = jax.device_put(state, sharding)
  meta = {"step": 10_000, "options": {"steps": 10_000, "learning_rate": 0.5, "momentum": 0.9,
                                      "record_every": 100, "sizes": [2, 2, 2], "n": n}}
  return jax.block_until_ready(state), meta


def _names(state):
  import jax

  def part(k):
    for attr in ("key", "idx", "name"):
      if hasattr(k, attr):
        return str(getattr(k, attr))
    return str(k)

  return ["/".join(part(k) for k in path) for path, _ in jax.tree_util.tree_flatten_with_path(state)[0]]


def _fsync_folder(folder):
  fd = os.open(folder, os.O_RDONLY)
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


def _atomic_write(folder, name, write):
  """``write(file)`` to a hidden temporary file in ``folder``, fsync it, and rename it to ``name``."""
  fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
  try:
    with os.fdopen(fd, "wb") as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, os.path.join(folder, name))
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def _shards(x):
  """The addressable shards of ``x``, in order of their first member."""
  return sorted(x.addressable_shards, key=lambda s: s.index[0].start or 0)


def _save_npz(folder, state, meta):
  import jax
  import numpy as np

  os.makedirs(folder, exist_ok=True)
  names = _names(state)
  leaves = jax.tree_util.tree_leaves(state)
  per_leaf = [_shards(x) for x in leaves]
  k = len(per_leaf[0])
  files = []
  for s in range(k):
    name = f"shard-{s:05d}-of-{k:05d}.npz"
    arrays = {f"{i:03d}": np.asarray(shards[s].data) for i, shards in enumerate(per_leaf)}
    _atomic_write(folder, name, lambda f, a=arrays: np.savez(f, **a))
    start = per_leaf[0][s].index[0].start or 0
    files.append({"file": name, "start": start, "stop": start + arrays["000"].shape[0]})
  described = [{"name": nm, "shape": list(x.shape), "dtype": str(x.dtype)} for nm, x in zip(names, leaves)]
  doc = dict(meta, format="jbp-checkpoint-1", shards=files, leaves=described)
  _atomic_write(folder, "checkpoint.json", lambda f: f.write(json.dumps(doc, indent=1).encode()))
  _fsync_folder(folder)


def _load_npz(folder, template):
  """The state saved in ``folder``, each leaf with the shape, dtype and sharding of ``template``'s."""
  import jax
  import numpy as np

  with open(os.path.join(folder, "checkpoint.json"), "rb") as f:
    doc = json.load(f)
  leaves, treedef = jax.tree_util.tree_flatten(template)
  if [leaf["name"] for leaf in doc["leaves"]] != _names(template):
    raise ValueError(f"{folder}: the checkpoint's leaves are not the template's")
  parts = [[] for _ in leaves]
  for entry in doc["shards"]:
    with np.load(os.path.join(folder, entry["file"]), allow_pickle=False) as z:
      for i, x in enumerate(leaves):
        data = z[f"{i:03d}"]
        dev = next(s.device for s in x.addressable_shards if (s.index[0].start or 0) == entry["start"])
        parts[i].append(jax.device_put(data, dev))
  out = [jax.make_array_from_single_device_arrays(x.shape, x.sharding, p) for x, p in zip(leaves, parts)]
  meta = {key: doc[key] for key in ("step", "options")}
  return jax.block_until_ready(jax.tree_util.tree_unflatten(treedef, out)), meta


def _orbax():
  try:
    import orbax.checkpoint as ocp
  except ImportError as e:
    return None, f"orbax.checkpoint does not import ({e}); install orbax-checkpoint to measure it"
  return ocp, None


def _save_orbax(ckptr, folder, state, meta):
  t0 = time.perf_counter()
  ckptr.save(folder, state, custom_metadata=meta)
  returned = time.perf_counter() - t0
  ckptr.wait_until_finished()
  return returned


def _load_orbax(ckptr, ocp, folder, template):
  import jax

  target = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, template)
  state = jax.block_until_ready(ckptr.restore(folder, target))
  meta = ckptr.metadata(folder).custom_metadata
  return state, meta


def _same(a, b, meta_a, meta_b):
  """Bit for bit: the same tree, shapes, dtypes, shardings and bytes, and the same metadata."""
  import jax
  import numpy as np

  la, ta = jax.tree_util.tree_flatten(a)
  lb, tb = jax.tree_util.tree_flatten(b)
  if ta != tb or json.loads(json.dumps(meta_a)) != json.loads(json.dumps(meta_b)):
    return False
  for x, y in zip(la, lb):
    if x.shape != y.shape or x.dtype != y.dtype or not x.sharding.is_equivalent_to(y.sharding, x.ndim):
      return False
    if not np.array_equal(np.asarray(x).view(np.uint8), np.asarray(y).view(np.uint8)):
      return False
  return True


def _disk(folder):
  size = files = 0
  for root, _, names in os.walk(folder):
    for nm in names:
      size += os.path.getsize(os.path.join(root, nm))
      files += 1
  return size, files


def _worker(args):
  """One layout: every size and method, in this process. Prints one JSON line."""
  import jax
  import numpy as np

  devices = args.devices
  if len(jax.devices()) < devices:
    raise SystemExit(f"{devices} devices asked for, JAX has {len(jax.devices())}: set XLA_FLAGS")
  ocp, why = _orbax()
  ckptr = ocp.StandardCheckpointer() if ocp else None
  rows = []
  count = 0
  for n in args.sizes:
    state, meta = _state(n, devices)
    nbytes = sum(x.nbytes for x in jax.tree_util.tree_leaves(state))
    for method in METHODS:
      if method == "orbax" and ocp is None:
        continue
      saves, returns, loads, same = [], [], [], True
      for r in range(args.repeats + 1):  # the first untimed
        count += 1
        folder = os.path.join(args.dir, f"{devices}dev-{n}-{method}-{count}")
        t0 = time.perf_counter()
        if method == "npz":
          _save_npz(folder, state, meta)
          returned = None
        else:
          returned = _save_orbax(ckptr, folder, state, meta)
        t1 = time.perf_counter()
        if method == "npz":
          back, meta_back = _load_npz(folder, state)
        else:
          back, meta_back = _load_orbax(ckptr, ocp, folder, state)
        t2 = time.perf_counter()
        same = same and _same(state, back, meta, meta_back)
        disk = _disk(folder)
        del back
        shutil.rmtree(folder)
        if r:
          saves.append(t1 - t0)
          loads.append(t2 - t1)
          returns.append(returned)
      rows.append({"devices": devices, "n": n, "method": method, "state_bytes": nbytes,
                   "disk_bytes": disk[0], "files": disk[1], "save_s": statistics.median(saves),
                   "save_returns_s": None if returns[0] is None else statistics.median(returns),
                   "load_s": statistics.median(loads), "saves": saves, "loads": loads, "same": same})
    del state
  versions = {"python": platform.python_version(), "jax": jax.__version__, "numpy": np.__version__}
  if ocp:
    import importlib.metadata

    versions["orbax-checkpoint"] = importlib.metadata.version("orbax-checkpoint")
    versions["tensorstore"] = importlib.metadata.version("tensorstore")
  print(json.dumps({"rows": rows, "versions": versions, "orbax_missing": why}))


def _mib(b):
  return f"{b / 2**20:,.1f} MiB" if b >= 2**20 else f"{b / 2**10:,.0f} KiB"


def _table(rows):
  lines = ["| devices | n | state | npz: disk (files) | npz save s | npz load s "
           "| orbax: disk (files) | orbax save s (returns) | orbax load s |",
           "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
  keys = sorted({(r["devices"], r["n"]) for r in rows})
  for devices, n in keys:
    by = {r["method"]: r for r in rows if (r["devices"], r["n"]) == (devices, n)}
    a, b = by["npz"], by.get("orbax")
    cells = [str(devices), f"{n:,}", _mib(a["state_bytes"]), f"{_mib(a['disk_bytes'])} ({a['files']})",
             f"{a['save_s']:.4f}", f"{a['load_s']:.4f}"]
    if b:
      cells += [f"{_mib(b['disk_bytes'])} ({b['files']})", f"{b['save_s']:.4f} ({b['save_returns_s']:.4f})",
                f"{b['load_s']:.4f}"]
    else:
      cells += ["-", "-", "-"]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--quick", action="store_true", help="n = 10,000 only")
  ap.add_argument("--sizes", type=int, nargs="+", help=f"population sizes (default {SIZES})")
  ap.add_argument("--repeats", type=int, default=3, help="timed repeats a case; the median is shown")
  ap.add_argument("--devices", type=int, nargs="+", default=list(LAYOUTS),
                  help="layouts: CPU devices the population is sharded over (a divisor of each n)")
  ap.add_argument("--dir", help="where the checkpoints are written (default: a new temporary folder)")
  ap.add_argument("--json", help="write the results here too")
  ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
  args = ap.parse_args(argv)
  args.sizes = args.sizes or ([10_000] if args.quick else list(SIZES))
  for n in args.sizes:
    for d in args.devices:
      if n < 1 or n % d:
        ap.error(f"n = {n} does not split evenly over {d} devices")
  if args.worker:
    args.devices = args.devices[0]
    return _worker(args)

  made = args.dir is None
  args.dir = args.dir or tempfile.mkdtemp(prefix="jbp-checkpoint-bench-")
  rows, versions, missing = [], {}, None
  try:
    for devices in args.devices:
      env = dict(os.environ, JAX_PLATFORMS="cpu")
      flag = f"--xla_force_host_platform_device_count={devices}"
      env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + flag).strip()
      cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--devices", str(devices),
             "--repeats", str(args.repeats), "--dir", args.dir, "--sizes", *map(str, args.sizes)]
      out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True).stdout
      got = json.loads(out.strip().splitlines()[-1])
      rows += got["rows"]
      versions, missing = got["versions"], got["orbax_missing"]
  finally:
    if made:
      shutil.rmtree(args.dir, ignore_errors=True)
  print(f"# {', '.join(f'{k} {v}' for k, v in versions.items())}; {os.cpu_count()} cores; "
        f"median of {args.repeats}; checkpoints in {args.dir}")
  if missing:
    print(f"# orbax skipped: {missing}")
  print(_table(rows))
  bad = [r for r in rows if not r["same"]]
  for r in bad:
    print(f"MISMATCH: {r['method']}, n = {r['n']}, {r['devices']} devices: the load differs from the save")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"rows": rows, "versions": versions, "orbax_missing": missing}, f, indent=1)
  return 1 if bad else 0


if __name__ == "__main__":
  sys.exit(main())
