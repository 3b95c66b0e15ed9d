"""The input files of a NanoAOD dataset: paths, globs, URLs and file lists, as planning sees them.

Imported when the Snakefile is parsed, so it uses the standard library only. Local files are
kept once by resolved path (a file listed and matched by a glob is one input); URLs
(``root://host//store/...``) are kept exactly as written: resolving them as local paths
would fold ``//`` and prefix the working directory.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from bumpfold.errors import BumpfoldInputError


def is_remote(path: str | Path) -> bool:
    """A URL (``root://``, ``https://``, ...) that uproot opens itself; never a local path."""
    return "://" in str(path)


def read_file_list(path: str | Path, key: str) -> list[str]:
    """One path or URL per line (as DAS or rucio list them); blank lines and ``#`` comments skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise BumpfoldInputError(f"config key {key!r}: cannot read file list {path} ({exc.strerror})") from exc
    entries = [line.strip() for line in lines]
    return [e for e in entries if e and not e.startswith("#")]


def expand_pattern(pattern: str, key: str) -> list[str]:
    if is_remote(pattern):
        if glob.has_magic(pattern):
            raise BumpfoldInputError(f"config key {key!r}: {pattern!r}: globs work on local paths only; "
                                     "list remote files one by one or in a file_list")
        return [pattern]
    if glob.has_magic(pattern):
        matched = sorted(glob.glob(pattern))
        if not matched:
            raise BumpfoldInputError(f"config key {key!r}: {pattern!r} matches no file")
        return matched
    if not os.path.isfile(pattern):
        raise BumpfoldInputError(f"config key {key!r}: {pattern}: no such file")
    return [pattern]


def unique_files(paths: Iterable[str]) -> list[str]:
    """``paths`` in order, each file once: local files by resolved path, URLs as written."""
    seen: dict[str, str] = {}
    for path in paths:
        seen.setdefault(path if is_remote(path) else os.path.realpath(path), path)
    return list(seen.values())


def dataset_files(name: str, files: Sequence[str] = (), file_list: str | None = None) -> list[str]:
    """The files of dataset ``name``: its ``files`` (paths, globs, URLs) and the entries of its
    ``file_list``, globs expanded, each file once. A glob matching nothing, a listed local file
    that does not exist or an empty result stops with the config key and the cause."""
    paths: list[str] = []
    for pattern in files:
        paths += expand_pattern(pattern, f"datasets.{name}.files")
    if file_list is not None:
        key = f"datasets.{name}.file_list"
        for number, entry in enumerate(read_file_list(file_list, key), start=1):
            paths += expand_pattern(entry, f"{key} ({file_list}, line {number})")
    if not paths:
        raise BumpfoldInputError(f"config key 'datasets.{name}': no input files")
    return unique_files(paths)
