"""Names of the search's runs: one per injection (``inj200``), and the whole-chain
pseudo-experiments (``inj0_toy7``: toy 7 with no signal injected). Standard library only
(the Snakefile reads it at parse time)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bumpfold.errors import BumpfoldInputError

# the wildcard ``injection`` of every search and bump-hunt path: results/search/inj{injection}/
RUN_PATTERN = r"\d+(?:_toy\d+)?"


@dataclass(frozen=True)
class Run:
    """Signal events injected, and the toy (None: the configured data, not a toy)."""

    n_injected: int
    toy: int | None = None

    @property
    def label(self) -> str:
        """The ``injection`` wildcard: ``200`` or ``0_toy7``."""
        return str(self.n_injected) if self.toy is None else f"{self.n_injected}_toy{self.toy}"

    @property
    def title(self) -> str:
        """For figure titles: ``200 injected``, ``0 injected, toy 7``."""
        return f"{self.n_injected} injected" + ("" if self.toy is None else f", toy {self.toy}")


def parse_run(label: str) -> Run:
    """The run of an ``injection`` wildcard (``200``, ``0_toy7``)."""
    match = re.fullmatch(r"(\d+)(?:_toy(\d+))?", str(label))
    if match is None:
        raise BumpfoldInputError(f"run {label!r}: expected <injected events> or <injected events>_toy<k>")
    return Run(int(match.group(1)), None if match.group(2) is None else int(match.group(2)))


def toy_runs(n_toys: int, injections: list[int], injected_toys: int) -> list[Run]:
    """Every pseudo-experiment: ``n_toys`` without signal, and the first ``injected_toys`` of
    them again with each nonzero injection (the same background, so that the injected and
    background-only fits differ by the signal only)."""
    runs = [Run(0, t) for t in range(n_toys)]
    runs += [Run(n, t) for n in injections if n > 0 for t in range(min(injected_toys, n_toys))]
    return runs
