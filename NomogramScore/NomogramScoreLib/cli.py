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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``radiomics-response`` console script."""
    return lesion_cli.dispatch(build_parser(), argv)
