"""The derivation's symbols in three notations: plain text, LaTeX and HTML.

One routine lays the derivation out (:mod:`jbp._show.derivation`); it writes every symbol through one
of these classes, so the terminal's ``dE_total/dout_o1``, the Markdown's
``\\frac{\\partial E_{\\mathrm{total}}}{\\partial \\mathrm{out}_{o_{1}}}`` and the page's fraction are the
same equation. The activations' formulas and derivatives are one table, :data:`FORMULAS`, with a
column a notation. Every number is written by :func:`jbp._show.format.decimals`.
"""

from __future__ import annotations

import html
import re

from jbp._show.format import decimals

__all__ = ["FORMULAS", "Html", "Latex", "Text"]

# activation: {notation: (out as a function of the net input {x}, dout/dnet in {o} = out and {n} = net)}
FORMULAS = {
    "sigmoid": {"text": ("1/(1 + e^-{x})", "{o} (1 - {o})"),
                "latex": (r"\frac{{1}}{{1 + e^{{-{x}}}}}", r"{o}\,(1 - {o})"),
                "html": ('<span class="frac"><span>1</span><span>1 + e<sup>−{x}</sup></span></span>',
                         "{o} (1 − {o})")},
    "tanh": {"text": ("tanh({x})", "1 - {o}^2"), "latex": (r"\tanh({x})", "1 - {o}^2"),
             "html": ("tanh({x})", "1 − {o}²")},
    "relu": {"text": ("max(0, {x})", "[{n} > 0]"), "latex": (r"\max(0, {x})", "[{n} > 0]"),
             "html": ("max(0, {x})", "[{n} &gt; 0]")},
    "identity": {"text": ("{x}", "1"), "latex": ("{x}", "1"), "html": ("{x}", "1")},
}
# another activation (one of the user's): its name as a function, and its derivative primed
OTHER = {"text": ("{a}({x})", "{a}'({n})"), "latex": (r"\mathrm{{{a}}}({x})", r"\mathrm{{{a}}}'({n})"),
         "html": ("{a}({x})", "{a}′({n})")}


class Text:
  """Symbols for a terminal."""

  notation = "text"
  times = " * "
  Etot = "E_total"
  eta = "eta"

  def name(self, s: str) -> str:
    return s

  def net(self, n: str) -> str:
    return f"net_{n}"

  def out(self, n: str) -> str:
    return f"out_{n}"

  def target(self, n: str) -> str:
    return f"target_{n}"

  def E(self, n: str) -> str:
    return f"E_{n}"

  def d(self, num: str, den: str) -> str:
    return f"d{num}/d{den}"

  def delta(self, n: str) -> str:
    return f"delta_{n}"

  def plus(self, s: str) -> str:
    return s + "+"

  def half_sq(self, a: str) -> str:
    return f"1/2 ({a})^2"

  def num(self, v: float, paren: bool = False) -> str:
    s = decimals(v)
    return f"({s})" if paren and s.startswith("-") else s

  def example(self, e: int) -> str:
    return f"[{e}] "

  def activation_name(self, act: str) -> str:
    return act

  def fn(self, act: str, arg: str) -> str:
    """The activation ``act`` of ``arg``."""
    fn, _ = FORMULAS.get(act, {}).get(self.notation, OTHER[self.notation])
    return fn.format(x=arg, a=self.activation_name(act))

  def deriv(self, act: str, n: str) -> str:
    """``dout/dnet`` of neuron ``n``, in its ``out`` (or ``net``)."""
    _, d = FORMULAS.get(act, {}).get(self.notation, OTHER[self.notation])
    return d.format(o=self.out(n), n=self.net(n), a=self.activation_name(act))

  def sum_over(self, body: str) -> str:
    return f"sum over examples of {body}"

  def inline(self, math: str) -> str:
    """Symbols inside a sentence (a note or a title)."""
    return math


_NAME = re.compile(r"^([A-Za-z]+)(\d+)(?:_(\d+))?$")


class Latex(Text):
  """Symbols for LaTeX math."""

  notation = "latex"
  times = r" \cdot "
  Etot = r"E_{\mathrm{total}}"
  eta = r"\eta"

  def name(self, s: str) -> str:
    m = _NAME.match(s)
    if not m:
      return rf"\mathrm{{{s}}}"
    letters, a, b = m.groups()
    return f"{letters}_{{{a}}}" if b is None else f"{letters}_{{{a},{b}}}"

  def net(self, n: str) -> str:
    return rf"\mathrm{{net}}_{{{self.name(n)}}}"

  def out(self, n: str) -> str:
    return rf"\mathrm{{out}}_{{{self.name(n)}}}"

  def target(self, n: str) -> str:
    return rf"\mathrm{{target}}_{{{self.name(n)}}}"

  def E(self, n: str) -> str:
    return f"E_{{{self.name(n)}}}"

  def d(self, num: str, den: str) -> str:
    return rf"\frac{{\partial {num}}}{{\partial {den}}}"

  def delta(self, n: str) -> str:
    return rf"\delta_{{{self.name(n)}}}"

  def plus(self, s: str) -> str:
    return f"{s}^{{+}}"

  def half_sq(self, a: str) -> str:
    return rf"\tfrac{{1}}{{2}}\left({a}\right)^2"

  def example(self, e: int) -> str:
    return rf"[{e}]\quad "

  def sum_over(self, body: str) -> str:
    return rf"\sum_{{\text{{examples}}}} {body}"

  def inline(self, math: str) -> str:
    return f"${math}$"


class Html(Text):
  """Symbols as HTML (the stepping page's equations)."""

  notation = "html"
  times = " · "
  Etot = "E<sub>total</sub>"
  eta = "η"

  def name(self, s: str) -> str:
    return html.escape(s)

  def net(self, n: str) -> str:
    return f"net<sub>{html.escape(n)}</sub>"

  def out(self, n: str) -> str:
    return f"out<sub>{html.escape(n)}</sub>"

  def target(self, n: str) -> str:
    return f"target<sub>{html.escape(n)}</sub>"

  def E(self, n: str) -> str:
    return f"E<sub>{html.escape(n)}</sub>"

  def d(self, num: str, den: str) -> str:
    return f'<span class="frac"><span>∂{num}</span><span>∂{den}</span></span>'

  def delta(self, n: str) -> str:
    return f"δ<sub>{html.escape(n)}</sub>"

  def plus(self, s: str) -> str:
    return f'{s}<sup class="upd">+</sup>'

  def half_sq(self, a: str) -> str:
    return f"½ ({a})²"

  def num(self, v: float, paren: bool = False) -> str:
    s = decimals(v)
    core = f'<span class="num">{s}</span>'
    return f"({core})" if paren and s.startswith("-") else core

  def example(self, e: int) -> str:
    return f'<span class="exn">[{e}]</span> '

  def activation_name(self, act: str) -> str:
    return html.escape(act)

  def sum_over(self, body: str) -> str:
    return f"Σ<sub>examples</sub> {body}"
