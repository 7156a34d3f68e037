"""CSV loading, atomic writes without pickle and plots, in process."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jbp
from jbp._data import atomic_write, save_json, save_npz

GOOD = "a,b,out\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"


def write(tmp_path, text, name="d.csv"):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def test_load_csv(tmp_path):
  path = write(tmp_path, " a , b ,out\n0,0.5,1e-3\n\n2,-1,4\n")
  x, y = jbp.load_csv(path, inputs=["b", "a"], targets="out")
  np.testing.assert_array_equal(x, [[0.5, 0], [-1, 2]])  # columns in the order asked for
  np.testing.assert_array_equal(y, [[1e-3], [4]])
  assert x.dtype == y.dtype == np.float64


@pytest.mark.parametrize("text, kw, match", [
    ("a,b,out\n0,,1\n", {}, r"data: expected a number in .*d.csv line 2, column 'b', got an empty cell"),
    ("a,b,out\n0,1,1\n0,x,1\n", {}, r"expected a number in .*d.csv line 3, column 'b', got 'x'"),
    ("a,b,out\n0,nan,1\n", {}, r"expected a finite number in .*d.csv line 2, column 'b', got 'nan'"),
    ("a,b,out\n0,1\n", {}, r"expected 3 fields as in the header on .*d.csv line 2, got 2"),
    ("a,c,out\n0,1,1\n", {}, r"inputs: expected columns of .*d.csv \('a', 'c', 'out'\), got 'b', which it "
                            r"lacks"),
    ("a,b,c\n0,1,1\n", {}, r"targets: expected columns of .*d.csv \('a', 'b', 'c'\), got 'out'"),
    ("", {}, r"data: expected a header row naming the columns, got an empty file .*d.csv"),
    ("a,b,out\n", {}, r"data: expected rows of data below the header of .*d.csv, got none"),
    (GOOD, dict(inputs="a,a"), r"inputs: expected distinct column names"),
    (GOOD, dict(targets="a"), r"targets: expected columns other than the inputs, got \['a'\]"),
    (GOOD, dict(inputs=""), r"inputs: expected one or more column names"),
])
def test_load_csv_rejects(tmp_path, text, kw, match):
  args = dict(inputs="a,b", targets="out")
  args.update(kw)
  with pytest.raises(ValueError, match=match):
    jbp.load_csv(write(tmp_path, text), **args)


def test_load_csv_missing_file(tmp_path):
  with pytest.raises(ValueError, match=r"data: expected a readable CSV file, got .*nope.csv: No such file"):
    jbp.load_csv(str(tmp_path / "nope.csv"), "a", "b")


def test_params_round_trip_without_pickle(tmp_path, ex64):
  path = str(tmp_path / "p.npz")
  jbp.save_params(path, ex64.params)
  with np.load(path, allow_pickle=False) as z:
    assert sorted(z.files) == ["b1", "b2", "w1", "w2"]
    assert all(z[k].dtype == np.float64 for k in z.files)
  back = jbp.load_params(path)
  for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(ex64.params)):
    np.testing.assert_array_equal(a, b)  # identical arrays, not merely close
  assert [p for p in os.listdir(tmp_path)] == ["p.npz"]  # no temporary file left behind


def test_existing_files_kept_unless_force(tmp_path):
  path = str(tmp_path / "s.json")
  save_json(path, {"v": 1})
  with pytest.raises(FileExistsError, match=r"expected a new file \(or force=True to replace it\), got "
                                            r".*s.json, which exists"):
    save_json(path, {"v": 2})
  assert open(path).read().strip().endswith("}") and '"v": 1' in open(path).read()
  save_json(path, {"v": 2}, force=True)
  assert '"v": 2' in open(path).read()


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
  path = str(tmp_path / "x.bin")
  atomic_write(path, lambda f: f.write(b"old"))

  def fails(f):
    f.write(b"half")
    raise RuntimeError("disk full")

  with pytest.raises(RuntimeError):
    atomic_write(path, fails, force=True)
  assert open(path, "rb").read() == b"old"
  assert os.listdir(tmp_path) == ["x.bin"]


def test_object_arrays_are_refused(tmp_path):
  with pytest.raises(TypeError, match="holds Python objects"):
    save_npz(str(tmp_path / "o.npz"), {"a": np.array([{}, 1], dtype=object)})


def test_unwritable_paths(tmp_path):
  with pytest.raises(ValueError, match=r"expected a path in an existing folder, got .*s.json "
                                       r"\(.*missing does not exist\)"):
    save_json(str(tmp_path / "missing" / "s.json"), {})
  with pytest.raises(ValueError, match=r"expected a file name, got .*, which is a folder"):
    save_json(str(tmp_path), {})


















def test_float32_data_path():
  # load_csv gives float64 NumPy arrays; training casts them to the params' dtype.
  ex = jbp.worked_example()
  _, losses = jbp.train(ex.params, np.asarray([0.05, 0.1]), np.asarray([0.01, 0.99]), steps=2,
                        learning_rate=0.5)
  assert losses.dtype == jnp.float32


# --- load_params: the file's dtype, never a silent float32 ----------------------------------------------


@pytest.fixture
def saved64(tmp_path):
  """The worked example's params saved in float64 (64-bit mode on only while saving)."""
  path = str(tmp_path / "params.npz")
  with jax.enable_x64(True):
    jbp.save_params(path, jbp.worked_example(jnp.float64).params)
  return path


def test_float64_params_with_64_bit_mode_off_are_an_error_that_says_what_to_do(saved64):
  assert not jax.config.jax_enable_x64
  with pytest.raises(ValueError) as e:
    jbp.load_params(saved64)
  message = str(e.value)
  assert message.startswith(f"params: expected float32 arrays with 64-bit mode off, got float64 in {saved64}")
  assert 'jax.config.update("jax_enable_x64", True)' in message and "dtype=jnp.float32" in message


def test_load_params_dtype_converts_and_keeps_the_file_dtype_by_default(saved64):
  with jax.enable_x64(True):
    exact = jbp.load_params(saved64)
    want = jbp.worked_example(jnp.float64).params
  leaves = jax.tree_util.tree_leaves(exact)
  assert all(leaf.dtype == jnp.float64 and isinstance(leaf, jax.Array) for leaf in leaves)
  for a, b in zip(jax.tree_util.tree_leaves(exact), jax.tree_util.tree_leaves(want)):
    np.testing.assert_array_equal(a, b)
  f32 = jbp.load_params(saved64, dtype=jnp.float32)
  for a, b in zip(jax.tree_util.tree_leaves(f32), jax.tree_util.tree_leaves(want)):
    assert a.dtype == jnp.float32
    np.testing.assert_array_equal(a, np.asarray(b, np.float32))  # float64 rounded to float32, once
  _, losses = jbp.train(f32, jbp.worked_example().inputs, jbp.worked_example().targets, steps=2,
                        learning_rate=0.5)
  assert losses.dtype == jnp.float32


@pytest.mark.parametrize("arrays, match", [
    ({"w1": np.ones((2, 2), np.float32), "b1": np.zeros((), np.float64)},
     r"expected one floating dtype for every array, got float32 \(w1\) and float64 \(b1\) in .*; "
     r"pass dtype="),
    ({"w1": np.ones((2, 2), np.int64), "b1": np.zeros((), np.int64)},
     r"expected floating-point arrays \(float16, float32 or float64\), got int64 \(w1\)"),
    ({"w1": np.ones((2, 2), np.complex64), "b1": np.zeros((), np.complex64)},
     r"expected floating-point arrays .*, got complex64 \(w1\)"),
    ({"w1": np.ones((2, 3), np.float32), "b1": np.zeros((), np.float32), "w2": np.ones((2, 3), np.float32),
      "b2": np.zeros((), np.float32)}, r"params\[1\].w: expected 2 inputs"),
])
def test_load_params_refuses_mixed_or_unsupported_dtypes_and_shapes(tmp_path, arrays, match):
  path = str(tmp_path / "p.npz")
  np.savez(path, **arrays)
  with pytest.raises(ValueError, match=r"^params: .*" + match):
    jbp.load_params(path)


def test_params_of_an_earlier_version_still_load(tmp_path, ex64):
  # jbp 0.1.0 numbered layers from 0 (w0, b0, w1, b1); a file it saved loads as it was.
  path = str(tmp_path / "old.npz")
  np.savez(path, w0=np.asarray(ex64.params[0].w), b0=np.asarray(ex64.params[0].b),
           w1=np.asarray(ex64.params[1].w), b1=np.asarray(ex64.params[1].b))
  back = jbp.load_params(path)
  for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(ex64.params)):
    np.testing.assert_array_equal(a, b)


def test_numpy_float64_params_with_64_bit_mode_off_are_an_error():
  ex = jbp.worked_example()
  params = tuple(jbp.Layer(np.asarray(p.w, np.float64), np.asarray(p.b, np.float64)) for p in ex.params)
  with pytest.raises(ValueError, match=r"params\[0\].w: expected float32 .* got float64, but 64-bit mode is "
                                       r"off; enable it"):
    jbp.train(params, ex.inputs, ex.targets, steps=2, learning_rate=0.5)
