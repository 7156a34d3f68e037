"""CSV loading, atomic writes without pickle and plots, in process."""


import jax.numpy as jnp
import numpy as np
import pytest

import jbp


def test_float32_data_path():
  # load_csv gives float64 NumPy arrays; training casts them to the params' dtype.
  ex = jbp.worked_example()
  _, losses = jbp.train(ex.params, np.asarray([0.05, 0.1]), np.asarray([0.01, 0.99]), steps=2,
                        learning_rate=0.5)
  assert losses.dtype == jnp.float32


# --- load_params: the file's dtype, never a silent float32 ----------------------------------------------












def test_numpy_float64_params_with_64_bit_mode_off_are_an_error():
  ex = jbp.worked_example()
  params = tuple(jbp.Layer(np.asarray(p.w, np.float64), np.asarray(p.b, np.float64)) for p in ex.params)
  with pytest.raises(ValueError, match=r"params\[0\].w: expected float32 .* got float64, but 64-bit mode is "
                                       r"off; enable it"):
    jbp.train(params, ex.inputs, ex.targets, steps=2, learning_rate=0.5)
