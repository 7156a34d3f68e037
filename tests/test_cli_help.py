"""The command line explains itself: ``--version`` is the package's, every flag has help, each
default either agrees with the library's or its help says why, and every command's help reads the
same way: the same groups in the same order, text wrapped to the terminal, the examples as written.
"""

import argparse

import pytest
from cli_support import run_cli

import jbp
from jbp.cli import build_parser


def test_version():
  import jbp

  rc, out, err = run_cli(["--version"])
  assert rc == 0 and out.strip() == f"jbp {jbp.__version__}"
  from importlib.metadata import version

  assert jbp.__version__ == version("jbp")  # one version, in one place


def test_every_flag_has_help():
  import argparse

  from jbp.cli import build_parser

  parsers, seen = [build_parser()], 0
  while parsers:
    p = parsers.pop()
    for action in p._actions:
      if isinstance(action, argparse._SubParsersAction):
        parsers += list(action.choices.values())
      if action.option_strings:
        assert action.help and action.help != argparse.SUPPRESS, (p.prog, action.option_strings)
        seen += 1
  assert seen >= 60


def test_cli_defaults_agree_with_the_library_or_say_why():
  import inspect

  from jbp.cli import build_parser

  sub = {a.dest: a for a in build_parser()._actions if a.dest == "command"}["command"].choices
  api = {  # flag: (the library function, its argument)
      "--activation": (jbp.train, "activation"), "--update": (jbp.train, "update"),
      "--trainable": (jbp.train, "trainable"), "--init": (jbp.init_params, "method"),
      "--learning-rate": (jbp.train, "learning_rate"), "--steps": (jbp.train, "steps"),
      "--record-every": (jbp.train, "record_every"),
  }
  checked = 0
  for command in ("train", "ensemble"):
    actions = {s: a for a in sub[command]._actions for s in a.option_strings}
    for flag, (fn, name) in api.items():
      action = actions[flag]
      param = inspect.signature(fn).parameters[name]
      library = None if param.default is inspect.Parameter.empty else param.default
      cli = action.default
      if command == "ensemble" and flag == "--learning-rate":
        continue  # ensemble's rates come from --learning-rates (default 0.5), checked with train's
      if cli != library:
        assert f"jbp.{fn.__name__}" in action.help, (command, flag, action.help)
        checked += 1
  assert checked >= 4  # init, learning rate, steps and record_every differ, each with a reason


COMMANDS = ("explain", "train", "ensemble")
# the groups of every command, in order; each command adds one of its own before its outputs
GROUPS = {"explain": ["options", "network and data", "training", "the derivation", "outputs"],
          "train": ["options", "network and data", "training", "outputs and long runs"],
          "ensemble": ["options", "network and data", "training", "population", "outputs and long runs"]}


def subparsers() -> dict[str, argparse.ArgumentParser]:
  action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
  return dict(action.choices)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_groups_its_flags_the_same_way(command):
  p = subparsers()[command]
  groups = [g.title for g in p._action_groups if g._group_actions]
  assert groups == GROUPS[command]
  options = next(g for g in p._action_groups if g.title == "options")
  assert [a.option_strings[-1] for a in options._group_actions] == ["--help", "--json"]  # the rest is grouped


@pytest.mark.parametrize("command", COMMANDS)
def test_help_text_is_wrapped_and_examples_kept(command, monkeypatch):
  monkeypatch.setenv("COLUMNS", "80")
  p = subparsers()[command]
  text = p.format_help()
  intro, _, rest = text.partition("\noptions:\n")
  assert max(len(line) for line in intro.splitlines()) <= 80  # the description is wrapped
  assert "\n  jbp " + command in rest  # the examples, one command a line, as written
  flags, _, _ = rest.partition("\nexamples:\n")
  assert max(len(line) for line in flags.splitlines()) <= 80
