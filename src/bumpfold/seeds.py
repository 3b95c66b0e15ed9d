"""Seeds for workflow steps: derived from the config seed and the wildcards (light: the
Snakefile imports it at parse time)."""

from __future__ import annotations

import zlib


def step_seed(base: int, *parts: object) -> int:
    """A seed in [0, 2**31) for one step, from the config seed and the step's wildcards."""
    return zlib.crc32("/".join(map(str, (base, *parts))).encode()) % (2**31)
