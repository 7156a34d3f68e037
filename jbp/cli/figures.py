"""``jbp``: the worked example's published figures beside jbp's values, in both update orders."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
  import argparse

  from jbp.cli.stop import Stop

from jbp.cli.common import enable_x64

__all__ = ["run"]


def run(args: argparse.Namespace, stop: Stop | None = None, argv: list[str] | None = None,
        parser: argparse.ArgumentParser | None = None) -> int:
  """Prints the figures table (or JSON); returns the exit status."""
  import jax.numpy as jnp

  from jbp._figures import format_figures, worked_example_figures

  enable_x64(not args.float32)
  dtype = jnp.float32 if args.float32 else jnp.float64
  rows = worked_example_figures(dtype)
  if args.json:
    print(json.dumps({"dtype": jnp.dtype(dtype).name, "figures": [
        {"name": r.name, "published": r.published, "values": r.values, "matches": r.matches}
        for r in rows]}, indent=2))
  else:
    print(format_figures(rows, jnp.dtype(dtype).name))
  return 0
