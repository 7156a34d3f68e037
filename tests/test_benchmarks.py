"""The benchmark scripts run: the single-run, forms, population, depth and calls suites in their quick modes,
and gpu.sh in its CPU dry mode.

No timing is asserted here; these check that the scripts work, that every row of the
suite computes the same final error as jbp.train, and that results are never silently
overwritten.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def env(**extra):
  e = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", PYTHON=sys.executable)
  e.update(extra)
  return e


def single(*args):
  return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "single.py"), *args],
                        capture_output=True, text=True, env=env(), cwd=ROOT, timeout=300)


def test_single_quick_writes_a_table_whose_rows_agree_and_never_overwrites(tmp_path):
  out = tmp_path / "results"
  r = single("--quick", "--steps", "40", "--rounds", "1", "--out", str(out))
  assert r.returncode == 0, r.stderr[-2000:]
  record = json.loads((out / "single.json").read_text())
  rows = record["rows"]
  names = {row["name"] for row in rows}
  assert {"jbp.train", "jbp program", "XLA loop", "object program", "flat Python", "NumPy",
          "jit step loop"} <= names
  jbp_rows = {(row["dtype"], row["order"]) for row in rows if row["name"] == "jbp.train"}
  assert jbp_rows == {(d, o) for d in ("float32", "float64") for o in ("simultaneous", "sequential")}
  assert all(row["agrees"] for row in rows), [row for row in rows if not row["agrees"]]
  assert all(row["min_s"] <= row["median_s"] <= row["max_s"] for row in rows)
  assert record["steps"] == 40 and record["machine"]["versions"]["jax"]
  assert set(record["recompiled_on_second_call"].values()) == {False}
  if shutil.which("cc") or shutil.which("gcc"):
    assert "C -O3" in names
  has_torch = record["machine"]["versions"]["torch"] is not None
  assert ("PyTorch eager" in names) == has_torch  # skipped cleanly when torch is absent
  table = (out / "single.md").read_text()
  assert "| jbp.train | float64 | sequential |" in table and "| NO |" not in table
  assert table.strip() in r.stdout

  before = (out / "single.md").read_text()
  again = single("--quick", "--steps", "40", "--rounds", "1", "--out", str(out))
  assert again.returncode == 2 and "exists" in again.stderr and "--force" in again.stderr
  assert (out / "single.md").read_text() == before


def test_single_rejects_bad_counts():
  r = single("--steps", "0")
  assert r.returncode == 2 and "--steps" in r.stderr


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("timeout")), reason="needs bash and timeout")
def test_gpu_script_dry_mode_runs_every_stage_on_the_cpu(tmp_path):
  r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--dry"], capture_output=True, text=True,
                     env=env(OUT=str(tmp_path)), cwd=tmp_path, timeout=400)
  summary = (tmp_path / "gpu_summary.txt").read_text()
  assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
  for stage in ("environment", "tests", "single"):
    assert f"{stage} " in summary and "ok" in summary.split(stage, 1)[1].split("\n", 1)[0]
  assert "backend cpu" in (tmp_path / "environment.log").read_text()
  assert (tmp_path / "single" / "single.json").exists()
  last = r.stdout.rstrip().split("\n")
  assert last[-1].startswith(("population", "single")) and "stage" in r.stdout
  assert "jbp.train" in r.stdout


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
def test_gpu_script_refuses_unknown_arguments(tmp_path):
  r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--wet"], capture_output=True, text=True,
                     env=env(OUT=str(tmp_path)), timeout=60)
  assert r.returncode == 2 and "usage" in r.stderr


def test_depth_quick_reports_every_case(tmp_path):
  args = ["--depths", "2,3,5", "--forms", "unrolled", "--out", str(tmp_path)]
  r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "depth.py"), *args], capture_output=True,
                     text=True, env=env(), cwd=ROOT, timeout=300)
  assert r.returncode == 0, r.stderr[-2000:]
  rows = json.loads((tmp_path / "depth.json").read_text())["rows"]
  assert {(row["update"], row["form"], row["depth"]) for row in rows} == {
      (u, "unrolled", d) for u in ("simultaneous", "sequential") for d in (2, 3, 5)}
  assert all(row["instructions"] > 0 and row["compile_s"] > 0 for row in rows)
  assert "Growth, per layer" in (tmp_path / "depth.txt").read_text()


def test_forms_quick_times_both_forms_and_never_overwrites(tmp_path):
  out = tmp_path / "forms.json"
  args = [sys.executable, str(ROOT / "benchmarks" / "forms.py"), "--quick", "--dtypes", "float64", "--json",
          str(out)]
  r = subprocess.run(args, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=300)
  assert r.returncode == 0, r.stderr[-2000:]
  rows = json.loads(out.read_text())["rows"]
  assert [(tuple(row["sizes"]), row["examples"], row["products"]) for row in rows] == [
      ((2, 2, 2), 1, 8), ((2, 5, 1), 4, 60)]
  assert [row["auto"] for row in rows] == ["unrolled", "matmul"]  # form="auto" for one network
  for row in rows:
    assert row["agree"], row
    assert all(row[f"{form}_{k}"] > 0 for form in ("unrolled", "matmul") for k in ("first_s", "run_s"))
  assert "| float64 | 2-5-1 | 4 | 60 |" in r.stdout
  again = subprocess.run(args, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=300)
  assert again.returncode == 2 and "exists" in again.stderr
  assert json.loads(out.read_text())["rows"] == rows


def test_calls_quick_times_every_row(tmp_path):
  out = tmp_path / "calls.json"
  r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "calls.py"), "--quick", "--json", str(out)],
                     capture_output=True, text=True, env=env(), cwd=ROOT, timeout=300)
  assert r.returncode == 0, r.stderr[-2000:]
  rows = json.loads(out.read_text())["rows"]
  assert {"trivial jit", "jbp.train", "jbp.forward", "jbp.loss", "jbp.backprop"} <= set(rows)
  assert all(row["median_s"] > 0 for row in rows.values())
  assert "| jbp.train |" in r.stdout


def test_population_quick_rows_agree_and_never_overwrite(tmp_path):
  out = tmp_path / "bench.json"
  env = dict(os.environ, PYTHONPATH=str(ROOT))
  proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "population.py"), "--quick", "--json",
                         str(out)], capture_output=True, text=True, env=env, timeout=300)
  assert proc.returncode == 0, proc.stderr
  assert "| train_many |" in proc.stdout
  import json
  rows = json.loads(out.read_text())["rows"]
  methods = {"train_many", "jit(vmap(train))", "numpy"}
  assert {r["method"] for r in rows} in (methods, methods | {"C SIMD"})  # C SIMD needs cc and AVX2
  assert ("C SIMD" in {r["method"] for r in rows}) == ("C SIMD left out" not in proc.stdout)
  finals = {r["method"]: r["mean_final_loss"] for r in rows if r["n"] == 100}
  assert max(finals.values()) - min(finals.values()) < 1e-3 * max(finals.values())  # the same training
  assert all(r["network_steps_per_s"] > 0 and r["peak_rss_mib"] > 0 for r in rows)
  # The results file is never replaced without --force; --methods picks the rows.
  again = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "population.py"), "--quick", "--json",
                          str(out), "--methods", "train_many"], capture_output=True, text=True, env=env,
                         timeout=300)
  assert again.returncode == 2 and "exists" in again.stderr
  assert json.loads(out.read_text())["rows"] == rows
  forced = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "population.py"), "--quick", "--json",
                           str(out), "--methods", "train_many", "--force"], capture_output=True, text=True,
                          env=env, timeout=300)
  assert forced.returncode == 0, forced.stderr
  assert {r["method"] for r in json.loads(out.read_text())["rows"]} == {"train_many"}
