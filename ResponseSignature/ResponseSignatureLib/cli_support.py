"""What every command-line entry point shares: run a handler and turn failures into one line.

``dispatch`` is used by ``radiomics-response`` (NomogramScoreLib.cli) and by ``python -m <Lib>`` of
each library. It lives apart from the stages' ``cli.py`` so that no library imports another
library's command line to reuse it.

Exit codes: 0 success, 2 bad input or a missing optional package (one line on stderr, no
traceback), 130 cancelled or interrupted. Handlers return their own code (e.g. 1: a batch finished
with failed cases).
"""
from __future__ import annotations

import argparse
import gc
import sys
from typing import NoReturn, Sequence

from .errors import OperationCancelled, RadiomicsResponseError

#: top-level module of an optional dependency -> the extra of radiomics-response that installs it
EXTRAS = {
    "radiomics": "pyradiomics",
    "dask": "dask",
    "distributed": "dask",
    "slicer": "mrml",
    "vtk": "mrml",
    "trame": "web",
    "trame_slicer": "web",
    "playwright": "test",
    "highdicom": "dicom",
    "pydicom": "dicom",
    "dicomweb_client": "dicom",
}


def missing_package_hint(error: ImportError) -> str:
    """One line saying which package is missing and how to install it."""
    module = (error.name or str(error)).split(".")[0]
    extra = EXTRAS.get(module)
    if extra:
        return (f"this needs the optional package '{module}': "
                f"pip install \"radiomics-response[{extra}]\"")
    return f"the Python package '{module}' is missing: reinstall radiomics-response (pip install radiomics-response)"


def exit_process(code: int) -> NoReturn:
    """End a command-line process with ``code``: ``sys.exit`` after ``gc.freeze()``.

    Python's shutdown runs a full garbage collection over every object of numpy's, pandas', scipy's
    and SimpleITK's modules (~0.06 s of a ~1.4 s ``extract``); frozen objects are skipped and their
    memory goes back to the system with the process. Only where the process ends (console script,
    ``python -m``): in a running session frozen objects would never be collected.
    """
    gc.freeze()
    sys.exit(code)


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse, run the chosen handler, and turn our errors into a one-line message and an exit code."""
    from .outputs import check_outputs
    from .progress import end_progress_line

    args = parser.parse_args(argv)
    try:
        check_outputs(args, parser)  # an --out folder where a file is expected (or the reverse): fail before any work
        return int(args.func(args) or 0)
    except OperationCancelled as error:
        end_progress_line()
        print(f"cancelled: {error}", file=sys.stderr)
        return 130
    except RadiomicsResponseError as error:
        end_progress_line()
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        end_progress_line()
        print(f"error: {missing_package_hint(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        end_progress_line()
        print("interrupted: what was finished is kept (batch runs resume when re-run)", file=sys.stderr)
        return 130
