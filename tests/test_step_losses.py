"""Every per-step loss of the worked example, in both update orders, against saved values.

``tests/data/worked_losses.npz`` holds the 10,001 float64 losses of ``jbp.train`` on the worked
example (10,000 steps, learning rate 0.5, ``record_every=1``) in each order, as the code computed
them before the training step was restructured (commit 2b3bfe5; ``tests/data/make_worked_losses.py``
made the file and says how). A rewrite of the step may reorder rounding, but no loss may move by
more than 1e-12.
"""

import os

import numpy as np
import pytest

import jbp

REFERENCE = os.path.join(os.path.dirname(__file__), "data", "worked_losses.npz")
TOLERANCE = 1e-12  # absolute, float64


@pytest.mark.parametrize("update", jbp.UPDATES)
def test_every_step_loss_matches_the_saved_run(ex64, update):
  want = np.load(REFERENCE)[update]
  _, got = jbp.train(ex64.params, ex64.inputs, ex64.targets, steps=ex64.steps,
                     learning_rate=ex64.learning_rate, update=update, record_every=1)
  got = np.asarray(got)
  assert got.shape == want.shape == (ex64.steps + 1,)
  worst = int(np.argmax(np.abs(got - want)))
  assert abs(got[worst] - want[worst]) <= TOLERANCE, (
      f"step {worst}: {got[worst]!r} against the saved {want[worst]!r}")
