"""Pages whose source lives outside ``docs/``, shown as they are (no copy to keep in step).

* ``notebooks/NAME.ipynb`` becomes the page ``notebooks/NAME.ipynb``; mkdocs-jupyter renders it with
  the outputs stored in it (nothing is executed at build time).
* ``benchmarks/README.md`` becomes the page ``benchmarks.md``.

Sections of ``README.md`` are included in pages with ``pymdownx.snippets`` instead.
"""

from __future__ import annotations

import pathlib

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


def on_serve(server, config, builder):
  # `mkdocs serve` rebuilds when these change, as it does for docs/.
  for path in (NOTEBOOKS, BENCHMARKS, ROOT / "README.md", ROOT / "jbp"):
    server.watch(str(path))
  return server
