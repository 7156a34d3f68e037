"""CSV loading, atomic writes without pickle and plots, in process."""


import jax.numpy as jnp
import numpy as np

import jbp


def test_float32_data_path():
  # load_csv gives float64 NumPy arrays; training casts them to the params' dtype.
  ex = jbp.worked_example()
  _, losses = jbp.train(ex.params, np.asarray([0.05, 0.1]), np.asarray([0.01, 0.99]), steps=2,
                        learning_rate=0.5)
  assert losses.dtype == jnp.float32


# --- load_params: the file's dtype, never a silent float32 ----------------------------------------------












