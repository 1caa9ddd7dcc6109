"""``radiomics-response``: one command, one sub-command per pipeline stage (``DESCRIPTION``).

Lesion stage (ResponseSignatureLib.cli, models.cli), patient stage (LesionAggregateLib.cli), risk
stage (nomogram_cli), the whole-pipeline demo (demo_pipeline) and front ends plugged in through the
``radiomics_response.commands`` entry points (the web workstation).
"""
from __future__ import annotations

import argparse
from typing import NoReturn, Sequence

from ResponseSignatureLib import __version__
from ResponseSignatureLib import cli as lesion_cli
from ResponseSignatureLib.cli_support import dispatch, exit_process


#: the top-level --help text (plain text: argparse prints it as written)
DESCRIPTION = """\
Radiomic tumour-response assessment: lesion features and RECIST 1.1, patient aggregation,
response signatures, nomograms and reports. Research use only; not a medical device.

commands by stage:
  images -> lesion table     sample-data, extract, recist, feature-maps
  lesions -> patient table   aggregate, batch
  signatures                 train, evaluate, apply
  risk and report            nomogram train|score|evaluate|report, report
  all stages at once         demo
  DICOM and a PACS           dicom-read-sr, pacs find|run|store (need the 'dicom' extra)
  standards check            ibsi-phantom
  in a web browser           workstation (needs the 'web' extra)

'radiomics-response COMMAND --help' describes a command and every option."""


def build_parser() -> argparse.ArgumentParser:
    """The full ``radiomics-response`` argument parser."""
    parser = argparse.ArgumentParser(prog="radiomics-response", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"radiomics-response {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lesion_cli.add_subcommands(subparsers, include_demo=False)
    from LesionAggregateLib import cli as aggregate_cli

    aggregate_cli.add_subcommands(subparsers)
    from . import nomogram_cli

    nomogram_cli.add_subcommands(subparsers)
    from . import demo_pipeline

    demo_pipeline.add_subcommand(subparsers)
    from . import pacs_cli

    pacs_cli.add_subcommands(subparsers)
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
    """Run ``radiomics-response`` with ``argv`` (default: the command line); returns the exit code."""
    return dispatch(build_parser(), argv)


def console_main() -> NoReturn:
    """Entry point of the ``radiomics-response`` console script (and ``python -m NomogramScoreLib``)."""
    exit_process(main())
