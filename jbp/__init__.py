"""jbp: backpropagation as pure JAX functions, from the worked 2-2-2 example to populations.

Importing jbp changes no JAX configuration. For float64, enable 64-bit mode
yourself: ``jax.config.update("jax_enable_x64", True)`` at start-up, or
``with jax.enable_x64(True):`` around a block.
"""

from jbp._activation import ACTIVATIONS, Activation
from jbp._backprop import backprop
from jbp._data import load_csv, load_params, save_params
from jbp._example import PUBLISHED, Example, worked_example, xor
from jbp._explain import Explanation, explain, render_json, render_markdown, render_text
from jbp._figures import FigureRow, format_figures, worked_example_figures
from jbp._init import init_many, init_params
from jbp._layer import Layer
from jbp._network import FORMS, forward, loss, sizes_of
from jbp._optimizer import Optimizer
from jbp._page import render_html
from jbp._plot import plot_losses, plot_population
from jbp._population import RECORDS, Population, sweep, train_many
from jbp._progress import Chunked, train_chunked
from jbp._run import TrainingRun, record_training, render_training
from jbp._summary import Summary, summarize
from jbp._svg import render_svg
from jbp._train import UPDATES, train

__version__ = "0.1.0"

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
