"""jbp: backpropagation as pure JAX functions, from the worked 2-2-2 example to populations.

Importing jbp changes no JAX configuration. For float64, enable 64-bit mode
yourself: ``jax.config.update("jax_enable_x64", True)`` at start-up, or
``with jax.enable_x64(True):`` around a block.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a program starts faster)

if TYPE_CHECKING:  # what type checkers and the API reference read; at run time names load on first use
  from typing import Any

  from jbp._activation import ACTIVATIONS, Activation
  from jbp._backprop import backprop
  from jbp._data import load_csv, load_params, save_params
  from jbp._example import PUBLISHED, Example, worked_example, xor
  from jbp._explain import Explanation, explain
  from jbp._figures import FigureRow, format_figures, worked_example_figures
  from jbp._init import init_many, init_params
  from jbp._layer import Layer
  from jbp._network import FORMS, forward, loss, sizes_of
  from jbp._optimizer import Optimizer
  from jbp._population import RECORDS, Population, sweep, train_many
  from jbp._progress import Chunked, train_chunked
  from jbp._recording import TrainingRun, record_training
  from jbp._show.derivation import render_json, render_markdown, render_text
  from jbp._show.plot import plot_losses, plot_population
  from jbp._show.stepping import render_html
  from jbp._show.svg import render_svg
  from jbp._show.training import render_training
  from jbp._summary import Summary, summarize
  from jbp._train import UPDATES, train

_HOMES = {
    "ACTIVATIONS": "jbp._activation",
    "Activation": "jbp._activation",
    "backprop": "jbp._backprop",
    "load_csv": "jbp._data",
    "load_params": "jbp._data",
    "save_params": "jbp._data",
    "PUBLISHED": "jbp._example",
    "Example": "jbp._example",
    "worked_example": "jbp._example",
    "xor": "jbp._example",
    "Explanation": "jbp._explain",
    "explain": "jbp._explain",
    "render_json": "jbp._show.derivation",
    "render_markdown": "jbp._show.derivation",
    "render_text": "jbp._show.derivation",
    "FigureRow": "jbp._figures",
    "format_figures": "jbp._figures",
    "worked_example_figures": "jbp._figures",
    "init_many": "jbp._init",
    "init_params": "jbp._init",
    "Layer": "jbp._layer",
    "FORMS": "jbp._network",
    "forward": "jbp._network",
    "loss": "jbp._network",
    "sizes_of": "jbp._network",
    "Optimizer": "jbp._optimizer",
    "render_html": "jbp._show.stepping",
    "plot_losses": "jbp._show.plot",
    "plot_population": "jbp._show.plot",
    "RECORDS": "jbp._population",
    "Population": "jbp._population",
    "sweep": "jbp._population",
    "train_many": "jbp._population",
    "Chunked": "jbp._progress",
    "train_chunked": "jbp._progress",
    "TrainingRun": "jbp._recording",
    "record_training": "jbp._recording",
    "render_training": "jbp._show.training",
    "Summary": "jbp._summary",
    "summarize": "jbp._summary",
    "render_svg": "jbp._show.svg",
    "UPDATES": "jbp._train",
    "train": "jbp._train",
}


def __getattr__(name: str) -> "Any":
  """Imports the module that holds ``name`` on first use: ``import jbp`` loads no JAX, so ``jbp --help``
  and ``jbp --version`` answer at once, and the command line's signal policy is in place before JAX
  starts its threads."""
  home = _HOMES.get(name)
  if home is None:
    raise AttributeError(f"module 'jbp' has no attribute {name!r}")
  import importlib

  value = getattr(importlib.import_module(home), name)
  globals()[name] = value
  return value


def __dir__() -> list[str]:
  return sorted(set(globals()) | set(_HOMES))


__version__ = "0.2.0"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Chunked",
    "Example",
    "Explanation",
    "FORMS",
    "FigureRow",
    "Layer",
    "Optimizer",
    "PUBLISHED",
    "Population",
    "RECORDS",
    "Summary",
    "TrainingRun",
    "UPDATES",
    "backprop",
    "explain",
    "format_figures",
    "forward",
    "init_many",
    "init_params",
    "load_csv",
    "load_params",
    "loss",
    "plot_losses",
    "plot_population",
    "record_training",
    "render_html",
    "render_json",
    "render_markdown",
    "render_svg",
    "render_text",
    "render_training",
    "save_params",
    "sizes_of",
    "summarize",
    "sweep",
    "train",
    "train_chunked",
    "train_many",
    "worked_example",
    "worked_example_figures",
    "xor",
]
