"""README.md cannot rot: every Python code block and `jbp` command in it runs and prints what it says,
and its Quick start installs what its commands need.

The blocks are run in order in one fresh process (later blocks may use names from earlier
ones), as a reader pasting them into a Python session would. Printed comments of the form
``print(...)  # value`` are checked: each print's line must be the whole commented value, which
runs to two spaces or the end of the comment (prose may follow), and where ``...`` in it stands
for digits left out.
"""

import os
import pathlib
import re
import shlex
import subprocess
import sys

README = pathlib.Path(__file__).parent.parent / "README.md"


def python_blocks(text):
  return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_python_blocks():
  assert len(python_blocks(README.read_text())) >= 1


def stated_values(code):
  """The value each ``print(...)  # value`` states: the comment up to two spaces (prose may follow)."""
  comments = re.findall(r"^\s*print\(.*\)\s+#\s*(.+)$", code, flags=re.M)
  return [re.split(r"\s{2,}", c.strip())[0] for c in comments]


def says(value, printed):
  """True if ``printed`` is the whole stated ``value``; ``...`` in it stands for digits left out."""
  pattern = "".join(r"\d*" if part == "..." else re.escape(part) for part in re.split(r"(\.\.\.)", value))
  return re.fullmatch(pattern, printed.strip()) is not None


def test_the_check_compares_whole_values():
  assert says("(10000, 3, 21)", "(10000, 3, 21)")
  assert not says("(10000, 3, 21)", "(10000, 3, 20)")  # the first word alone would pass this
  assert not says("(10000, 3, 21)", "(10000,")
  assert says("0.291027923905... 3.50847862963...e-05", "0.29102792390544197 3.5084786296312774e-05")
  assert not says("0.291027923905... 3.50847862963...e-05", "0.29102792390544197 3.5084786296312774e-06")
  assert stated_values("print(a)  # (10000, 3, 21)  every device\nprint(b)  # [0. 1. 1.]  share") == [
      "(10000, 3, 21)", "[0. 1. 1.]"]


def test_readme_python_blocks_run_and_print_what_they_say():
  blocks = python_blocks(README.read_text())
  code = "\n".join(blocks)
  expected = stated_values(code)
  env = dict(os.environ, JAX_PLATFORMS="cpu", MPLBACKEND="Agg",
             PYTHONPATH=str(README.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                     env=env, cwd=README.parent)
  assert r.returncode == 0, r.stderr[-3000:]
  printed = r.stdout.strip().splitlines()
  # Every print of the README states its value, so the printed lines are the stated values, in order.
  assert len(expected) >= 5 and len(printed) == len(expected), (expected, printed)
  for want, got in zip(expected, printed):
    assert says(want, got), f"README says a print gives {want!r}; it printed {got!r}"


def test_readme_jbp_commands_run():
  """Each `jbp ...` line of README's bash blocks runs and exits 0 (the install lines are what CI runs)."""
  text = README.read_text()
  lines = [l.split("#")[0].strip() for b in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
           for l in b.splitlines()]
  commands = [shlex.split(l)[1:] for l in lines if l.startswith("jbp ")]
  assert len(commands) >= 3
  code = ("import sys, contextlib, io\nfrom jbp.cli import main\n"
          f"for argv in {commands!r}:\n"
          "  out = io.StringIO()\n"
          "  with contextlib.redirect_stdout(out):\n"
          "    rc = main(argv)\n"
          "  assert rc == 0 and out.getvalue().strip(), (argv, rc)\n"
          "print('ran', len(" + repr(commands) + "))\n")
  env = dict(os.environ, JAX_PLATFORMS="cpu", MPLBACKEND="Agg",
             PYTHONPATH=str(README.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
  assert r.returncode == 0, r.stderr[-3000:]
  assert r.stdout.strip() == f"ran {len(commands)}"


def test_readme_sample_output_is_what_the_command_prints():
  """A ```text block that starts with `$ jbp ...` shows lines the command really prints, in order."""
  samples = re.findall(r"^```text\n\$ (jbp[^\n]*)\n(.*?)^```", README.read_text(), flags=re.S | re.M)
  assert samples
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             PYTHONPATH=str(README.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
  for command, shown in samples:
    r = subprocess.run([sys.executable, "-m", "jbp", *shlex.split(command)[1:]], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    printed = r.stdout.splitlines()
    i = 0
    for line in shown.splitlines():
      if line.strip() == "...":
        continue
      while i < len(printed) and printed[i] != line:
        i += 1
      assert i < len(printed), f"README shows {line!r} for `{command}`, which does not print it (in order)"
      i += 1


def test_the_quick_start_installs_what_the_readme_commands_need():
  text = open(README).read()
  quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
  first_install = re.search(r"pip install (\S+)", quick).group(1).strip("'\"")
  assert "plot" in first_install, first_install  # the README's commands draw figures with --plot
  assert "--plot" in text
