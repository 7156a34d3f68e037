"""`jbp explain` and `jbp train`, run in subprocesses as a user runs them.

Starting Python and JAX costs seconds, so most cases run as a batch: one subprocess
calls ``jbp.cli.main(argv)`` (what ``python -m jbp`` runs) once per command line and
reports each exit status, stdout and stderr; an uncaught exception would end it with a
traceback and fail the test. A few cases (exit statuses, Ctrl-C) run as their own process.
"""

import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cli_support import MY_CSV, assert_one_line_error, jbp_cli, run_batch

import jbp


def help_examples(text):
  """The command lines a --help epilog lists as examples."""
  return [line.split()[1:] for line in text.splitlines() if line.startswith("  jbp ")]




def math_balanced(md):
  assert md.splitlines().count("$$") % 2 == 0
  return md.count("{") == md.count("}")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
  """Every good and bad command line of this file, run in one subprocess."""
  d = tmp_path_factory.mktemp("cli")
  (d / "my.csv").write_text(MY_CSV)
  (d / "missing_value.csv").write_text("a,b,out\n0,0,0\n0,,1\n")
  (d / "text.csv").write_text("a,b,out\n0,0,0\n0,one,1\n")
  (d / "afile").write_text("not a folder")
  from jbp.cli import EXPLAIN_EXAMPLES, TRAIN_EXAMPLES

  examples = help_examples(EXPLAIN_EXAMPLES) + help_examples(TRAIN_EXAMPLES)
  helps = [["explain", "--help"], ["train", "--help"], ["--help"]]
  # Options share shapes with the examples where they can, so one compiled program serves both.
  good = {
      "markdown": ["explain", "--format", "markdown", "--update", "sequential"],
      "seq_json": ["explain", "--update", "sequential", "--json"],
      "step2": ["explain", "--step", "2", "--update", "sequential", "--json"],
      "xor": ["explain", "--data", "xor", "--sizes", "2,3,1", "--json"],
      "momentum": ["train", "--data", "xor", "--optimizer", "momentum", "--learning-rate", "0.2",
                   "--steps", "2000", "--json"],
      "float32": ["train", "--float32", "--steps", "100", "--activation", "tanh", "--init", "glorot",
                  "--sizes", "2,3,2", "--json"],
      "out1": ["train", "--steps", "50", "--out", "forced"],
      "out_again": ["train", "--steps", "50", "--out", "forced"],
      "md_again": ["explain", "--format", "markdown", "--out", "step.md"],
      "out_forced": ["train", "--steps", "50", "--learning-rate", "0.3", "--out", "forced", "--force"],
      "ensemble": ["ensemble", "--data", "xor", "--n", "24", "--learning-rates", "0.5,4,64", "--steps", "400",
                   "--threshold", "0.05", "--plot", "ens.png", "--out", "ens", "--json"],
      "ensemble_table": ["ensemble", "--n", "8", "--steps", "100", "--learning-rate", "2"],
  }
  bad = {
      "no_file": ["train", "--data", "nope.csv", "--inputs", "a", "--targets", "out"],
      "missing_value": ["train", "--data", "missing_value.csv", "--inputs", "a,b", "--targets", "out"],
      "text_in_number": ["explain", "--data", "text.csv", "--inputs", "a,b", "--targets", "out"],
      "wrong_column": ["train", "--data", "my.csv", "--inputs", "a,c", "--targets", "out"],
      "no_columns": ["train", "--data", "my.csv"],
      "columns_for_builtin": ["train", "--inputs", "a"],
      "sizes_text": ["train", "--sizes", "2,x"],
      "sizes_mismatch": ["explain", "--data", "xor", "--sizes", "3,2,1"],
      "steps_zero": ["train", "--steps", "0"],
      "steps_text": ["train", "--steps", "many"],
      "lr_negative": ["train", "--learning-rate", "-1"],
      "lr_nan": ["explain", "--learning-rate", "nan"],
      "adam_sequential": ["train", "--optimizer", "adam", "--update", "sequential"],
      "optimizer_name": ["train", "--optimizer", "rmsprop"],
      "unwritable_out": ["train", "--steps", "10", "--out", "afile/run"],
      "unwritable_plot": ["train", "--steps", "10", "--plot", "nodir/p.png"],
      "too_big": ["explain", "--sizes", "2,17,2"],
      "step_zero": ["explain", "--step", "0"],
      "format": ["explain", "--format", "latex"],
      "names": ["explain", "--names", "worked", "--sizes", "2,3,2"],
      "both_precisions": ["train", "--float32", "--float64"],
      "ens_rates": ["ensemble", "--learning-rates", "0.5,-1"],
      "ens_both_rates": ["ensemble", "--learning-rate", "0.5", "--learning-rates", "1,2"],
      "ens_threshold": ["ensemble", "--threshold", "-1"],
  }
  # `explain --format markdown --out step.md` is among the examples; md_again meets the file it wrote.
  groups = [helps, examples, list(good.values()), list(bad.values())]
  results = run_batch([argv for g in groups for argv in g], d)
  out, k = [], 0
  for g in groups:
    out.append(results[k:k + len(g)])
    k += len(g)
  return dict(dir=d, helps=out[0], examples=dict(zip(map(" ".join, examples), out[1])),
              good=dict(zip(good, out[2])), bad=dict(zip(bad, out[3])))


def test_help_of_each_subcommand_lists_examples_that_work(batch):
  explain_help, train_help, top_help = batch["helps"]
  for h, cmd in ((explain_help, "explain"), (train_help, "train")):
    assert h["rc"] == 0 and "examples:" in h["out"]
    assert help_examples(h["out"]) and all(e[0] == cmd for e in help_examples(h["out"]))
  assert "jbp explain" in top_help["out"] and "jbp train" in top_help["out"]
  assert len(batch["examples"]) >= 12
  for argv, res in batch["examples"].items():
    assert res["rc"] == 0, (argv, res["err"])
  d = batch["dir"]
  for f in ("run1/params.npz", "run1/summary.json", "run2/losses.npz", "xor.png", "run1.png", "step.md"):
    assert (d / f).stat().st_size > 0, f
  assert math_balanced((d / "step.md").read_text())


def test_explain_json_both_orders_equal_the_float64_computation(batch, x64):
  from test_explain import check_record  # every number against jax.grad and jbp.train

  ex = jbp.worked_example(jnp.float64)
  for update, res in (("simultaneous", batch["examples"]["explain --json"]), ("sequential",
                                                                              batch["good"]["seq_json"])):
    rec = json.loads(res["out"])
    assert rec["update"] == update and rec["dtype"] == "float64"
    check_record(rec, ex.params, ex.inputs, ex.targets, update=update)


def test_explain_formats_and_options(batch, x64):
  g, ex_runs = batch["good"], batch["examples"]
  md = g["markdown"]["out"]
  assert g["markdown"]["rc"] == 0 and md.startswith("# ") and math_balanced(md) and "w_{5}^{+}" in md
  step2 = json.loads(g["step2"]["out"])
  assert step2["step"] == 2
  # Step 2 explains the params after one sequential step: its numbers are jbp.train's.
  ex = jbp.worked_example(jnp.float64)
  p1, _ = jbp.train(ex.params, ex.inputs, ex.targets, steps=1, learning_rate=0.5, update="sequential")
  _, losses = jbp.train(ex.params, ex.inputs, ex.targets, steps=2, learning_rate=0.5, update="sequential")
  assert step2["weights"][0]["name"] == "w5"
  assert step2["weights"][0]["value"] == float(p1[1].w[0, 0])
  assert abs(step2["E_after"] - float(losses[2])) < 1e-12  # the same computation in another process
  xor = json.loads(g["xor"]["out"])
  assert xor["examples"] == 4 and xor["names"]["neurons"][-1] == ["y1"] and xor["sizes"] == [2, 3, 1]
  csv = ex_runs["explain --data my.csv --inputs a,b --targets out --sizes 2,3,1"]["out"]
  assert "h1_3" in csv and "[4] net_y1" in csv and "sum over examples" in csv
  assert "Step 2: the params after 1 step." in ex_runs["explain --step 2"]["out"]


def test_train_options_reach_the_run_and_its_summary(batch):
  g, ex_runs, d = batch["good"], batch["examples"], batch["dir"]
  mom = json.loads(g["momentum"]["out"])
  assert mom["optimizer"] == "momentum" and mom["loss_final"] < mom["loss_initial"]
  adam = ex_runs["train --data xor --optimizer adam --learning-rate 0.05 --steps 2000 --json"]
  adam = json.loads(adam["out"])
  assert adam["optimizer"] == "adam" and adam["loss_final"] < adam["loss_initial"]
  f32 = json.loads(g["float32"]["out"])
  assert f32["dtype"] == "float32" and f32["sizes"] == [2, 3, 2] and f32["activation"] == "tanh"
  run1 = json.loads((d / "run1" / "summary.json").read_text())
  assert run1["update"] == "sequential" and f"{run1['loss_final']:.9f}" == "0.000035085"  # published
  assert "wrote run1.png" in ex_runs["train --update sequential --out run1 --plot run1.png"]["out"]
  assert (d / "run1.png").read_bytes().startswith(b"\x89PNG")


def test_train_on_a_csv_saves_the_params_and_losses_the_library_computes(batch, x64):
  d = batch["dir"] / "run2"
  summary = json.loads((d / "summary.json").read_text())
  with np.load(d / "params.npz", allow_pickle=False) as z:
    saved = {k: z[k] for k in z.files}
  with np.load(d / "losses.npz", allow_pickle=False) as z:
    steps, losses = z["step"], z["loss"]
  # The same run in this process, from the same data, init and options: identical arrays.
  x, y = jbp.load_csv(batch["dir"] / "my.csv", "a,b", "out")
  params = jbp.init_params(jax.random.key(3), (2, 4, 1), method="uniform", shared_bias=True,
                           dtype=jnp.float64)
  want, want_losses = jbp.train(params, x, y, steps=10_000, record_every=10, learning_rate=0.5)
  assert sorted(saved) == ["b1", "b2", "w1", "w2"]  # layer 1 is params[0], as explain numbers them
  for l, layer in enumerate(want, start=1):
    np.testing.assert_array_equal(saved[f"w{l}"], layer.w)
    np.testing.assert_array_equal(saved[f"b{l}"], layer.b)
  np.testing.assert_array_equal(losses, want_losses)
  np.testing.assert_array_equal(steps, np.arange(0, 10_001, 10))
  assert summary["loss_final"] == float(want_losses[-1]) and summary["seed"] == 3
  assert summary["data"] == "my.csv" and summary["sizes"] == [2, 4, 1]


def test_ensemble_saves_what_summarize_and_train_compute(batch, x64):
  from jbp.cli import ENSEMBLE_EXAMPLES, build_parser

  for argv in help_examples(ENSEMBLE_EXAMPLES):  # the help's examples parse (they run for seconds)
    assert build_parser().parse_args(argv).command == "ensemble"
  res, d = batch["good"]["ensemble"], batch["dir"]
  if not hasattr(jbp, "train_many"):
    assert "ensemble: this version of jbp has no populations" in assert_one_line_error(res)
    return
  assert res["rc"] == 0, res["err"]
  summary = json.loads(res["out"])
  assert [r["learning_rate"] for r in summary["learning_rates"]] == [0.5, 4.0, 64.0]
  with np.load(d / "ens" / "losses.npz", allow_pickle=False) as z:
    losses, rates = z["losses"], z["learning_rates"]
  assert losses.shape == (24, 3, 101) and rates.tolist() == [0.5, 4.0, 64.0]
  # The table's numbers are jbp.summarize's, over the saved losses.
  s = jbp.summarize(losses, 0.05, record_every=summary["record_every"])
  assert [r["converged"] for r in summary["learning_rates"]] == s.fraction.tolist()
  # And member 0 at rate 4 is jbp.train of the first initialization, in one run.
  pop = jbp.init_many(jax.random.key(0), 24, (2, 5, 1), method="uniform", shared_bias=True, dtype=jnp.float64)
  ex = jbp.xor(jnp.float64)
  member = tuple(jbp.Layer(layer.w[0], layer.b[0]) for layer in pop)
  _, want = jbp.train(member, ex.inputs, ex.targets, steps=400, learning_rate=4.0, record_every=4)
  np.testing.assert_allclose(losses[0, 1], want, rtol=1e-12, atol=1e-12)  # float64, same sums
  assert (d / "ens.png").read_bytes().startswith(b"\x89PNG")
  table = batch["good"]["ensemble_table"]
  assert table["rc"] == 0, table["err"]
  assert "learning rate 2: " in table["out"] and "final E quantiles: p5 " in table["out"]


def test_existing_files_need_force(batch):
  g, d = batch["good"], batch["dir"]
  assert g["out1"]["rc"] == 0
  line = assert_one_line_error(g["out_again"])
  assert line == ("jbp train: error: --out: expected a new or empty folder (or --force to replace the "
                  "earlier run), got forced, which holds losses.npz, params.npz, summary.json")
  line = assert_one_line_error(g["md_again"])
  assert line == ("jbp explain: error: --out: expected a new file (or --force to replace it), got step.md, "
                  "which exists")
  assert g["out_forced"]["rc"] == 0
  assert json.loads((d / "forced" / "summary.json").read_text())["learning_rate"] == 0.3  # replaced
  assert not [f for f in os.listdir(d / "forced") if f.endswith(".tmp")]


@pytest.mark.parametrize("case, message", [
    ("no_file", r"train: error: --data: expected a readable CSV file, got nope.csv: No such file"),
    ("missing_value", r"--data: expected a number in missing_value.csv line 3, column 'b', got an empty "
                      r"cell"),
    ("text_in_number", r"--data: expected a number in text.csv line 3, column 'b', got 'one'"),
    ("wrong_column", r"--inputs: expected columns of my.csv \('a', 'b', 'out'\), got 'c', which it lacks"),
    ("no_columns", r"--inputs: expected the input columns of my.csv, comma-separated, got none"),
    ("columns_for_builtin", r"--inputs: expected CSV column names with --data FILE.csv, got 'a' with --data "
                            r"worked"),
    ("sizes_text", r"--sizes: expected two or more positive integers such as 2,3,1, got '2,x'"),
    ("sizes_mismatch", r"--sizes: expected sizes that start with 2 inputs and end with 1 target for --data "
                       r"xor, got 3,2,1"),
    ("steps_zero", r"--steps: expected an integer >= 1, got 0"),
    ("steps_text", r"--steps: expected an integer >= 1, got 'many'"),
    ("lr_negative", r"--learning-rate: expected a positive finite number, got -1"),
    ("lr_nan", r"--learning-rate: expected a positive finite number, got nan"),
    ("adam_sequential", r"--update: expected simultaneous with --optimizer adam \(the sequential order is "
                        r"defined for plain SGD\), got sequential"),
    ("optimizer_name", r"--optimizer: expected one of sgd, momentum, adam, got 'rmsprop'"),
    ("unwritable_out", r"--out: expected a path in an existing folder, got afile/run \(.*afile is not a "
                       r"folder\)"),
    ("unwritable_plot", r"--plot: expected a path in an existing folder, got nodir/p.png \(.*nodir does not "
                        r"exist\)"),
    ("too_big", r"explain: error: --sizes: expected a network of at most 4 layers of at most 16 neurons "
                r"\(every weight is drawn or printed\), got 2,17,2"),
    ("step_zero", r"--step: expected an integer >= 1, got 0"),
    ("format", r"--format: expected one of .*, got 'latex'"),
    ("names", r"--names: expected systematic \(or no --names\) for a network other than the worked "
              r"example's"),
    ("both_precisions", r"--float64: expected at most one of --float64 and --float32, got both"),
    ("ens_rates", r"--learning-rates: expected positive numbers separated by commas .* got '0.5,-1'"),
    ("ens_both_rates", r"--learning-rates: expected either --learning-rate or --learning-rates, got both"),
    ("ens_threshold", r"--threshold: expected a positive finite number, got -1"),
])
def test_bad_input_one_line_exit_2(batch, case, message):
  line = assert_one_line_error(batch["bad"][case])
  assert re.search(message, line), line
  assert not (batch["dir"] / "nodir").exists()


def test_explain_json_in_its_own_process_equals_jax_grad(tmp_path, x64):
  ex = jbp.worked_example(jnp.float64)
  grads = jax.grad(jbp.loss)(ex.params, ex.inputs, ex.targets)
  r = jbp_cli("explain", "--json", cwd=tmp_path)
  assert r.returncode == 0, r.stderr
  rec = json.loads(r.stdout)
  names = rec["names"]["weights"]
  for w in rec["weights"]:
    l = 0 if w["layer"] == 1 else 1
    (j, i), = [(j, i) for j in range(2) for i in range(2) if names[l][j][i] == w["name"]]
    # printed from the delta rule, compared with jax.grad: float64 rounding only
    assert abs(w["grad"] - float(grads[l].w[j, i])) <= 1e-12
  assert abs(rec["E_total"] - 0.298371109) < 1e-9 and abs(rec["E_after"] - 0.291027774) < 1e-9
  bad = jbp_cli("train", "--data", "nope.csv", "--inputs", "a", "--targets", "b", cwd=tmp_path)
  assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
