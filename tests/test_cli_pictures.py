"""`jbp explain --format html|svg` and `jbp train --html` on the worked example, XOR and a CSV network.

All the command lines run in one subprocess (``run_batch``, as in test_cli_commands.py). The files they
write are read here, and the pages opened in headless Chromium: each stepping page, walked with the keyboard,
shows exactly the numbers that `jbp explain` prints for the same options, on an SVG drawing, and
loads nothing; each training page shows the run that `jbp train` reports.
"""

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter

import jax
import jax.numpy as jnp
import pytest
from browser import assert_not_blank, horizontal_overflow, launch, open_page, screenshot_pixels
from cli_support import MY_CSV, assert_one_line_error, run_batch

import jbp

NUM = re.compile(r"-?\d+\.\d{9}(?!\d)")
DATA = {"worked": [], "xor": ["--data", "xor"],
        "csv": ["--data", "my.csv", "--inputs", "a,b", "--targets", "out"]}
STEPS = "1000"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
  d = tmp_path_factory.mktemp("pictures")
  (d / "my.csv").write_text(MY_CSV)
  good = {}
  for name, data in DATA.items():
    for update in jbp.UPDATES:
      good[name, "html", update] = ["explain", *data, "--update", update, "--format", "html", "--out",
                                    f"{name}_{update}.html"]
      good[name, "text", update] = ["explain", *data, "--update", update]
    good[name, "svg"] = ["explain", *data, "--format", "svg", "--out", f"{name}.svg"]
    good[name, "train"] = ["train", *data, "--steps", STEPS, "--html", f"{name}_run.html", "--no-progress"]
  good["step3"] = ["explain", "--step", "3", "--format", "html", "--update", "sequential"]
  bad = {
      "again": ["train", "--steps", "10", "--html", "worked_run.html"],
      "adam": ["train", "--optimizer", "adam", "--html", "adam.html"],
      "too_wide": ["train", "--sizes", "2,17,2", "--html", "wide.html"],
  }
  forced = {"forced": ["train", "--steps", "10", "--html", "worked_run_10.html"],
            "forced_again": ["train", "--steps", "20", "--html", "worked_run_10.html", "--force"]}
  argvs = list(good.values()) + list(bad.values()) + list(forced.values())
  results = run_batch(argvs, d)
  res = dict(zip(list(good) + list(bad) + list(forced), results))
  return d, res


def test_every_command_works_and_writes_its_file(made):
  d, res = made
  for key, r in res.items():
    if key not in ("again", "adam", "too_wide"):
      assert r["rc"] == 0, (key, r["err"])
  for name in DATA:
    for f in (f"{name}_simultaneous.html", f"{name}_sequential.html", f"{name}.svg", f"{name}_run.html"):
      assert (d / f).stat().st_size > 1000, f
    assert f"wrote {name}_run.html" in res[name, "train"]["out"]
  assert "step 20 of 20" not in (d / "worked_run_10.html").read_text()  # the page holds its own data
  assert json.loads(re.search(r'id="run-data">(.*?)</script>', (d / "worked_run_10.html").read_text(),
                              re.S).group(1))["steps"][-1] == 20  # --force replaced the 10-step page


def test_refusals_are_one_line_before_any_work(made):
  _, res = made
  assert ("--html: expected a new file (or --force to replace it), got worked_run.html, which exists"
          in assert_one_line_error(res["again"]))
  assert ("--html: expected --optimizer sgd (the page records the params at each recorded step of plain "
          "SGD), got --optimizer adam" in assert_one_line_error(res["adam"]))
  assert ("--html: expected a network of at most 4 layers of at most 16 neurons (every weight is drawn or "
          "printed), got 2,17,2" in assert_one_line_error(res["too_wide"]))
  assert res["too_wide"]["seconds"] < 30  # refused before training


def test_svg_from_the_command_line_names_every_weight(made, x64):
  d, _ = made
  svg = ET.parse(d / "worked.svg").getroot()
  labels = {g.get("id"): [t.text for t in g.iter("{http://www.w3.org/2000/svg}tspan")]
            for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("id", "").startswith("l-")}
  assert labels["l-w5"] == ["w5", "0.400000000"] and len(labels) == 8
  xor = ET.parse(d / "xor.svg").getroot()
  ids = {g.get("id") for g in xor.iter() if g.get("id")}
  assert {f"l-w1_{j}{i}" for j in range(1, 6) for i in (1, 2)} <= ids
  csv = ET.parse(d / "csv.svg").getroot()
  assert sum(1 for g in csv.iter() if (g.get("id") or "").startswith("l-w")) == 2 * 4 + 4 * 1  # 2-4-1


@pytest.mark.parametrize("update", jbp.UPDATES)
def test_worked_example_page_from_the_command_line_is_the_librarys(made, x64, update):
  d, _ = made
  ex = jbp.worked_example(jnp.float64)
  record = jbp.explain(ex.params, ex.inputs, ex.targets, learning_rate=0.5, update=update)
  assert (d / f"worked_{update}.html").read_text(encoding="utf-8") == jbp.render_html(record)


@pytest.fixture(scope="module")
def browser():
  with launch() as b:
    yield b


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("update", jbp.UPDATES)
def test_stepping_pages_show_what_jbp_explain_prints(browser, made, name, update):
  d, res = made
  path = d / f"{name}_{update}.html"
  page, requests = open_page(browser, path)
  n = page.locator(".stage").count()
  shown = []
  for k in range(n):
    if k:
      page.keyboard.press("ArrowRight")
    assert page.locator("#where").inner_text() == f"stage {k + 1} of {n}"
    shown += NUM.findall(page.locator(".stage.current").inner_text())
  printed = NUM.findall(res[name, "text", update]["out"].split("\n", 2)[2])
  one_example = name == "worked"
  assert (shown == printed) if one_example else (Counter(shown) == Counter(printed))
  # on an SVG drawing, in the example's names
  names = page.evaluate("Array.from(document.querySelectorAll('svg.jbp-net g[id^=\"n-\"]')).map(g => g.id)")
  assert set(names) == ({"n-i1", "n-i2", "n-h1", "n-h2", "n-o1", "n-o2"} if one_example else
                        {"n-x1", "n-x2", "n-y1"} | {f"n-h1_{j}" for j in range(1, 6 if name == "xor" else 5)})
  assert horizontal_overflow(page) <= 0
  assert requests == [path.resolve().as_uri()]


@pytest.mark.parametrize("name", list(DATA))
def test_training_pages_show_the_run_that_jbp_train_reports(browser, made, name):
  d, res = made
  path = d / f"{name}_run.html"
  page, requests = open_page(browser, path)
  e_after = re.search(r"E after: (\S+)", res[name, "train"]["out"]).group(1)
  assert page.locator("#readout").inner_text() == f"step 1,000 of 1,000 · E = {e_after}"
  if name == "worked":  # both update orders on one chart
    keys = page.evaluate("Array.from(document.querySelectorAll('svg.chart .key')).map(t => t.textContent)")
    assert keys == ["simultaneous", "sequential"]
  page.keyboard.press("Home")
  assert page.locator("#readout").inner_text().startswith("step 0 of 1,000 · E = ")
  assert horizontal_overflow(page) <= 0
  assert_not_blank(screenshot_pixels(page))
  assert requests == [path.resolve().as_uri()]
  assert path.stat().st_size < 1_000_000


def test_explain_page_for_a_later_step(made):
  r = made[1]["step3"]
  assert r["rc"] == 0 and "Step 3: the params after 2 step(s)" in r["out"]
  with jax.enable_x64(True):
    ex = jbp.worked_example(jnp.float64)
    p, _ = jbp.train(ex.params, ex.inputs, ex.targets, steps=2, learning_rate=0.5, update="sequential",
                     record_every=2)
    record = jbp.explain(p, ex.inputs, ex.targets, learning_rate=0.5, update="sequential")
  assert r["out"] == jbp.render_html(record, title="Step 3: the params after 2 step(s)")


def test_train_with_plot_and_html_trains_each_run_once(tmp_path, monkeypatch):
  """The run is trained once, in the driver's chunks (whose steps add up to --steps), and the other
  update order once, by one jbp.train call: the page's params at each record come from the same chunks."""
  from cli_support import run_cli

  import jbp._train
  from jbp.cli import train as cli_train

  chunks, others = [], []
  real_program, real_train = cli_train._chunk_program(), jbp._train.train

  def counting_program(*args, **kw):
    chunks.append(kw["opts"].steps if "opts" in kw else args[5].steps)
    return real_program(*args, **kw)

  monkeypatch.setattr(cli_train, "_chunk_program", lambda: counting_program)
  monkeypatch.setattr(jbp._train, "train", lambda *a, **k: others.append(k["update"]) or real_train(*a, **k))
  monkeypatch.chdir(tmp_path)
  argv = ["train", "--steps", "2000", "--no-progress", "--plot", "loss.png", "--html", "run.html"]
  rc, out, err = run_cli(argv)
  assert rc == 0, err
  assert sum(chunks) == 2000  # every step of the run trained once
  assert others == ["sequential"]  # and the other order once, for the figure and the page together
  assert (tmp_path / "loss.png").is_file() and (tmp_path / "run.html").is_file()
