"""A Griffe extension: jbp's docstrings as the API reference renders them.

jbp's docstrings are Google style and read well in ``help()``; three habits in them are not Markdown,
so this extension rewrites each docstring (never the source) before mkdocstrings parses it:

* Sphinx roles: ``:func:`jbp.train``` (or ``:class:`Layer```) becomes a link to that name on the
  reference page when it is a public name of jbp, and plain code otherwise.
* A bare doctest (``>>>`` lines and their output) becomes an ``Examples:`` section, shown as code.
* ``a, b: text`` in ``Args:`` documents each of ``a`` and ``b`` with ``text``.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|data|meth|attr|mod|obj|exc):`~?([^`]+)`")
SECTION = re.compile(r"^(\s*)([A-Z][A-Za-z ]*):\s*$")
GROUPED = re.compile(r"^(\s+)(\w+(?:,\s*\w+)+):(.*)$")


def _public() -> set[str]:
  import jbp

  return set(jbp.__all__)


def link_roles(text: str, public: set[str]) -> str:
  """``:func:`jbp.train``` -> a cross-reference to ``jbp.train`` (public names only)."""

  def sub(m):
    target = m.group(1).strip()
    name = target.removeprefix("jbp.")
    return f"[`{target}`][jbp.{name}]" if name in public else f"`{target}`"

  return ROLE.sub(sub, text)


def doctests_as_examples(text: str) -> str:
  """Runs of ``>>>`` lines at the docstring's own indentation become an ``Examples:`` section."""
  lines = text.split("\n")
  out, i = [], 0
  while i < len(lines):
    if lines[i].startswith(">>>"):
      if not (out and out[-1] == ""):
        out.append("")
      out.append("Examples:")
      while i < len(lines) and lines[i].strip():
        out.append("  " + lines[i])
        i += 1
    else:
      out.append(lines[i])
      i += 1
  return "\n".join(out)


def split_grouped_args(text: str) -> str:
  """``  a, b: text`` inside ``Args:`` -> ``  a: text`` and ``  b: text`` (continuation lines follow)."""
  lines = text.split("\n")
  out, in_args, entry_indent, i = [], False, None, 0
  while i < len(lines):
    line = lines[i]
    m = SECTION.match(line)
    if m and not m.group(1):  # a section header at the docstring's own indentation
      in_args, entry_indent = m.group(2) in ("Args", "Arguments", "Parameters"), None
    elif in_args and line.strip() and entry_indent is None:
      entry_indent = line[:len(line) - len(line.lstrip())]
    grouped = GROUPED.match(line) if in_args else None
    if not grouped or grouped.group(1) != entry_indent:
      out.append(line)
      i += 1
      continue
    indent, names, first = grouped.groups()
    rest = []
    i += 1
    while i < len(lines) and lines[i].startswith(indent + " "):  # the entry's continuation lines
      rest.append(lines[i])
      i += 1
    for name in (n.strip() for n in names.split(",")):
      out += [f"{indent}{name}:{first}"] + rest
  return "\n".join(out)


def rewrite(text: str, public: set[str]) -> str:
  return link_roles(split_grouped_args(doctests_as_examples(text)), public)


class Docstrings(griffe.Extension):
  """Rewrites every docstring of the package, as described in this module's docstring."""

  def __init__(self):
    super().__init__()
    self.public = _public()

  def on_instance(self, *, node, obj, agent, **kwargs):
    if obj.docstring is not None:
      obj.docstring.value = rewrite(obj.docstring.value, self.public)
