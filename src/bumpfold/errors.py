"""The one exception type for bad input: its message names the file or key and the cause."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class BumpfoldInputError(ValueError):
    """Bad input (file, branch, config key, value). ``str()`` is the user-facing message."""


def one_line(exc: BaseException, *, last_line: bool = False) -> str:
    """``Type: message`` of a third-party exception on one line: folded, or only its last
    line where the text is a back trace (HDF5 errors are)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = (lines[-1] if last_line else " ".join(lines)) if lines else "no message"
    return f"{exc.__class__.__name__}: {text}"


def required(value: T | None, what: str) -> T:
    """``value``, or a clear error naming ``what`` is missing (an input a step needs only
    for some methods, e.g. CATHODE's samples)."""
    if value is None:
        raise BumpfoldInputError(f"{what} is required here but was not given")
    return value


def required_path(path: str | Path | None, what: str) -> str | Path:
    """:func:`required` for a path (a union that type checkers would widen to ``object``)."""
    if path is None:
        raise BumpfoldInputError(f"{what} is required here but was not given")
    return path
