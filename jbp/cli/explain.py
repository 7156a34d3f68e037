"""``jbp explain``: every number of one training step, as text, Markdown, JSON, an SVG or a page."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
  import argparse


from jbp.cli.common import check_drawable, outputs_of, problem
from jbp.cli.parser import UsageError
from jbp.cli.stop import Stop, exit_status

__all__ = ["run"]


def run(args: argparse.Namespace, stop: Stop, argv: list[str] | None = None,
        parser: argparse.ArgumentParser | None = None) -> int:
  """Runs ``jbp explain``; returns the exit status."""
  import jax.numpy as jnp

  from jbp import _explain
  from jbp._show import derivation
  from jbp._show.names import MAX_EXAMPLES
  from jbp._show.stepping import render_html
  from jbp._show.svg import render_svg
  from jbp._train import train

  if args.sizes:
    check_drawable("--sizes", args.sizes)
  most_examples = MAX_EXAMPLES
  outputs = outputs_of(args, stop)
  with outputs:
    params, x, y, what = problem(args)
    worked_shape = [p.w.shape for p in params] == [(2, 2), (2, 2)] and all(jnp.ndim(p.b) == 0 for p in params)
    if args.names == "worked" and not worked_shape:
      raise UsageError("--names", "expected systematic (or no --names) for a network other than the worked "
                                  "example's 2-2-2 with one bias a layer, got worked")
    if x.ndim == 2 and x.shape[0] > most_examples:
      raise UsageError("--data", f"expected at most {most_examples} examples (explain prints every example's "
                                 f"terms), got {x.shape[0]} in {what}")
    kw = dict(activation=args.activation, trainable=args.trainable)
    if args.step > 1:
      params, _ = train(params, x, y, steps=args.step - 1, learning_rate=args.learning_rate,
                        update=args.update, record_every=args.step - 1, **kw)
    record = _explain.explain(params, x, y, learning_rate=args.learning_rate, update=args.update,
                              names=args.names, **kw)
    fmt = "json" if args.json else args.format
    if fmt == "json":
      text = json.dumps({"step": args.step, **json.loads(derivation.render_json(record))}, indent=2) + "\n"
    elif fmt == "markdown":
      text = derivation.render_markdown(record)
    elif fmt in ("svg", "html"):
      title = f"Step {args.step}: the params after {args.step - 1} step(s)" if args.step > 1 else None
      text = render_svg(record, title=title) if fmt == "svg" else render_html(record, title=title)
    else:
      text = derivation.render_text(record)
    if args.step > 1 and fmt in ("text", "markdown"):
      text = (f"Step {args.step}: the params after {args.step - 1} step{'s' if args.step > 2 else ''}.\n\n" if
              fmt == "text" else f"*Step {args.step}: the params after {args.step - 1} step(s).*\n\n") + text
    if args.out is None:
      sys.stdout.write(text)
      return stop.end(lambda signum: _said(signum, None))

    def save(signum):
      outputs.write("--out", lambda p: open(p, "w", encoding="utf-8").write(text))
      outputs.commit()
      return _said(signum, args.out)

    return stop.end(save)


def _said(signum, path):
  """The ending once the work is done: a signal that came meanwhile is reported, not dropped."""
  if not signum:
    return 0, ""
  where = f"{path} was written whole first" if path else "the derivation was printed whole first"
  return exit_status(signum), f"jbp explain: interrupted while finishing; {where}"
