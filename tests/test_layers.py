"""The package shows its layers: no import circle, no reach into another module's private names, the
pictures' layer loads no JAX and imports nothing of the core, the core never imports the command line,
and no module is over 500 lines.

The checks parse the source (``ast``), so they see every import, at the top of a module or inside a
function; imports under ``if TYPE_CHECKING:`` are left out (they never run: the pictures name the
core's record types there). Each check has a negative control: a small package written to break it.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
import textwrap

import jbp

ROOT = pathlib.Path(jbp.__file__).parent
MOST_LINES = 500


def modules(root: pathlib.Path) -> dict[str, pathlib.Path]:
  """Every module of the package at ``root`` by dotted name."""
  out = {}
  for path in sorted(root.rglob("*.py")):
    parts = path.relative_to(root.parent).with_suffix("").parts
    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    out[name] = path
  return out


def _type_checking(node: ast.AST) -> bool:
  test = getattr(node, "test", None)
  return isinstance(node, ast.If) and isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def imports(name: str, path: pathlib.Path, package: str) -> list[tuple[str, str | None]]:
  """``(module, imported name or None)`` for each import of the package's modules that runs."""
  tree = ast.parse(path.read_text())
  is_package = path.name == "__init__.py"
  out: list[tuple[str, str | None]] = []

  def visit(node: ast.AST) -> None:
    for child in ast.iter_child_nodes(node):
      if _type_checking(child):
        for other in getattr(child, "orelse", []):
          visit(other)
        continue
      if isinstance(child, ast.ImportFrom):
        if child.level:
          base = name.split(".") if is_package else name.split(".")[:-1]
          base = base[:len(base) - child.level + 1]
          module = ".".join(base + ([child.module] if child.module else []))
        else:
          module = child.module or ""
        if module == package or module.startswith(package + "."):
          out.extend((module, a.name) for a in child.names)
      elif isinstance(child, ast.Import):
        out.extend((a.name, None) for a in child.names if a.name.split(".")[0] == package)
      visit(child)

  visit(tree)
  return out


def graph(root: pathlib.Path) -> tuple[dict[str, set[str]], list[str]]:
  """The import graph between the package's modules, and every private name taken from another module.

  ``from m import x`` is an edge to ``m.x`` where that is a module, else to ``m``; importing a private
  module (``from jbp import _checks``) is how modules of one package reach each other, but taking a
  private name out of a module (``from jbp._network import _loss``) is a reach.
  """
  mods = modules(root)
  package = root.name
  edges: dict[str, set[str]] = {m: set() for m in mods}
  reaches = []
  for name, path in mods.items():
    for module, imported in imports(name, path, package):
      target = f"{module}.{imported}" if imported and f"{module}.{imported}" in mods else module
      if target in mods and target != name:
        edges[name].add(target)
      if target == module and imported and imported.startswith("_") and not imported.startswith("__"):
        reaches.append(f"{name} takes {imported} from {module}")
    for node in ast.walk(ast.parse(path.read_text())):  # module._private, on an imported module
      if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr.startswith("_")
          and not node.attr.startswith("__") and f"{name.rsplit('.', 1)[0]}.{node.value.id}" in mods
          and node.value.id.startswith("_")):
        reaches.append(f"{name} uses {node.value.id}.{node.attr}")
  return edges, reaches


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
  """Every import circle, as the modules around it (one circle per strongly connected component)."""
  index: dict[str, int] = {}
  low: dict[str, int] = {}
  stack: list[str] = []
  found = []

  def strong(v: str) -> None:  # Tarjan's algorithm
    index[v] = low[v] = len(index)
    stack.append(v)
    for w in sorted(edges[v]):
      if w not in index:
        strong(w)
        low[v] = min(low[v], low[w])
      elif w in stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        found.append(sorted(component))

  for v in sorted(edges):
    if v not in index:
      strong(v)
  return found


def layer_breaks(edges: dict[str, set[str]]) -> list[str]:
  """Imports that point the wrong way: the pictures into the core or the command line, the core into the
  command line. The pictures may use ``jbp._files``, the one atomic writer, which loads no JAX."""
  out = []
  for src, targets in edges.items():
    for dst in targets:
      if src.startswith("jbp._show") and not (dst.startswith("jbp._show") or dst == "jbp._files"):
        out.append(f"{src} -> {dst}")
      if not src.startswith("jbp.cli") and src != "jbp.__main__" and dst.startswith("jbp.cli"):
        out.append(f"{src} -> {dst}")
  return out


def test_no_import_circle():
  edges, _ = graph(ROOT)
  assert len(edges) > 30  # the whole package was read
  assert circles(edges) == []


def test_no_module_takes_another_modules_private_names():
  _, reaches = graph(ROOT)
  assert reaches == []


def test_imports_point_one_way_core_pictures_command_line():
  edges, _ = graph(ROOT)
  assert "jbp._show.derivation" in edges["jbp._explain"] or any(
      d.startswith("jbp._show") for d in edges["jbp._explain"])  # the core does use the pictures
  assert layer_breaks(edges) == []


def test_no_module_over_500_lines():
  lines = {name: len(path.read_text().splitlines()) for name, path in modules(ROOT).items()}
  assert {name: n for name, n in lines.items() if n > MOST_LINES} == {}


def test_the_pictures_layer_loads_no_jax():
  names = [m for m in modules(ROOT) if m.startswith("jbp._show")]
  code = (f"import sys\nfor m in {names!r}:\n  __import__(m)\n"
          "print(sorted(m for m in sys.modules if m == 'jax' or m.startswith('jax.')))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
  assert len(names) >= 10 and out.strip() == "[]"


def test_the_checks_find_a_circle_a_private_reach_and_a_wrong_way_import(tmp_path):
  """Negative control: a package written to break each rule, and one of a 501-line module."""
  pkg = tmp_path / "jbp"
  (pkg / "_show").mkdir(parents=True)
  (pkg / "cli").mkdir()
  files = {
      "__init__.py": "",
      "_a.py": "from jbp._b import helper\n",
      "_b.py": "def helper():\n  from jbp import _c\n",  # a circle through an import inside a function
      "_c.py": "from jbp._a import *\nfrom jbp._d import _secret\n",
      "_d.py": "_secret = 1\n",
      "_e.py": "from jbp import _d\nx = _d._secret\nfrom jbp.cli import main\n",
      "_show/__init__.py": "",
      "_show/draw.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n  from jbp._d import _secret\n"
                       "from jbp._a import helper\n",
      "cli/__init__.py": "from jbp import _a\n",
  }
  for name, text in files.items():
    (pkg / name).write_text(textwrap.dedent(text))
  edges, reaches = graph(pkg)
  assert circles(edges) == [["jbp._a", "jbp._b", "jbp._c"]]
  assert sorted(reaches) == ["jbp._c takes _secret from jbp._d", "jbp._e uses _d._secret"]
  assert sorted(layer_breaks(edges)) == ["jbp._e -> jbp.cli", "jbp._show.draw -> jbp._a"]
  assert "jbp._d" not in edges["jbp._show.draw"]  # the TYPE_CHECKING import is left out
