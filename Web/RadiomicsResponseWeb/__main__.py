"""``python -m RadiomicsResponseWeb [--demo] [--port N]``: the workstation alone."""
from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
