"""Logging for workflow scripts: to the rule's log file and to the terminal at once."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def setup_logging(log_file: str | Path | None, name: str = "affectrep") -> logging.Logger:
    """Send INFO and above to `log_file` (if given) and to stderr; return the package logger."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    # JAX reports at INFO that it found no TPU on every start; that is not news to anyone.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    logger = logging.getLogger(name)

    def log_uncaught(kind, error, trace):
        # The rule's log file then says why the rule failed, not only the terminal.
        logger.error("failed: %s", error, exc_info=(kind, error, trace))

    sys.excepthook = log_uncaught
    return logger


def quiet_jax() -> None:
    """For command-line use: only warnings from JAX (no notices about missing TPUs)."""
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
