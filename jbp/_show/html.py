"""The pages' one shell: a self-contained HTML document, its shared style and keys, a notebook frame.

Every page jbp writes (the stepping page of :func:`jbp.render_html`, the training page of
:func:`jbp.render_training`) is one file built by :func:`page`: inline CSS and script, the diagram's
style, and a Content-Security-Policy that forbids loading anything, so it opens from disk in any
current browser and never reaches the network. :data:`KEYS_SCRIPT` gives both pages the same keys
(right and left arrows step, Home and End jump); :func:`notebook_frame` shows a page in a notebook
with its own style and script.
"""

from __future__ import annotations

import html

from jbp._show.diagram import SVG_CSS
from jbp._show.style import SANS, palette_css

__all__ = ["BASE_CSS", "CSP", "KEYS_SCRIPT", "notebook_frame", "page"]

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

BASE_CSS = palette_css(":root") + f"""
:root {{ color-scheme: light dark; }}
* {{ box-sizing: border-box; }}
html, body {{ margin: 0; background: var(--bg); color: var(--fg); }}
body {{ font: 15px/1.45 {SANS}; }}
h1 {{ font-size: 18px; margin: 0; }}
.sub {{ color: var(--muted); margin: 2px 0 0; font-size: 13.5px; }}
@media (max-width: 900px) {{ main {{ grid-template-columns: minmax(0, 1fr); }} }}
"""

# jbpSteps(at, last, go): the arrow keys step (Home and End jump) through positions 0..last(), calling
# go(k) with the new one; keys typed into a control (the slider, the stage menu) are the control's own.
KEYS_SCRIPT = """
function jbpSteps(at, last, go) {
  document.addEventListener('keydown', e => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.target.closest('input, select, textarea')) return;
    const k = at(), to = {ArrowRight: k + 1, ArrowLeft: k - 1, Home: 0, End: last()}[e.key];
    if (to === undefined) return;
    e.preventDefault();
    go(Math.max(0, Math.min(last(), to)));
  });
}
"""


def page(title: str, body: str, *, css: str, script: str = "", body_attrs: str = "") -> str:
  """A self-contained HTML document: inline style and script, and a policy that forbids loading anything.

  ``css`` adds to the shared style (the palette, the body's font, the diagram's style); ``script``
  runs after :data:`KEYS_SCRIPT`.
  """
  return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
          f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
          f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
          f'<meta name="color-scheme" content="light dark">\n<title>{html.escape(title)}</title>\n'
          f"<style>{BASE_CSS}{SVG_CSS}{css}</style>\n</head>\n<body{body_attrs}>\n{body}\n"
          + (f"<script>{KEYS_SCRIPT}{script}</script>\n" if script else "") + "</body>\n</html>\n")


def notebook_frame(document: str, height: int = 760) -> str:
  """A page inside an ``<iframe srcdoc>``, so a notebook shows it with its own style and script."""
  return (f'<iframe srcdoc="{html.escape(document, quote=True)}" style="width: 100%; height: {height}px; '
          f'border: 1px solid #d1d9e0; border-radius: 6px;" title="jbp" loading="lazy"></iframe>')
