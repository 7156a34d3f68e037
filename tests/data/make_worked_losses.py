"""Writes ``worked_losses.npz``: every per-step loss of the worked example, both update orders.

The reference that ``tests/test_step_losses.py`` holds the training step to: ``jbp.train`` on
``jbp.worked_example(jnp.float64)`` with its learning rate (0.5), 10,000 steps, ``record_every=1``,
``form="auto"`` (the unrolled form), in each update order. The file holds two float64 arrays of
10,001 losses (E before each step, and after the last), ``simultaneous`` and ``sequential``.

The committed file was made from commit 2b3bfe5 (before the sequential step was rewritten) with::

    PYTHONPATH=. python tests/data/make_worked_losses.py
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

import jbp

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worked_losses.npz")


def losses(update):
  ex = jbp.worked_example(jnp.float64)
  _, E = jbp.train(ex.params, ex.inputs, ex.targets, steps=ex.steps, learning_rate=ex.learning_rate,
                   update=update, record_every=1)
  return np.asarray(E, np.float64)


def main():
  jax.config.update("jax_enable_x64", True)  # here, not at import: pytest imports this file too
  out = sys.argv[1] if len(sys.argv) > 1 else PATH
  np.savez_compressed(out, simultaneous=losses("simultaneous"), sequential=losses("sequential"))
  print(f"wrote {out}")


if __name__ == "__main__":
  main()
