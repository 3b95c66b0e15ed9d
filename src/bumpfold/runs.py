"""Names of the search's runs: one per injection (``inj200``), the whole-chain
pseudo-experiments (``inj0_toy7``: toy 7 with no signal injected), and the injection scans of
the limits (``inj300-wprime_tb_3500``: 300 events of that signal model injected instead of
``search.signal``'s). Standard library only (the Snakefile reads it at parse time)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bumpfold.errors import BumpfoldInputError

# the wildcard ``injection`` of every search and bump-hunt path: results/search/inj{injection}/
RUN_PATTERN = r"\d+(?:_toy\d+|-[A-Za-z][A-Za-z0-9_]*)?"


@dataclass(frozen=True)
class Run:
    """Signal events injected, the toy (None: the configured data, not a toy), and the
    injected signal model (None: ``search.signal``)."""

    n_injected: int
    toy: int | None = None
    signal: str | None = None

    def __post_init__(self) -> None:
        if self.toy is not None and self.signal is not None:
            raise BumpfoldInputError("a run is a toy or injects its own signal model, not both")

    @property
    def label(self) -> str:
        """The ``injection`` wildcard: ``200``, ``0_toy7`` or ``300-wprime_tb_3500``."""
        if self.signal is not None:
            return f"{self.n_injected}-{self.signal}"
        return str(self.n_injected) if self.toy is None else f"{self.n_injected}_toy{self.toy}"

    @property
    def title(self) -> str:
        """For figure titles: ``200 injected``, ``0 injected, toy 7``, ``300 wprime_tb_3500 injected``."""
        if self.signal is not None:
            return f"{self.n_injected} {self.signal} injected"
        return f"{self.n_injected} injected" + ("" if self.toy is None else f", toy {self.toy}")


def parse_run(label: str) -> Run:
    """The run of an ``injection`` wildcard (``200``, ``0_toy7``, ``300-wprime_tb_3500``)."""
    match = re.fullmatch(r"(\d+)(?:_toy(\d+)|-([A-Za-z][A-Za-z0-9_]*))?", str(label))
    if match is None:
        raise BumpfoldInputError(f"run {label!r}: expected <injected events>, <injected events>_toy<k> "
                                 "or <injected events>-<signal model>")
    return Run(int(match.group(1)), None if match.group(2) is None else int(match.group(2)), match.group(3))


def injection_scan_runs(injections: list[int], signal_models: list[str]) -> list[Run]:
    """The limits' injection scan: each signal model injected at each nonzero size."""
    return [Run(n, signal=model) for model in signal_models for n in injections if n > 0]


def toy_runs(n_toys: int, injections: list[int], injected_toys: int) -> list[Run]:
    """Every pseudo-experiment: ``n_toys`` without signal, and the first ``injected_toys`` of
    them again with each nonzero injection (the same background, so that the injected and
    background-only fits differ by the signal only)."""
    runs = [Run(0, t) for t in range(n_toys)]
    runs += [Run(n, t) for n in injections if n > 0 for t in range(min(injected_toys, n_toys))]
    return runs
