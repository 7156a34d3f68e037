"""What the command line leaves on disk: a whole run or nothing, checked before any work.

Each command names its outputs (``--out`` folder, ``--plot`` figure, ``explain --out`` file). They
are checked before anything is computed, written into hidden temporaries beside their targets, and
moved into place together once all are written. These tests run ``jbp.cli.main`` in this process
and look at the folder afterwards, hidden files included.
"""

import json
import os
import re
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from cli_support import ROOT, error_line, run_cli, snapshot

import jbp
from jbp._show import plot as _plot
from jbp._show.format import number
from jbp.cli import driver
from jbp.cli import ensemble as cli_ensemble
from jbp.cli import train as cli_train

README = os.path.join(ROOT, "README.md")


@pytest.fixture
def here(tmp_path, monkeypatch):
  """An empty working folder; relative paths in argv land in it."""
  monkeypatch.chdir(tmp_path)
  return tmp_path


@pytest.fixture
def no_training(monkeypatch):
  """Fails the test if the command starts training: the checks must come first."""
  def refuse(*a, **k):
    raise AssertionError("training started before the outputs were checked")

  monkeypatch.setattr(driver, "drive", refuse)
  for command in (cli_train, cli_ensemble):  # where the commands call it
    monkeypatch.setattr(command, "drive", refuse)


# --- 1. a run is all or nothing on disk ---------------------------------------------------------------


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_an_unwritable_plot_fails_before_training_and_leaves_nothing(here, no_training):
  # /proc accepts no new files, not even from root (for whom os.access says yes).
  rc, out, err = run_cli(["train", "--out", "run", "--plot", "/proc/forbidden.png", "--steps", "200000",
                          "--no-progress"])
  line = error_line(rc, err)
  assert line.startswith("jbp train: error: --plot: expected ") and "/proc/forbidden.png" in line
  assert ".tmp" not in line and "forbidden.png." not in line  # no internal temporary name
  assert snapshot(here) == {} and out == ""
  assert not os.path.exists("/proc/forbidden.png")


def test_a_missing_csv_leaves_no_out_folder(here):
  rc, out, err = run_cli(["train", "--data", "nope.csv", "--inputs", "a", "--targets", "b", "--out", "run"])
  line = error_line(rc, err)
  assert line.startswith("jbp train: error: --data: expected ") and "nope.csv" in line
  assert snapshot(here) == {}


@pytest.mark.parametrize("argv, flag", [
    (["train", "--out", "run", "--plot", "run"], "--plot"),                # the same path twice
    (["train", "--out", "a/b/run"], "--out"),                              # a folder that does not exist
    (["train", "--out", "afile"], "--out"),                                # a file, not a folder
    (["train", "--plot", "sub"], "--plot"),                                # a folder, not a file
    (["explain", "--out", "nodir/step.txt"], "--out"),
])
def test_bad_outputs_fail_before_training(here, no_training, argv, flag):
  (here / "afile").write_text("a file the user saved")
  (here / "sub").mkdir()
  before = snapshot(here)
  rc, out, err = run_cli(argv + ["--no-progress"] if argv[0] == "train" else argv)
  assert error_line(rc, err).split(": ")[2] == flag
  assert snapshot(here) == before


def test_a_failure_while_writing_leaves_nothing_and_names_no_temporary(here, monkeypatch):
  def full_disk(*a, **k):
    raise OSError(28, "No space left on device", "/somewhere/.loss.png.x1y2z3.tmp")

  monkeypatch.setattr(_plot, "plot_losses", full_disk)
  rc, out, err = run_cli(["train", "--steps", "20", "--no-progress", "--out", "run", "--plot", "loss.png"])
  line = error_line(rc, err)
  assert line.startswith("jbp train: error: --plot: expected ") and "No space left on device" in line
  assert ".tmp" not in line and "x1y2z3" not in line
  assert snapshot(here) == {}  # params.npz and losses.npz were written, then removed with the rest


def test_a_failed_forced_rerun_keeps_the_earlier_run_whole(here, monkeypatch):
  rc, _, err = run_cli(["train", "--steps", "20", "--no-progress", "--out", "run"])
  assert rc == 0, err
  first = snapshot(here)
  assert sorted(first) == ["run/", "run/losses.npz", "run/params.npz", "run/summary.json"]

  def broken(*a, **k):
    raise RuntimeError("a bug while writing")

  monkeypatch.setattr("jbp._files.save_json", broken)
  with pytest.raises(RuntimeError):  # a bug is not an input error: it escapes, and still nothing is lost
    run_cli(["train", "--steps", "30", "--no-progress", "--out", "run", "--force"])
  assert snapshot(here) == first


def test_ctrl_c_while_writing_leaves_nothing_and_says_so(here, monkeypatch):
  def interrupted(*a, **k):
    raise KeyboardInterrupt

  monkeypatch.setattr("jbp._files.save_json", interrupted)
  rc, out, err = run_cli(["train", "--steps", "20", "--no-progress", "--out", "run"])
  assert rc == 130
  assert err.strip().splitlines()[-1] == "jbp train: interrupted; nothing saved"
  assert snapshot(here) == {}


def test_force_replaces_only_an_earlier_run(here):
  os.mkdir("mine")
  (here / "mine" / "notes.txt").write_text("the user's own file")
  before = snapshot(here)
  rc, out, err = run_cli(["train", "--steps", "5", "--no-progress", "--out", "mine", "--force"])
  line = error_line(rc, err)
  assert line.startswith("jbp train: error: --out: expected ") and "notes.txt" in line
  assert snapshot(here) == before
  os.mkdir("empty")  # an empty folder is taken as it is
  rc, out, err = run_cli(["train", "--steps", "5", "--no-progress", "--out", "empty"])
  assert rc == 0, err
  assert sorted(os.listdir("empty")) == ["losses.npz", "params.npz", "summary.json"]


def test_a_plot_inside_the_out_folder_is_part_of_the_run(here):
  argv = ["train", "--steps", "20", "--no-progress", "--out", "run", "--plot", "run/loss.png"]
  rc, out, err = run_cli(argv)
  assert rc == 0, err
  assert sorted(os.listdir("run")) == ["loss.png", "losses.npz", "params.npz", "summary.json"]
  assert sorted(os.listdir(here)) == ["run"]
  rc, out, err = run_cli(["train", "--steps", "30", "--no-progress", "--out", "run", "--plot", "run/loss.png",
                          "--force"])
  assert rc == 0, err
  assert json.loads((here / "run" / "summary.json").read_text())["steps"] == 30
  assert sorted(os.listdir(here)) == ["run"]


# --- 2. plotting after the Quick start install ----------------------------------------------------------




def test_plot_without_matplotlib_fails_first_and_says_how_to_install(here, no_training, monkeypatch):
  for name in list(sys.modules):
    if name == "matplotlib" or name.startswith("matplotlib."):
      monkeypatch.delitem(sys.modules, name)
  monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
  rc, out, err = run_cli(["train", "--out", "run", "--plot", "loss.png", "--no-progress"])
  line = error_line(rc, err)
  assert line.startswith("jbp train: error: --plot: expected matplotlib") and "pip install" in line
  assert snapshot(here) == {}


# --- 7. numbers: 9 significant digits, or scientific notation below 1e-4 ---------------------------


@pytest.mark.standard_dtype_promotion  # optax's Adam
def test_the_plot_legend_prints_the_final_loss_as_the_text_does(here, monkeypatch):
  legends = []
  real = _plot._save

  def keep_legend(fig, *a, **k):
    legends.extend(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    return real(fig, *a, **k)

  monkeypatch.setattr(_plot, "_save", keep_legend)
  rc, out, err = run_cli(["train", "--optimizer", "adam", "--steps", "10000", "--no-progress", "--plot",
                          "adam.png", "--json"])
  assert rc == 0, err
  final = json.loads(out)["loss_final"]
  assert final < 1e-4  # Adam drives this loss far below 1e-4: scientific notation
  assert legends == [f"adam (final {final:.9g})"]
  assert "e-" in legends[0]


def test_train_prints_outputs_with_nine_significant_digits(here):
  rc, out, err = run_cli(["train", "--no-progress", "--out", "run"])
  assert rc == 0, err
  with jbp_x64():
    params = jbp.load_params("run/params.npz")
    want = np.asarray(jbp.forward(params, jbp.worked_example(jnp.float64).inputs))
  line = [l for l in out.splitlines() if " out " in l][0]
  got = line.split(" out ")[1]
  assert got == "[" + ", ".join(f"{v:.9g}" for v in want) + "]", line
  summary = json.loads((here / "run" / "summary.json").read_text())
  assert f"E after: {summary['loss_final']:.9g}" in out  # 3.51018778e-05: below 1e-4


def jbp_x64():
  import jax

  return jax.enable_x64(True)


# --- 8. one naming of params, and defaults that agree or say why -------------------------------------


def test_params_npz_names_layers_as_explain_does(here):
  rc, out, err = run_cli(["train", "--steps", "1", "--no-progress", "--out", "run"])
  assert rc == 0, err
  with np.load(here / "run" / "params.npz", allow_pickle=False) as z:
    saved = {k: z[k] for k in z.files}
  assert sorted(saved) == ["b1", "b2", "w1", "w2"]  # layer 1 is the hidden layer, as in explain
  with jbp_x64():
    ex = jbp.worked_example(jnp.float64)
    record = jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5)
  biases = {b.name: b.value for b in record.biases}
  assert biases == {"b1": 0.35, "b2": 0.6}
  assert float(saved["b1"]) == biases["b1"] and float(saved["b2"]) == biases["b2"]  # biases stay fixed
  weights = {w.name: w.updated for w in record.weights}  # w1..w4 are layer 1's, w5..w8 layer 2's
  np.testing.assert_array_equal(saved["w1"].ravel(), [weights[f"w{k}"] for k in (1, 2, 3, 4)])
  np.testing.assert_array_equal(saved["w2"].ravel(), [weights[f"w{k}"] for k in (5, 6, 7, 8)])
  readme = open(README).read()
  assert "w1, b1" in readme and "params[0]" in readme  # and README says so




def test_a_data_set_reports_the_mean_loss_and_the_accuracy_of_its_classes(here):
  rc, out, err = run_cli(["train", "--data", "xor", "--steps", "3000", "--no-progress", "--json"])
  assert rc == 0, err
  summary = json.loads(out)
  assert summary["examples"] == 4 and summary["loss_final_per_example"] == summary["loss_final"] / 4
  outputs = np.asarray(summary["outputs"])
  targets = np.asarray([[0.0], [1.0], [1.0], [0.0]])
  assert summary["accuracy"] == float(((outputs > 0.5) == (targets > 0.5)).all(-1).mean())
  rc, out, err = run_cli(["train", "--data", "xor", "--steps", "3000", "--no-progress"])
  assert f"E per example (mean of 4): before {number(summary['loss_initial'] / 4)}" in out
  assert re.search(r"^accuracy: \d of 4 examples \(.*%\), outputs rounded at 0.5 against 0/1 targets$", out,
                   flags=re.M)
  # One example whose targets are no classes (0.01, 0.99): neither line.
  rc, out, err = run_cli(["train", "--steps", "10", "--no-progress"])
  assert rc == 0 and "per example" not in out and "accuracy" not in out


@pytest.mark.parametrize("command", [
    ["train", "--steps", "{steps}", "--no-progress", "--out", "{dir}"],
    ["explain", "--step", "{steps}", "--out", "{dir}.txt"],
])
def test_an_out_given_twice_is_refused_and_force_replaces_every_file(tmp_path, command):
  def argv(steps, *extra):
    return [a.format(steps=steps, dir=tmp_path / "run") for a in command] + list(extra)

  rc, out, err = run_cli(argv(2))
  assert rc == 0, err
  first = snapshot(tmp_path)
  assert first and all(v for v in first.values() if v is not None)
  rc, out, err = run_cli(argv(3))
  assert "(or --force to replace" in error_line(rc, err)
  assert snapshot(tmp_path) == first  # the first results, untouched
  rc, out, err = run_cli(argv(3, "--force"))
  assert rc == 0, err
  second = snapshot(tmp_path)
  assert second.keys() == first.keys()
  assert all(first[k] != second[k] for k in first if first[k] is not None)  # 3 steps, not 2: all replaced
