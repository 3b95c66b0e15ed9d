"""Logging set-up shared by the workflow scripts and the CLI."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

from bumpfold.errors import BumpfoldInputError


@contextlib.contextmanager
def job_logging(path: str | None = None) -> Iterator[logging.Logger]:
    """Log INFO and above to ``path`` (and stderr). A BumpfoldInputError inside the block
    becomes one clear line in the log and on stderr, and exit status 1; any other error ends
    the log with its traceback, so the log Snakemake points to says what stopped the job."""
    console = logging.StreamHandler(sys.stderr)
    handlers: list[logging.Handler] = [console]
    if path:
        handlers.append(logging.FileHandler(path, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        handlers=handlers, force=True)
    logging.getLogger("numexpr").setLevel(logging.WARNING)  # its thread-count line on import is noise
    logger = logging.getLogger("bumpfold")
    try:
        yield logger
    except BumpfoldInputError as exc:
        if path:  # the log file gets the message; stderr gets exactly one line
            logging.getLogger().removeHandler(console)
            logger.error("%s", exc)
        raise SystemExit(f"bumpfold: error: {exc}") from None
    except Exception:
        if path:  # an unexpected error: its traceback ends the job's log (stderr gets Python's own)
            logging.getLogger().removeHandler(console)
            logger.exception("the job stopped on an unexpected error")
        raise
