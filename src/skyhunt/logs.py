"""Logging and the entry point of every workflow step."""

from __future__ import annotations

import inspect
import logging
import os
import sys
from collections.abc import Callable


class _Brief(logging.Formatter):
    """One line per record, without the traceback: the console says what failed, the log says how."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.name} {record.levelname}: {record.getMessage()}"


def log_to(path: str) -> None:
    """Send everything a job prints to ``path`` (the rule's ``log:`` file); warnings also to the console.

    The process's standard output and error (file descriptors 1 and 2) are redirected to the log
    file, so progress bars, library messages and warnings land there and not on the terminal that
    Snakemake shares between parallel jobs (follow a job with ``tail -f <log>``). skyhunt's log
    records go to the file; those of level WARNING and above, one line each, also go to the
    console. Uncaught exceptions are logged too, with the traceback in the file.
    """
    console = os.fdopen(os.dup(2), "w", buffering=1)
    with open(path, "w", encoding="utf-8") as log_file:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
    root = logging.getLogger("skyhunt")
    root.setLevel(logging.INFO)
    to_file = logging.StreamHandler(sys.stderr)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    to_console = logging.StreamHandler(console)
    to_console.setLevel(logging.WARNING)
    to_console.setFormatter(_Brief())
    for handler in (to_file, to_console):
        root.addHandler(handler)

    def excepthook(exc_type, exc, tb):
        root.error("%s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))

    sys.excepthook = excepthook


def run_step(smk, step: Callable) -> None:
    """Run one rule's step: log to the rule's log file, then call ``step`` with the rule's names.

    ``step`` is called with keyword arguments only: the rule's named inputs, outputs and params,
    by name; and those of the rule's wildcards and ``threads`` that ``step`` takes. So the names
    in the rule and the step's signature must agree (parameters with a default may be left
    out); a mismatch fails at once, naming both.

    Parameters
    ----------
    smk : snakemake.script.Snakemake
        The ``snakemake`` object of a rule script.
    step : callable
        The ``run_<rule>`` function of :mod:`skyhunt`.
    """
    log_to(smk.log[0])
    kwargs: dict = {}
    for kind in ("input", "output", "params"):
        for name, value in getattr(smk, kind).items():
            if name in kwargs:
                raise TypeError(
                    f"rule {smk.rule}: {kind} {name!r} has the name of another input, output or param"
                )
            kwargs[name] = value
    accepted = inspect.signature(step).parameters
    optional = {"threads": smk.threads, **dict(smk.wildcards.items())}
    kwargs.update({k: v for k, v in optional.items() if k in accepted and k not in kwargs})
    required = {k for k, p in accepted.items() if p.default is inspect.Parameter.empty}
    missing, extra = sorted(required - set(kwargs)), sorted(set(kwargs) - set(accepted))
    if missing or extra:
        func = getattr(step, "func", step)  # a functools.partial names its function
        raise TypeError(
            f"rule {smk.rule} does not match {func.__module__}.{func.__name__}: "
            f"the rule has {extra or 'nothing'} that the step does not take, "
            f"and lacks {missing or 'nothing'} that it needs"
        )
    step(**kwargs)
