"""Every Python code block in README.md runs, so README cannot rot.

The blocks are run in order in one fresh process (later blocks may use names from earlier
ones), as a reader pasting them into a Python session would. Printed comments of the form
``print(...)  # value`` are checked: the printed line must start with the commented value.
"""

import os
import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).parent.parent / "README.md"


def python_blocks(text):
  return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_python_blocks():
  assert len(python_blocks(README.read_text())) >= 1


def test_readme_python_blocks_run_and_print_what_they_say():
  blocks = python_blocks(README.read_text())
  code = "\n".join(blocks)
  expected = [m.group(1).strip() for m in re.finditer(r"^\s*print\(.*\)\s+#\s*(.+)$", code, flags=re.M)]
  env = dict(os.environ, JAX_PLATFORMS="cpu", MPLBACKEND="Agg",
             PYTHONPATH=str(README.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                     env=env, cwd=README.parent)
  assert r.returncode == 0, r.stderr[-3000:]
  printed = r.stdout.strip().splitlines()
  assert len(printed) >= len(expected)
  # Each commented value appears, in order, at the start of a printed line.
  i = 0
  for want in expected:
    want = want.split(" ")[0].rstrip(".")
    while i < len(printed) and not printed[i].strip().startswith(want):
      i += 1
    assert i < len(printed), f"README says a print gives {want!r}; printed: {printed}"
    i += 1
