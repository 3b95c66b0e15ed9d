"""The one exception type for bad input: its message names the file or key and the cause."""

from __future__ import annotations


class BumpfoldInputError(ValueError):
    """Bad input (file, branch, config key, value). ``str()`` is the user-facing message."""
