"""Write-to-temp-then-rename, so a failed job never leaves a partial output behind."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
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
