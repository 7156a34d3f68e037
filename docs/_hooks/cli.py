"""The command-line page shows what ``jbp [COMMAND] --help`` prints, generated at build time.

A line ``<!-- help: jbp explain -->`` in ``docs/cli.md`` becomes a text block with the output of
``jbp explain --help`` (usage, options and the examples of its epilog), from the same parser the
command line uses, so the page cannot drift from the program. The build fails when a subcommand has
no such line, or a line names a command that does not exist.
"""

from __future__ import annotations

import contextlib
import io
import os
import re

from mkdocs.exceptions import PluginError

PAGE = "cli.md"
MARKER = re.compile(r"^<!-- help: (jbp(?: [a-z-]+)?) -->$", re.M)
# argparse wraps help to the terminal's width (COLUMNS); the page uses a fixed one.
WIDTH = 80


def commands() -> list[str]:
  """``["jbp", "jbp explain", ...]``: the program and each of its subcommands."""
  import argparse

  from jbp.cli import build_parser

  parser = build_parser()
  subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
  return ["jbp"] + [f"jbp {name}" for action in subs for name in action.choices]


def help_text(command: str) -> str:
  """What ``command --help`` prints at a terminal ``WIDTH`` columns wide."""
  from jbp.cli import build_parser

  out = io.StringIO()
  old = os.environ.get("COLUMNS")
  os.environ["COLUMNS"] = str(WIDTH)
  try:
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
      build_parser().parse_args(command.split()[1:] + ["--help"])
  finally:
    if old is None:
      del os.environ["COLUMNS"]
    else:
      os.environ["COLUMNS"] = old
  return out.getvalue()


def render(markdown: str) -> str:
  """``markdown`` with every help marker replaced by that command's ``--help`` output.

  Raises:
    PluginError: a command of the program has no marker, or a marker names no command.
  """
  known = commands()
  named = MARKER.findall(markdown)
  unknown = sorted(set(named) - set(known))
  if unknown:
    raise PluginError(f"{PAGE}: no such command: {', '.join(unknown)}; the commands are {', '.join(known)}")
  missing = [c for c in known if c not in named]
  if missing:
    raise PluginError(f"{PAGE}: every command needs a line '<!-- help: COMMAND -->'; missing for "
                      f"{', '.join(missing)}")
  return MARKER.sub(lambda m: f"```text\n$ {m.group(1)} --help\n{help_text(m.group(1)).rstrip()}\n```",
                    markdown)


def on_page_markdown(markdown, page, config, files):
  if page.file.src_uri == PAGE:
    return render(markdown)
  return markdown
