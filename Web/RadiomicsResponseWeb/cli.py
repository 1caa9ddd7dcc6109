"""``radiomics-response workstation``: serve the web workstation on this computer.

trame and trame-slicer are imported only when the command runs, so the rest of
``radiomics-response`` works without the optional ``web`` extra.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from . import access

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"
REQUIRED_MODULES = ("trame", "trame_slicer", "slicer")
INSTALL_HINT = 'pip install "radiomics-response[web]"'


def add_subcommand(subparsers) -> None:
    """Add ``workstation`` to an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        "workstation",
        help="the reading workstation in a web browser (segment, name lesions, compute, results)",
        description="Serve the RadiomicsResponse workstation: Slicer's slice views and segment editor in a "
        "browser (trame-slicer), lesion naming and location, the lesion table, RECIST 1.1, the waterfall "
        "plot and the later stages as they are installed. Listens on 127.0.0.1 unless --host says otherwise; "
        "open the address it prints (it carries a per-launch access token, as Jupyter's does).",
    )
    parser.add_argument("--demo", action="store_true", help="load the synthetic demo case at start")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT}; 0: any free port)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}, this computer only; 0.0.0.0 exposes "
                        "the images to the network)")
    parser.add_argument("--out", type=Path, default=Path("workstation_output"),
                        help="work folder: demo case, lesion tables and their provenance (default ./workstation_output)")
    parser.add_argument("--params", default=None, help="feature extraction preset name or pyradiomics YAML (default: 'default')")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    parser.add_argument("--no-token", action="store_true",
                        help="serve without the per-launch access token (not recommended: every program and web "
                        "page on this computer could then open the workstation and its images)")
    parser.set_defaults(func=run_workstation, output_folders=("out",))


def missing_modules() -> list[str]:
    """The modules of the ``web`` extra that cannot be found."""
    return [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]


def run_workstation(args: argparse.Namespace) -> int:
    """Handler of ``workstation``: build the app, optionally load the demo, serve until stopped."""
    missing = missing_modules()
    if missing:
        print(f"The workstation needs the optional 'web' extra (missing: {', '.join(missing)}). "
              f"Install it with: {INSTALL_HINT}", file=sys.stderr)
        return 2
    from ResponseSignatureLib.errors import RadiomicsResponseError
    from ResponseSignatureLib.outputs import check_output_folder

    try:
        check_output_folder(args.out, "--out")
    except RadiomicsResponseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    os.environ.setdefault("TRAME_ARGS", "")  # trame must not parse radiomics-response's own arguments
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")  # offscreen, no X server
    from trame.app import get_server

    from .app import Workstation

    server = get_server("radiomics_response_workstation", client_type="vue3")
    start = time.monotonic()
    try:
        workstation = Workstation(server, out_dir=args.out, params=args.params)
        print(f"workstation: views and segment editor ready in {time.monotonic() - start:.1f} s", file=sys.stderr)
        if args.demo:
            start = time.monotonic()
            if workstation.load_demo():
                print(f"workstation: demo case loaded in {time.monotonic() - start:.1f} s", file=sys.stderr)
            else:
                print(f"warning: the demo case could not be loaded: {server.state.rr_message}", file=sys.stderr)
    except RadiomicsResponseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.host not in access.LOOPBACK_HOSTS:
        print(f"warning: listening on {args.host}: other computers can reach the workstation and its images.",
              file=sys.stderr)
    token = None if args.no_token else access.new_token()
    if token is None:
        print("warning: --no-token: any program or web page on this computer that can reach the port can open the "
              "workstation and its images.", file=sys.stderr)
    guard = access.AccessGuard(token, loopback_only=args.host in access.LOOPBACK_HOSTS)
    server.controller.on_server_bind.add(guard.install)
    server.controller.on_server_ready.add(lambda **_: _announce(access.launch_url(args.host, server.port, token),
                                                                open_browser=not args.no_browser))
    server.start(host=args.host, port=args.port, open_browser=False, show_connection_info=False, timeout=0)
    return 0


def _announce(url: str, open_browser: bool) -> None:
    """Print the address to open (with its token), as Jupyter does, and open it in a browser if asked."""
    print(f"workstation: open {url}\n  (this address carries the access token of this launch; Ctrl-C stops the "
          "workstation)", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)


def build_parser() -> argparse.ArgumentParser:
    """A parser with just the workstation command (``python -m RadiomicsResponseWeb``)."""
    parser = argparse.ArgumentParser(prog="python -m RadiomicsResponseWeb")
    subparsers = parser.add_subparsers(dest="command")
    add_subcommand(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``workstation`` with the given arguments (the sub-command name may be left out)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "workstation":
        argv.insert(0, "workstation")
    args = build_parser().parse_args(argv)
    return args.func(args)
