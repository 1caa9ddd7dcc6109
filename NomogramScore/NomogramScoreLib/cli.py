"""``radiomics-response``: one command, one sub-command per pipeline stage.

Lesion stage (ResponseSignatureLib): extract, sample-data, train, evaluate, apply.
Patient stage (LesionAggregateLib): aggregate, batch.
Risk stage (NomogramScoreLib): nomogram train|score|evaluate, report, and demo (whole pipeline).
"""
from __future__ import annotations

import argparse
from typing import Sequence

from ResponseSignatureLib import __version__
from ResponseSignatureLib import cli as lesion_cli
from ResponseSignatureLib.cli_support import dispatch


def build_parser() -> argparse.ArgumentParser:
    """The full ``radiomics-response`` argument parser."""
    parser = argparse.ArgumentParser(prog="radiomics-response", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"radiomics-response {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lesion_cli.add_subcommands(subparsers, include_demo=False)
    from LesionAggregateLib import cli as aggregate_cli

    aggregate_cli.add_subcommands(subparsers)
    from . import nomogram_cli

    nomogram_cli.add_subcommands(subparsers)
    from . import demo_pipeline

    demo_pipeline.add_subcommand(subparsers)
    for add_subcommand in _plugin_commands():
        add_subcommand(subparsers)
    return parser


def _plugin_commands() -> list:
    """``add_subcommand`` functions registered under the ``radiomics_response.commands`` entry points
    (e.g. the browser workstation), so that front ends downstream of the Libs plug themselves in."""
    from importlib.metadata import entry_points

    found = entry_points()
    group = found.select(group="radiomics_response.commands") if hasattr(found, "select") else found.get("radiomics_response.commands", [])
    commands = []
    for entry in sorted(group, key=lambda e: e.name):
        try:
            commands.append(entry.load())
        except ImportError:  # a front end whose package is absent: its command is simply not offered
            continue
    return commands


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``radiomics-response`` console script."""
    return dispatch(build_parser(), argv)
