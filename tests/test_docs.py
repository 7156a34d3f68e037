"""The documentation site builds strictly, works offline, and shows every public name.

The site is built once, with ``mkdocs build --strict`` into a temporary folder, as CI and README say.
These tests need the ``docs`` extra (``pip install -e ".[test,docs]"``, README's test install) and
skip, saying so, without it. The browser test also needs Chromium and skips, saying how to install
it, without one.
"""

from __future__ import annotations

import html
import html.parser
import importlib.util
import inspect
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import jbp

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS_MODULES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers", "mkdocs_jupyter", "pymdownx",
                "latex2mathml", "yaml")
MISSING = [m for m in DOCS_MODULES if importlib.util.find_spec(m) is None]
needs_docs = pytest.mark.skipif(bool(MISSING), reason=f"the docs extra is not installed (no "
                                                     f"{', '.join(MISSING)}): pip install -e '.[docs]'")
ENV = dict(os.environ, NO_MKDOCS_2_WARNING="1", JAX_PLATFORMS="cpu")


def mkdocs_build(config, site_dir):
  """``mkdocs build --strict`` of ``config`` into ``site_dir``; returns the finished process."""
  return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                         "--site-dir", str(site_dir)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                        timeout=600)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
  """The site, built strictly from this checkout."""
  out = tmp_path_factory.mktemp("site")
  r = mkdocs_build(ROOT / "mkdocs.yml", out)
  assert r.returncode == 0, f"mkdocs build --strict failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
  return out


def nav_pages():
  """The source of every page in mkdocs.yml's navigation, e.g. ``["index.md", ..., "api.md"]``."""
  import yaml

  def walk(items):
    for item in items:
      for value in (item.values() if isinstance(item, dict) else [item]):
        yield from (walk(value) if isinstance(value, list) else [value])

  return list(walk(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]))


def text_of(page_html):
  """The visible text of a page: tags dropped, entities decoded, runs of white space made one space."""
  return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page_html)).split())


def load_hook(name):
  """The module docs/_hooks/NAME.py (a hook of mkdocs.yml, or the docstring extension)."""
  spec = importlib.util.spec_from_file_location(f"jbp_docs_{name}", ROOT / "docs" / "_hooks" / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


# --- Offline: nothing is fetched from another host, at build time or at view time -------------------------

# <link rel=...> values that make a browser fetch the linked file.
LOADING_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "preconnect", "dns-prefetch", "icon",
                "shortcut", "apple-touch-icon", "manifest"}
REMOTE = re.compile(r"^\s*(?:https?:)?//", re.I)
# In scripts and styles: a URL that is fetched (imports, url(...), fetch, src), not an XML namespace name.
REMOTE_IN_CODE = re.compile(r"(?:https?:)?//(?!www\.w3\.org/)[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'`)]*")


class _Loads(html.parser.HTMLParser):
  def __init__(self):
    super().__init__(convert_charrefs=True)
    self.found, self._code = [], None

  def handle_starttag(self, tag, attrs):
    a = dict(attrs)
    urls = []
    if tag == "link" and LOADING_RELS & set((a.get("rel") or "").lower().split()):
      urls.append(a.get("href") or "")
    if tag in ("script", "img", "iframe", "source", "video", "audio", "embed", "track", "input"):
      urls += [a.get("src") or "", *(s.split()[0] for s in (a.get("srcset") or "").split(",") if s.strip())]
    if tag == "object":
      urls.append(a.get("data") or "")
    self.found += [f"<{tag}> {u}" for u in urls if REMOTE.match(u)]
    if a.get("style"):
      self.found += [f"style= {u}" for u in _remote_in_css(a["style"])]
    self._code = tag if tag in ("script", "style") else None

  def handle_endtag(self, tag):
    self._code = None

  def handle_data(self, data):
    if self._code == "style":
      self.found += [f"<style> {u}" for u in _remote_in_css(data)]
    elif self._code == "script":
      self.found += [f"<script> {u}" for u in REMOTE_IN_CODE.findall(data)]


def _remote_in_css(css):
  refs = re.findall(r"url\(\s*['\"]?([^'\")]+)", css) + re.findall(r"@import\s+['\"]([^'\"]+)", css)
  return [u for u in refs if REMOTE.match(u)]


def external_loads(page_html):
  """Every URL on another host that the page would fetch: scripts, styles, fonts, images, frames."""
  parser = _Loads()
  parser.feed(page_html)
  return parser.found


def test_external_loads_finds_cdn_scripts_styles_and_fonts():
  # The check can fail: a page that loads from a CDN in each of these ways is caught, a link is not.
  page = """<html><head>
    <script src="https://cdn.example.org/mathjax.js"></script>
    <link rel="stylesheet" href="//fonts.example.com/css?family=Roboto">
    <style>@import "https://cdn.example.org/a.css";
           @font-face { src: url(https://fonts.example.com/r.woff2) }</style>
    <script type="module">const m = await import("https://cdn.example.org/mermaid.mjs");</script>
    </head><body><img src="http://example.org/x.png"><a href="https://example.org/">a link is not a load</a>
    <svg xmlns="http://www.w3.org/2000/svg"></svg><script src="assets/local.js"></script></body></html>"""
  found = external_loads(page)
  assert found == ["<script> https://cdn.example.org/mathjax.js",
                   "<link> //fonts.example.com/css?family=Roboto",
                   "<style> https://fonts.example.com/r.woff2", "<style> https://cdn.example.org/a.css",
                   "<script> https://cdn.example.org/mermaid.mjs", "<img> http://example.org/x.png"]


@needs_docs
def test_no_page_fetches_anything_from_another_host(site):
  pages = sorted(site.rglob("*.html"))
  assert len(pages) >= len(nav_pages())
  found = {str(p.relative_to(site)): external_loads(p.read_text(encoding="utf-8")) for p in pages}
  for css in site.rglob("*.css"):
    found[str(css.relative_to(site))] = _remote_in_css(css.read_text(encoding="utf-8"))
  assert not {k: v for k, v in found.items() if v}, "the site must work offline"


@needs_docs
def test_theme_fonts_and_analytics_are_off():
  import yaml

  config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
  assert config["theme"]["font"] is False  # the theme would load its fonts from a font CDN at view time
  assert "analytics" not in (config.get("extra") or {})


# --- Every page, built strictly --------------------------------------------------------------------------


@needs_docs
def test_every_page_in_the_navigation_is_built(site):
  for src in nav_pages():
    built = site / (src.rsplit(".", 1)[0] + ".html")
    assert built.is_file(), f"{src} was not built"
    assert len(text_of(built.read_text(encoding="utf-8"))) > 500, f"{src} is (nearly) empty"


@needs_docs
def test_every_public_name_is_on_the_reference_page(site):
  page = (site / "api.html").read_text(encoding="utf-8")
  # mkdocstrings gives each documented object a heading with its path as id.
  missing = [name for name in jbp.__all__ if f'id="jbp.{name}"' not in page]
  assert not missing, f"add '::: jbp.NAME' to docs/api.md for each of {missing}"
  assert "Examples:" in text_of(page)


@needs_docs
def test_readme_sections_are_included_not_copied(site):
  # The figure table of README.md appears on the home page, from README itself.
  readme = (ROOT / "README.md").read_text()
  table = re.search(r"<!-- --8<-- \[start:figures\] -->\n(.*?)<!-- --8<-- \[end:figures\] -->", readme, re.S)
  first_row = re.search(r"^\| E after 1 update \|.*$", table.group(1), re.M).group(0)
  cells = [c.strip() for c in first_row.strip("|").split("|")]
  home = text_of((site / "index.html").read_text(encoding="utf-8"))
  assert " ".join(cells) in home
  for page in ROOT.joinpath("docs").glob("*.md"):
    assert "| E after 1 update |" not in page.read_text(), f"{page.name} copies README's table"


@needs_docs
def test_notebooks_are_pages_with_their_stored_outputs(site):
  for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
    page = (site / "notebooks" / f"{nb.stem}.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') >= 1, f"{nb.name}: its stored plot is not on the page"
    assert "jp-OutputArea-output" in page
  # The derivation rendered from LaTeX in the first notebook is MathML, typeset by the browser itself.
  first = (site / "notebooks" / "01_worked_example.html").read_text(encoding="utf-8")
  assert first.count("<math") >= 5 and "$$" not in text_of(first)


# --- The command line page is what --help prints ---------------------------------------------------------


@needs_docs
def test_cli_page_shows_what_each_command_help_prints(site):
  code = """
import contextlib, io, json, os, re
from jbp.cli import main
os.environ["COLUMNS"] = "80"
def help_of(argv):
  out = io.StringIO()
  with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
    main(argv + ["--help"])
  return out.getvalue()
top = help_of([])
listed = top.split("  COMMAND\\n", 1)[1].split("\\n\\n", 1)[0]
commands = re.findall(r"^    ([a-z]+) ", listed, flags=re.M)
print(json.dumps({"jbp": top, **{f"jbp {c}": help_of([c]) for c in commands}}))
"""
  r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=ROOT,
                     timeout=120)
  assert r.returncode == 0, r.stderr
  import json

  helps = json.loads(r.stdout)
  assert set(helps) == {"jbp", "jbp explain", "jbp train", "jbp ensemble"}
  page = html.unescape(re.sub(r"<[^>]+>", "", (site / "cli.html").read_text(encoding="utf-8")))
  for command, text in helps.items():
    assert f"$ {command} --help\n{text.rstrip()}" in page, f"the page does not show `{command} --help`"
  assert "jbp explain --data xor --sizes 2,3,1" in page  # an example from an epilog


@needs_docs
def test_cli_page_fails_the_build_without_a_command():
  from mkdocs.exceptions import PluginError

  hook = load_hook("cli")

  page = "\n".join(f"<!-- help: {c} -->" for c in hook.commands())
  assert "usage: jbp train" in hook.render(page)
  with pytest.raises(PluginError, match="missing for jbp ensemble"):
    hook.render(page.replace("<!-- help: jbp ensemble -->", ""))
  with pytest.raises(PluginError, match="no such command: jbp fly"):
    hook.render(page + "\n<!-- help: jbp fly -->")


# --- The hooks and the docstring extension, on small inputs ----------------------------------------------


@needs_docs
def test_math_becomes_mathml_and_cdn_scripts_go():
  from mkdocs.exceptions import PluginError

  math = load_hook("math")
  page = ("<!-- Load mathjax --><script src=\"https://cdn.example.org/MathJax.js\"></script>"
          "<!-- End of mathjax configuration -->"
          "<script type=\"module\">await import(\"https://cdn.example.org/mermaid.mjs\")</script>"
          "<p>$$\n\\begin{aligned}\nE &amp;= \\tfrac{1}{2} (t - o)^2\n\\end{aligned}\n$$</p>"
          "<p>the weight $w_5^{+}$ costs $5 and $10</p><pre>echo $HOME $PATH</pre>")
  out = math.render(page, notebook=True, where="test.ipynb")
  assert "cdn.example.org" not in out and "$$" not in out
  assert out.count("<math") == 2 and "<mtable" in out and "<mfrac" in out
  assert "costs $5 and $10" in out and "<pre>echo $HOME $PATH</pre>" in out
  md = math.render('<span class="arithmatex">\\(\\eta\\)</span>', notebook=False, where="page.md")
  assert md.startswith("<math") and "\u03b7" in html.unescape(md)
  with pytest.raises(PluginError, match="mermaid"):
    math.render('<div class="jp-Mermaid"><pre class="mermaid">graph TD</pre></div>', notebook=True,
                where="test.ipynb")


@needs_docs
def test_docstrings_become_markdown_for_the_reference():
  ext = load_hook("docstrings")
  doc = ("Trains it.\n\nArgs:\n  params, x: as in :func:`jbp.train`, see :func:`_scan_loop`.\n"
         "  steps: updates,\n    a, b: not an entry.\n\nReturns:\n  a :class:`Layer`.\n\n>>> 1 + 1\n2\n")
  assert ext.rewrite(doc, {"train", "Layer"}) == (
      "Trains it.\n\nArgs:\n  params: as in [`jbp.train`][jbp.train], see `_scan_loop`.\n"
      "  x: as in [`jbp.train`][jbp.train], see `_scan_loop`.\n"
      "  steps: updates,\n    a, b: not an entry.\n\nReturns:\n  a [`Layer`][jbp.Layer].\n\n"
      "Examples:\n  >>> 1 + 1\n  2\n")


# --- The strict build fails on what it must fail on -----------------------------------------------------


def small_site(tmp_path, pages):
  """A two-page site in ``tmp_path`` with the project's own settings; returns its mkdocs.yml.

  The validation, Markdown and mkdocstrings settings are those of mkdocs.yml; the notebooks (slow to
  convert) and the hooks that add pages from outside docs/ are left out.
  """
  import yaml

  config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
  docs = tmp_path / "docs"
  docs.mkdir()
  for name, text in pages.items():
    (docs / name).write_text(text)
  config.update(docs_dir=str(docs), nav=[{"Home": "index.md"}, {"API": "api.md"}], hooks=[])
  config.pop("extra_css")
  config["plugins"] = [p for p in config["plugins"] if not (isinstance(p, dict) and "mkdocs-jupyter" in p)]
  python = next(p for p in config["plugins"] if isinstance(p, dict) and "mkdocstrings" in p)
  python = python["mkdocstrings"]["handlers"]["python"]
  python["paths"] = [str(ROOT)]
  python["options"]["extensions"] = [str(ROOT / e) for e in python["options"]["extensions"]]
  (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
  return tmp_path / "mkdocs.yml"


# Every public name, so that the cross-references between docstrings resolve as on the real page.
GOOD = {"index.md": "# Home\n\nSee [the reference](api.md).\n",
        "api.md": "# API\n\n" + "\n\n".join(f"::: jbp.{name}" for name in jbp.__all__) + "\n"}


def build_in_process(config_file, site_dir, caplog):
  """``mkdocs build --strict`` in this process (cheaper than a new one); returns (passed, log text)."""
  import logging

  from mkdocs.commands.build import build
  from mkdocs.config import load_config
  from mkdocs.exceptions import Abort, BuildError, PluginError

  config = load_config(str(config_file), strict=True, site_dir=str(site_dir))
  with caplog.at_level(logging.WARNING, logger="mkdocs"):
    try:
      build(config)
      passed, error = True, ""
    except (Abort, BuildError, PluginError) as e:
      passed, error = False, str(e)
  return passed, caplog.text + error


@needs_docs
def test_strict_build_of_a_correct_small_site_passes(tmp_path, caplog):
  # The control for the two tests below: without a defect, the same pages build.
  passed, log = build_in_process(small_site(tmp_path, GOOD), tmp_path / "site", caplog)
  assert passed, log
  assert 'id="jbp.train"' in (tmp_path / "site" / "api.html").read_text(encoding="utf-8")


@needs_docs
def test_strict_build_fails_on_a_broken_link_an_orphan_page_and_a_broken_cross_reference(tmp_path, caplog):
  pages = {**GOOD, "index.md": "# Home\n\nSee [nothing](nowhere.md) and [`train`][jbp.no_such_name].\n",
           "orphan.md": "# Orphan\n"}
  passed, log = build_in_process(small_site(tmp_path, pages), tmp_path / "site", caplog)
  assert not passed
  for message in (r"contains a link 'nowhere\.md', but the target is not found",   # broken link
                  r"orphan\.md",                                                   # not in the navigation
                  r"not included in the \"nav\" configuration",
                  r"Could not find cross-reference target 'jbp\.no_such_name'"):   # broken cross-reference
    assert re.search(message, log), f"{message!r} is not in the log:\n{log[-3000:]}"


@needs_docs
def test_strict_build_fails_on_a_missing_reference(tmp_path, caplog):
  pages = {**GOOD, "api.md": GOOD["api.md"] + "\n::: jbp.no_such_name\n"}
  passed, log = build_in_process(small_site(tmp_path, pages), tmp_path / "site", caplog)
  assert not passed
  assert re.search(r"jbp\.no_such_name", log), log[-3000:]


# --- README points at every page ------------------------------------------------------------------------


@needs_docs
def test_readme_links_to_every_page_and_says_how_to_serve_the_site():
  readme = (ROOT / "README.md").read_text()
  where = {"benchmarks.md": "benchmarks/README.md"}
  for src in nav_pages():
    target = where.get(src, src if src.startswith("notebooks/") else f"docs/{src}")
    assert f"]({target})" in readme, f"README.md does not link to {target}"
  assert 'pip install -e ".[docs]" && mkdocs serve' in readme


# --- In a browser ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dump_dom():
  """``dump_dom(path)``: the DOM of a local page after headless Chromium has loaded and rendered it."""
  browser = next((b for b in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
                  if shutil.which(b)), None)
  if browser is None:
    pytest.skip("no Chromium found: install one (on Debian: apt-get install chromium) for the browser check")

  def run(path):
    import tempfile

    with tempfile.TemporaryDirectory() as profile:
      # Without the background-networking flags Chromium waits on the network, which may be closed.
      r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom",
                          pathlib.Path(path).as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "</html>" in r.stdout, r.stderr[-2000:]
    return r.stdout

  return run


@needs_docs
def test_browser_shows_the_signature_of_train_on_the_api_page(dump_dom, site):
  dom = dump_dom(site / "api.html")
  heading = dom.index('id="jbp.train"')
  shown = text_of(dom[heading:heading + 20_000])
  # The signature as Python states it, annotations included, compared without white space, quotes (the
  # annotations are strings to inspect, code on the page), a trailing comma, or the module path that the
  # page leaves off a type (jax.typing.ArrayLike shows as ArrayLike).
  want = f"train{inspect.signature(jbp.train)}".replace("jax.typing.", "")
  norm = lambda s: re.sub(r",\)", ")", re.sub(r"\s+", "", s).replace("'", "").replace('"', ""))  # noqa: E731
  assert norm(want) in norm(shown), f"{want} is not on the page; it shows: {shown[:600]}"
