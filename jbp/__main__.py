"""``python -m jbp``: the ``jbp`` program, with its signal policy (jbp.cli.program)."""

from jbp.cli import program

program()
