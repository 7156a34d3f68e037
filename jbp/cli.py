"""The ``jbp`` command line.

``jbp`` alone runs the worked example in float64 and prints each published
figure next to jbp's value under each update order.

Errors in arguments print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys


class UsageError(Exception):
  """A bad argument: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
  def error(self, message):
    raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(
      prog="jbp",
      description="Backpropagation in JAX: the worked 2-2-2 example, reproduced digit for digit.",
      epilog=("examples:\n"
              "  jbp                 the worked example's published figures, both update orders\n"
              "  jbp --json          the same as JSON\n"
              "  jbp --float32       in float32 (will not match every digit)"),
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
  parser.add_argument("--float32", action="store_true",
                      help="compute in float32 instead of float64")
  parser.set_defaults(func=cmd_figures)
  parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
  return parser


def _enable_x64(enabled: bool):
  # The command line is an application: it may set JAX's configuration for its own
  # process. The library never does.
  import jax

  jax.config.update("jax_enable_x64", bool(enabled))


def cmd_figures(args) -> int:
  import jax.numpy as jnp

  from jbp._figures import format_figures, worked_example_figures

  _enable_x64(not args.float32)
  dtype = jnp.float32 if args.float32 else jnp.float64
  rows = worked_example_figures(dtype)
  if args.json:
    print(json.dumps({"dtype": jnp.dtype(dtype).name, "figures": [
        {"name": r.name, "published": r.published, "values": r.values, "matches": r.matches}
        for r in rows]}, indent=2))
  else:
    print(format_figures(rows, jnp.dtype(dtype).name))
  return 0


def main(argv=None) -> int:
  parser = build_parser()
  try:
    args = parser.parse_args(argv)
    return args.func(args)
  except UsageError as e:
    print(str(e), file=sys.stderr)
    return 2
  except (ValueError, TypeError, OSError) as e:
    print(f"jbp: error: {e}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print("jbp: interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
