"""Importing jbp changes no JAX configuration."""

import subprocess
import sys


def test_import_changes_no_jax_configuration():
  code = (
      "import jax\n"
      "before = {k: jax.config.values[k] for k in jax.config.values}\n"
      "import jbp\n"
      "jbp.worked_example(); jbp.train(*jbp.worked_example()[:3], steps=2, learning_rate=0.5)\n"
      "after = {k: jax.config.values[k] for k in jax.config.values}\n"
      "changed = {k for k in before if before[k] != after.get(k)}\n"
      "assert not changed, changed\n"
      "assert jax.config.jax_enable_x64 is False\n"
      "print('ok')\n")
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                     env={"PATH": "", "JAX_PLATFORMS": "cpu"})
  assert r.returncode == 0, r.stderr
  assert r.stdout.strip() == "ok"
