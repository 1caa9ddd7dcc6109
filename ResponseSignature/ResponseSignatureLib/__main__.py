"""``python -m ResponseSignatureLib``."""
from __future__ import annotations

from .cli import main
from .cli_support import exit_process

exit_process(main())
