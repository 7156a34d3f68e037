"""Math as MathML written at build time, so that no page loads a script to typeset it.

The site must work offline, and the usual typesetters (MathJax, KaTeX) are scripts and fonts fetched
from a CDN. Browsers render MathML themselves, so this hook turns each formula into MathML with
latex2mathml when the site is built:

* in Markdown pages, the formulas that ``pymdownx.arithmatex`` (generic mode) marks: ``$...$`` and
  ``$$...$$`` in the source;
* in notebook pages, ``$...$`` and ``$$...$$`` in the rendered Markdown of cells and outputs (never
  inside code or text output).

It also removes the scripts that the notebook converter adds to every notebook page (the MathJax
loader, and the mermaid loader that imports from a CDN). A formula latex2mathml cannot convert, or a
notebook with a mermaid diagram, fails the build.
"""

from __future__ import annotations

import html
import re

from mkdocs.exceptions import PluginError

MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
MERMAID = re.compile(r"<script type=\"module\">(?:(?!</script>).)*?mermaid(?:(?!</script>).)*</script>", re.S)
MERMAID_DIAGRAM = re.compile(r"class=\"[^\"]*\bjp-Mermaid\b")
ARITHMATEX = re.compile(r"<(div|span) class=\"arithmatex\">\s*\\([\[(])(.*?)\\[\])]\s*</\1>", re.S)
# Code, preformatted text and scripts are left alone: a "$" there is not math.
VERBATIM = re.compile(r"(<(pre|code|script|style)\b.*?</\2>)", re.S)
DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
INLINE = re.compile(r"(?<![\\$\w])\$(?!\s)([^$\n]+?)(?<![\\\s])\$(?![\w$])")


def mathml(tex: str, *, display: bool, where: str) -> str:
  """The MathML of one formula (``tex`` as written, HTML entities decoded)."""
  from latex2mathml.converter import convert

  # latex2mathml aligns the rows of "split" as TeX does those of "aligned".
  source = html.unescape(tex).strip().replace(r"\begin{aligned}", r"\begin{split}")
  source = source.replace(r"\end{aligned}", r"\end{split}")
  try:
    out = convert(source, display="block" if display else "inline")
  except Exception as e:  # latex2mathml raises several kinds of error on what it does not know
    raise PluginError(f"{where}: cannot convert the formula {source[:80]!r} to MathML: {e}") from None
  return f'<div class="jbp-math">{out}</div>' if display else out


def _outside_verbatim(text: str, fn) -> str:
  parts = VERBATIM.split(text)
  # split() with two groups yields [text, whole, tag, text, whole, tag, ...]
  out = []
  for k in range(0, len(parts), 3):
    out.append(fn(parts[k]))
    if k + 1 < len(parts):
      out.append(parts[k + 1])
  return "".join(out)


def render(page_html: str, *, notebook: bool, where: str) -> str:
  """``page_html`` with its formulas as MathML and the notebook converter's scripts removed."""
  page_html = ARITHMATEX.sub(
      lambda m: mathml(m.group(3), display=m.group(2) == "[", where=where), page_html)
  if not notebook:
    return page_html
  if MERMAID_DIAGRAM.search(page_html):
    raise PluginError(f"{where}: mermaid diagrams need a script from a CDN, which this offline site "
                      "does not load; draw the diagram as an image instead")
  page_html = MERMAID.sub("", MATHJAX.sub("", page_html))

  def convert(text):
    text = DISPLAY.sub(lambda m: mathml(m.group(1), display=True, where=where), text)
    return INLINE.sub(lambda m: mathml(m.group(1), display=False, where=where), text)

  return _outside_verbatim(page_html, convert)


def on_page_content(html_text, page, config, files):
  notebook = page.file.src_uri.endswith(".ipynb")
  return render(html_text, notebook=notebook, where=page.file.src_uri)
