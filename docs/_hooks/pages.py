"""Pages whose source lives outside ``docs/``, shown as they are (no copy to keep in step).

* ``notebooks/NAME.ipynb`` becomes the page ``notebooks/NAME.ipynb``; mkdocs-jupyter renders it with
  the outputs stored in it (nothing is executed at build time).
* ``benchmarks/README.md`` becomes the page ``benchmarks.md``.

Sections of ``README.md`` are included in pages with ``pymdownx.snippets`` instead. Their links are
written from the repository's root (``docs/images/worked_example.svg``); in the site the same file is a
neighbour of the page, so once the sections are included those links lose their ``docs/``.
"""

from __future__ import annotations

import pathlib

from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
BENCHMARKS = ROOT / "benchmarks" / "README.md"


def outside_pages() -> dict[str, pathlib.Path]:
  """``{page path in the site's sources: file in the repository}``."""
  pages = {f"notebooks/{p.name}": p for p in sorted(NOTEBOOKS.glob("*.ipynb"))}
  pages["benchmarks.md"] = BENCHMARKS
  return pages


@event_priority(100)  # before mkdocs-jupyter's on_files, which wraps every notebook it finds
def on_files(files, config):
  for src_uri, path in outside_pages().items():
    if path.relative_to(ROOT).as_posix() == src_uri:
      # The same path under the repository's root: a plain File, which mkdocs-jupyter can wrap (its
      # wrapper does not see the source path of a generated File).
      files.append(File(src_uri, str(ROOT), config.site_dir, config.use_directory_urls))
    else:
      files.append(File.generated(config, src_uri, abs_src_path=str(path)))
  return files


class _SiteLinks(Preprocessor):
  def run(self, lines):
    return [line.replace("](docs/", "](") for line in lines]


class SiteLinks(Extension):
  """README's links into ``docs/``, made relative to a page of the site (every page sits at its root)."""

  def extendMarkdown(self, md):
    md.preprocessors.register(_SiteLinks(md), "jbp_site_links", 31)  # after pymdownx.snippets (32)


def on_config(config):
  config.markdown_extensions.append(SiteLinks())
  return config


def on_serve(server, config, builder):
  # `mkdocs serve` rebuilds when these change, as it does for docs/.
  for path in (NOTEBOOKS, BENCHMARKS, ROOT / "README.md", ROOT / "jbp"):
    server.watch(str(path))
  return server
