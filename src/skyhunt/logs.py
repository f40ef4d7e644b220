"""Logging set-up for workflow steps."""

from __future__ import annotations

import logging
import sys


def log_to(path: str) -> None:
    """Send skyhunt's log records to ``path`` (the rule's ``log:`` file) and to stderr.

    Uncaught exceptions are logged too, so the log file says why a job failed.
    """
    fmt = logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s")
    root = logging.getLogger("skyhunt")
    root.setLevel(logging.INFO)
    for handler in (logging.FileHandler(path, mode="w"), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(fmt)
        root.addHandler(handler)

    def excepthook(exc_type, exc, tb):
        root.error("%s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))

    sys.excepthook = excepthook
