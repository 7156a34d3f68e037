"""Every command's help reads the same way: the same groups in the same order, text wrapped to the
terminal, the examples kept as written."""

from __future__ import annotations

import argparse

import pytest

from jbp.cli import build_parser

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
