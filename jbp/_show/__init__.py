"""Showing what the core computes: the derivation, the diagram, the pages and the plots.

This layer turns records into text, SVG, HTML and PNG. It loads no JAX and, at run time, imports
nothing of the core (its type annotations name the core's records); the core's records call into it
to show themselves, and the command line writes what it returns.

- :mod:`~jbp._show.format`: the two number formats.
- :mod:`~jbp._show.names`: the names of neurons, weights and biases, and the largest network shown.
- :mod:`~jbp._show.symbols`: the derivation's symbols and the activations' formulas in text, LaTeX
  and HTML.
- :mod:`~jbp._show.derivation`: the derivation laid out once; text, Markdown and JSON.
- :mod:`~jbp._show.style`: the one palette, light and dark.
- :mod:`~jbp._show.diagram`: the network's layout, labels, element ids and drawing.
- :mod:`~jbp._show.svg`: the diagram as a standalone SVG file.
- :mod:`~jbp._show.html`: the pages' shell: policy, shared style and keys, notebook frame.
- :mod:`~jbp._show.stepping`: one training step as a page, a stage at a time.
- :mod:`~jbp._show.training`: one training run as a page: the loss and the weights at each record.
- :mod:`~jbp._show.plot`: loss curves and population histograms with matplotlib.
- :mod:`~jbp._show.checks`: the boundary checks of the records they take.
"""
