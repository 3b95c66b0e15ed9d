"""Shared by the benchmark scripts: print a markdown block, append it to a file if asked."""

from __future__ import annotations

from pathlib import Path


def emit(text: str, output: str | Path | None) -> None:
    print(text)
    if output:
        with open(output, "a") as f:
            f.write("\n" + text.rstrip("\n") + "\n")
        print(f"appended to {output}")
