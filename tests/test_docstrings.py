"""Every public name has a docstring that says what the reference page must say.

For a function: its arguments (each by name), what it returns, what it raises and a ``>>>``
example; for a class: its attributes and an example; for a constant: a docstring (the string
right after it) with an example. pytest runs the examples of functions and classes as doctests
(``--doctest-modules``); those of constants, which Python does not keep, are run here.
"""

from __future__ import annotations

import ast
import doctest
import inspect
import pathlib
import re
import sys

import pytest

import jbp

# What the docstrings of the training core do not say yet. A name leaves this list when its
# docstring is complete (the test then fails until it is removed here); a new gap fails the test.
KNOWN_GAPS = {}


def constant_docstring(name):
  """The string literal right after ``NAME = ...`` in the module that defines the constant, or None."""
  for path in sorted(pathlib.Path(jbp.__file__).parent.glob("*.py")):
    body = ast.parse(path.read_text()).body
    for node, after in zip(body, body[1:]):
      targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
      if any(isinstance(t, ast.Name) and t.id == name for t in targets):
        if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(
            after.value.value, str):
          return inspect.cleandoc(after.value.value), path, after.lineno
        return None, path, node.lineno
  return None, None, None


def documented_args(doc):
  """Argument names in the ``Args:`` section (``a, b: text`` documents both)."""
  section = re.search(r"^Args:\n((?:[ \t]+.*\n?|\n)*)", doc, re.M)
  if not section:
    return set()
  names = re.findall(r"^  (\*{0,2}\w+(?:, \w+)*)(?: \([^)]*\))?:", section.group(1), re.M)
  return {n.lstrip("*") for group in names for n in group.split(", ")}


def gaps(name, obj=None):
  """What the docstring of ``jbp.NAME`` (or of ``obj``, a function or class) lacks."""
  obj = getattr(jbp, name) if obj is None else obj
  if not (inspect.isfunction(obj) or inspect.isclass(obj)):
    doc = constant_docstring(name)[0]
    return {"docstring"} if not doc else ({"example"} if ">>>" not in doc else set())
  doc = inspect.getdoc(obj) or ""
  if not doc:
    return {"docstring"}
  missing = set() if ">>>" in doc else {"example"}
  if inspect.isclass(obj):
    return missing | (set() if "Attributes:" in doc else {"Attributes"})
  params = [p.name for p in inspect.signature(obj).parameters.values() if p.kind != p.VAR_KEYWORD]
  if params and "Args:" not in doc:
    missing.add("Args")
  elif params:
    missing |= {f"arg {p}" for p in params if p not in documented_args(doc)}
  missing |= {s for s in ("Returns", "Raises") if f"{s}:" not in doc}
  return missing


def test_every_public_name_documents_what_it_must():
  found = {name: g for name in jbp.__all__ if (g := gaps(name))}
  new = {k: v - KNOWN_GAPS.get(k, set()) for k, v in found.items() if v - KNOWN_GAPS.get(k, set())}
  fixed = {k: v - found.get(k, set()) for k, v in KNOWN_GAPS.items() if v - found.get(k, set())}
  assert not new, f"public names whose docstrings lack these: {new}"
  assert not fixed, f"these are documented now; remove them from KNOWN_GAPS: {fixed}"


def test_gaps_are_found():
  # The check can fail: a function without examples, raises or one argument's entry is caught.
  def f(a, b, *, c=1):
    """Does f.

    Args:
      a, b: two numbers.

    Returns:
      their sum.
    """

  assert gaps("f", f) == {"example", "arg c", "Raises"}


@pytest.mark.parametrize("name", [n for n in jbp.__all__ if constant_docstring(n)[0]])
def test_examples_in_constant_docstrings_run(name):
  doc, path, line = constant_docstring(name)
  test = doctest.DocTestParser().get_doctest(doc, {}, f"jbp.{name}", str(path), line)
  assert test.examples, f"jbp.{name}: its docstring has no example"
  runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
  runner.run(test, out=sys.stdout.write)
  assert runner.failures == 0
