"""The names a derivation and a diagram give neurons, weights and biases, and the size they can show.

Two namings: the worked example's own (``i1, i2``; ``h1, h2``; ``o1, o2``; ``w1``..``w8``; ``b1, b2``)
for a 2-2-2 network with one bias a layer, and a systematic one for any other network (``x1``..,
``h{layer}_{j}``, ``y1``.., ``w{layer}_{j}{i}``, ``b{layer}``). :func:`jbp.explain` and
:func:`jbp.render_training` choose with :func:`names_for`, so a network has the same names in the
derivation, on the stepping page and on the training page.

Every quantity is printed or drawn, so both take networks of at most :data:`MAX_LAYERS` layers of
:data:`MAX_NEURONS` neurons (:func:`check_showable`); the command line checks the same limits before
any work.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

__all__ = ["MAX_EXAMPLES", "MAX_LAYERS", "MAX_NEURONS", "NAMINGS", "Names", "check_showable", "names_for",
           "shared_biases", "showable"]

MAX_LAYERS = 4  # layers (not counting the inputs) that a derivation prints and a diagram draws
MAX_NEURONS = 16  # neurons a layer, inputs included
MAX_EXAMPLES = 16  # examples whose terms a derivation prints
NAMINGS = ("worked", "systematic")


class Names(NamedTuple):
  """The names a derivation uses.

  Attributes:
    inputs: the input neurons, e.g. ``("i1", "i2")``.
    neurons: one tuple a layer (input side first) of its neurons, e.g. ``(("h1", "h2"), ("o1", "o2"))``.
    weights: ``weights[l][j][i]`` names ``params[l].w[j, i]``, e.g. ``"w5"`` for ``params[1].w[0, 0]``.
    biases: one tuple a layer: one name for a shared (scalar) bias, else one a neuron.
  """

  inputs: tuple
  neurons: tuple
  weights: tuple
  biases: tuple


def showable(sizes: Sequence[int]) -> bool:
  """Whether every quantity of a network of ``sizes`` (input first) can be printed and drawn."""
  return len(sizes) - 1 <= MAX_LAYERS and max(sizes) <= MAX_NEURONS


def check_showable(sizes: Sequence[int], name: str, what: str) -> None:
  """Raises ValueError, naming argument ``name``, for a network too large to show every quantity of.

  ``what`` says what shows them, e.g. ``"explain prints every quantity"``.
  """
  if not showable(sizes):
    raise ValueError(f"{name}: {what}, so it takes networks of at most {MAX_LAYERS} layers of at most "
                     f"{MAX_NEURONS} neurons; got sizes {tuple(sizes)}")


def names_for(sizes: tuple[int, ...], shared: tuple[bool, ...], naming: str | None) -> Names:
  """The names of a network of ``sizes`` (input first), ``shared[l]`` when layer ``l`` has one bias.

  ``naming``: ``None`` (the worked example's names for its shape, else systematic ones), ``"worked"``
  or ``"systematic"``.

  Raises:
    ValueError: an unknown ``naming``, or ``"worked"`` for another shape than the worked example's.

  >>> names_for((2, 2, 2), (True, True), None).weights[1]
  (('w5', 'w6'), ('w7', 'w8'))
  >>> names_for((2, 3, 1), (True, False), None).biases
  (('b1',), ('b2_1',))
  """
  worked_shape = tuple(sizes) == (2, 2, 2) and all(shared)
  if naming is None:
    naming = "worked" if worked_shape else "systematic"
  if not isinstance(naming, str) or naming not in NAMINGS:
    raise ValueError(f"names: expected one of {list(NAMINGS)}, got {naming!r}")
  if naming == "worked" and not worked_shape:
    raise ValueError(f"names: 'worked' needs the worked example's shape, sizes (2, 2, 2) with one bias a "
                     f"layer; got sizes {tuple(sizes)}")
  if naming == "worked":
    return Names(("i1", "i2"), (("h1", "h2"), ("o1", "o2")),
                 ((("w1", "w2"), ("w3", "w4")), (("w5", "w6"), ("w7", "w8"))), (("b1",), ("b2",)))
  L = len(sizes) - 1
  inputs = tuple(f"x{i + 1}" for i in range(sizes[0]))
  neurons = tuple(tuple(f"y{j + 1}" if l == L else f"h{l}_{j + 1}" for j in range(sizes[l]))
                  for l in range(1, L + 1))
  sep = "_" if max(sizes) > 9 else ""  # w2_11_1, not w2_111 (which could be w2_1_11)
  weights = tuple(tuple(tuple(f"w{l + 1}_{j + 1}{sep}{i + 1}" for i in range(sizes[l]))
                        for j in range(sizes[l + 1])) for l in range(L))
  biases = tuple((f"b{l + 1}",) if shared[l] else tuple(f"b{l + 1}_{j + 1}" for j in range(sizes[l + 1]))
                 for l in range(L))
  return Names(inputs, neurons, weights, biases)


def shared_biases(names: Names) -> tuple[bool, ...]:
  """One bool a layer: True where one bias name serves the layer (drawn on its unit, not on edges).

  A layer of one neuron with a bias of its own counts as shared too: either way one value.
  """
  return tuple(len(b) == 1 for b in names.biases)
