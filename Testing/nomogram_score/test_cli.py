"""``radiomics-response --help``: every command and every option is described, in plain text."""
from __future__ import annotations

import argparse
import re

from NomogramScoreLib.cli import DESCRIPTION, build_parser


def _subparsers(parser: argparse.ArgumentParser, prefix: str = ""):
    """(command path, parser) of every sub-command, recursively (nomogram train, ...)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix}{name}", sub
                yield from _subparsers(sub, f"{prefix}{name} ")


def test_top_level_summary_lists_every_command_in_plain_text():
    parser = build_parser()
    top = [name for name, _ in _subparsers(parser) if " " not in name]
    assert {"extract", "recist", "feature-maps", "sample-data", "aggregate", "batch", "train", "evaluate", "apply",
            "nomogram", "report", "demo"} <= set(top)
    summary = DESCRIPTION.replace("|", ", ")
    for name in top:
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", summary), f"'{name}' missing from the summary"
    actions = [name.split()[1] for name, _ in _subparsers(parser) if name.startswith("nomogram ")]
    assert f"nomogram {'|'.join(actions)}" in DESCRIPTION
    assert "``" not in parser.format_help() and ":func:" not in parser.format_help()


def test_every_command_and_option_has_a_description():
    undocumented = []
    for name, sub in _subparsers(build_parser()):
        if not sub.description:
            undocumented.append(f"{name}: no description")
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help:
                undocumented.append(f"{name} {'/'.join(action.option_strings) or action.dest}: no help")
        text = sub.format_help()
        if "``" in text:
            undocumented.append(f"{name}: raw reST in --help")
    assert not undocumented, "\n".join(undocumented)
