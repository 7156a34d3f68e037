"""The pictures' one palette and fonts, light and dark, as CSS custom properties.

The diagram (a standalone SVG or inside a page), the stepping page and the training page all read the
same variables: ``--fg`` for text, ``--accent`` for what a stage concerns (and the first loss curve),
``--upd`` for updated weights (and the second curve), ``--pos`` and ``--neg`` for a weight's sign.
"""

from __future__ import annotations

__all__ = ["MONO", "PALETTE", "palette_css"]

MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', 'Liberation Mono', monospace"
SANS = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'

PALETTE = {
    "light": {"bg": "#ffffff", "fg": "#1f2328", "muted": "#59636e", "line": "#d1d9e0", "card": "#f6f8fa",
              "edge": "#9aa4ae", "node": "#f6f8fa", "accent": "#0969da", "accent-bg": "#ddf4ff",
              "upd": "#bc4c00", "pos": "#0969da", "neg": "#cf222e"},
    "dark": {"bg": "#0d1117", "fg": "#e6edf3", "muted": "#9198a1", "line": "#3d444d", "card": "#161b22",
             "edge": "#6e7681", "node": "#161b22", "accent": "#4493f8", "accent-bg": "#0c2d6b",
             "upd": "#f0883e", "pos": "#4493f8", "neg": "#f85149"},
}


def palette_css(selector: str) -> str:
  """The palette's variables on ``selector``, dark where the viewer prefers it.

  >>> palette_css(":root").splitlines()[0][:30]
  ':root { --bg: #ffffff; --fg: #'
  """
  def props(colours):
    return " ".join(f"--{k}: {v};" for k, v in colours.items())

  return (f"{selector} {{ {props(PALETTE['light'])} }}\n"
          f"@media (prefers-color-scheme: dark) {{\n  {selector} {{ {props(PALETTE['dark'])} }}\n}}\n")
