"""Write-to-temp-then-rename, so a failed job never leaves a partial output behind."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from bumpfold.errors import BumpfoldInputError

# the errors of a place that cannot be written (full, read-only, no permission): one message
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success. A
    full disk or a folder that cannot be written becomes one BumpfoldInputError naming
    ``path``, and leaves nothing behind."""
    final = Path(path)
    tmp = final.with_name(f".{final.name}.tmp{os.getpid()}")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        if exc.errno in WRITE_ERRORS:
            raise BumpfoldInputError(f"{final}: cannot write it ({os.strerror(exc.errno)})") from None
        raise
    finally:
        with contextlib.suppress(OSError):  # a cleanup that fails must not hide the first error
            tmp.unlink(missing_ok=True)


def write_json(payload: object, path: str | os.PathLike[str]) -> None:
    """Indented, key-sorted JSON, written atomically."""
    import json

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_parquet(table, path: str | os.PathLike[str]) -> None:
    """A pandas DataFrame as Parquet (no index), written atomically."""
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)
