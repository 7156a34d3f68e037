"""What the commands share: the problem (params and data) from the flags, the outputs, the records.

Every check here runs before any training, and raises :class:`jbp.cli.parser.UsageError`
(one line, naming the flag) or a library error that :func:`jbp.cli.main` turns into one.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
  import argparse

  import jax

  from jbp._layer import Layer
  from jbp.cli.outputs import Outputs
  from jbp.cli.stop import Stop

from jbp.cli.parser import UsageError, sizes_text, subparser, typed_flag

__all__ = ["RUN_FILES", "enable_x64", "problem", "outputs_of", "record_every_of", "library_error",
           "layer_sizes", "check_drawable"]

RUN_FILES = ("params.npz", "losses.npz", "summary.json", "checkpoint.npz")
"""The files of a run folder (``--out DIR``); ``checkpoint.npz`` only while the run is unfinished."""

def enable_x64(enabled: bool) -> None:
  # The command line is an application: it may set JAX's configuration for its own
  # process. The library never does.
  import jax

  jax.config.update("jax_enable_x64", bool(enabled))


def problem(args: argparse.Namespace) -> tuple[tuple[Layer, ...], jax.Array, jax.Array, str]:
  """``(params, x, y, description)`` from the network and data options."""
  import jax
  import jax.numpy as jnp

  from jbp._data import load_csv
  from jbp._example import worked_example, xor
  from jbp._init import init_params

  enable_x64(not args.float32)
  dtype = jnp.float32 if args.float32 else jnp.float64
  if args.data in ("worked", "xor"):
    for flag, value in (("--inputs", args.inputs), ("--targets", args.targets)):
      if value is not None:
        raise UsageError(flag, f"expected CSV column names with --data FILE.csv, got {value!r} with --data "
                               f"{args.data}, which has no columns")
    ex = worked_example(dtype) if args.data == "worked" else xor(dtype, key=jax.random.key(args.seed))
    params, x, y = ex.params, ex.inputs, ex.targets
    what = "the worked example" if args.data == "worked" else "XOR"
  else:
    if not os.path.exists(args.data) and not os.path.splitext(args.data)[1] and os.sep not in args.data:
      raise UsageError("--data", f"expected worked, xor or a CSV file, got {args.data!r}, which is neither a "
                                 f"dataset nor a file")
    for flag, value, kind in (("--inputs", args.inputs, "input"), ("--targets", args.targets, "target")):
      if not value:
        raise UsageError(flag, f"expected the {kind} columns of {args.data}, comma-separated, got none")
    x, y = load_csv(args.data, args.inputs, args.targets)
    x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
    params = None
    what = os.path.basename(args.data)
  n_in, n_out = x.shape[-1], y.shape[-1]
  sizes = args.sizes or (None if params is not None else (n_in, 4, n_out))
  if sizes is not None:
    if sizes[0] != n_in or sizes[-1] != n_out:
      raise UsageError("--sizes", f"expected sizes that start with {n_in} input{'s' * (n_in != 1)} and end "
                                  f"with {n_out} target{'s' * (n_out != 1)} for --data {args.data}, got "
                                  f"{sizes_text(sizes)}")
    params = init_params(jax.random.key(args.seed), sizes, method=args.init,
                         shared_bias=args.init == "uniform", dtype=dtype)
  assert params is not None  # an example's own, or from --sizes, or (n_in, 4, n_out) for a CSV file
  return params, x, y, what


def outputs_of(args: argparse.Namespace, stop: Stop, folder_files: Sequence[str] | None = None,
               own: bool = False) -> Outputs:
  """The command's outputs (``--out``, ``--plot``, ``--html``), every one checked now, before any work.

  ``folder_files``: the files of an ``--out`` folder; ``None`` makes ``--out`` a file. ``own``: the
  folder holds this run's own checkpoint (``--resume``), replaced without ``--force``. The
  temporaries are made under the stop lock, with their removal registered first: a signal at any
  moment finds them all made and removes them.
  """
  from jbp.cli.outputs import Outputs

  if getattr(args, "plot", None) is not None:
    from jbp._show.plot import require_matplotlib

    require_matplotlib()
  outputs = Outputs(force=args.force)
  if args.out is not None:
    if folder_files is None:
      outputs.file("--out", args.out)
    else:
      outputs.folder("--out", args.out, folder_files)
      if own:
        outputs.own("--out")
  if getattr(args, "plot", None) is not None:
    outputs.file("--plot", args.plot)
  if getattr(args, "html", None) is not None:
    outputs.file("--html", args.html)
  with stop.lock:
    stop.cleanup(outputs.discard)
    outputs.prepare()
  return outputs


def library_error(e: Exception, parser: argparse.ArgumentParser, argv: Sequence[str] | None,
                  command: str | None) -> tuple[str, str]:
  """``(flag, message)`` of a library error ``"name: ..."``, the name turned into the flag that sets it."""
  from jbp.cli.outputs import OutputError

  if isinstance(e, (OutputError, UsageError)) and e.flag:  # an output error names its flag itself
    return e.flag, e.message
  message = " ".join(str(e).split())
  m = re.match(r"([a-z_]+)(?:\[\d+\])?(?:\.\w+)?: (.*)", message)
  if m is None:
    return "", message
  dest = {"x": "data", "y": "data", "params": "sizes"}.get(m.group(1), m.group(1))
  p = subparser(parser, command)
  for action in p._actions:
    if action.dest == dest and action.option_strings:
      return typed_flag(argv, action.option_strings), m.group(2)
  return "", message



def record_every_of(args: argparse.Namespace, target: int) -> int:
  """``--record-every``, or about ``steps / target`` (at least 1): no need to divide ``--steps``, since
  the loss after the last step is recorded too."""
  return args.record_every or max(1, -(-args.steps // target))


def layer_sizes(params: Sequence[Layer]) -> tuple[int, ...]:
  """``(n_in, n_1, ..., n_out)`` of one network's params."""
  return (int(params[0].w.shape[-1]),) + tuple(int(p.w.shape[-2]) for p in params)


def check_drawable(flag: str, sizes: Sequence[int]) -> None:
  """A page or a derivation draws every weight: refuse, naming ``flag``, a network too large for it."""
  from jbp._show.names import MAX_LAYERS, MAX_NEURONS, showable

  if not showable(sizes):
    raise UsageError(flag, f"expected a network of at most {MAX_LAYERS} layers of at most {MAX_NEURONS} "
                           f"neurons (every weight is drawn or printed), got {sizes_text(sizes)}")
