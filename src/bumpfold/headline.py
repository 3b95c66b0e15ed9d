"""results/summary.md: the headline numbers of a run on one page (search, bump hunt,
unfolding), read from the stages' summary JSON files, with the run's provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from bumpfold.bumphunt.toys import Trials
from bumpfold.io.atomic import atomic_path
from bumpfold.provenance import markdown_footer


def _load(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def search_section(summary: dict[str, Any]) -> list[str]:
    rows = summary["rows"]
    methods = sorted({r["method"] for r in rows})
    lines = ["## Anomaly search: max SIC (AUC) on the test set", "",
             "Max SIC counts working points with >= 25 test background events; 1 is no better than random.", "",
             "Closure AUCs: flow samples against held-out sideband data (SB) and against the true SR "
             "background (SR, interpolation); 0.5 where the flow models the background.", "",
             "| injected | window | S/B in SR | S/sqrt(B) | closure AUC SB / SR | " + " | ".join(methods) + " |",
             "|---:|---|---:|---:|---:|" + "---:|" * len(methods)]
    cells: dict[tuple[int, str], dict[str, dict]] = {}
    for r in rows:
        cells.setdefault((r["injection"], r["window"]), {})[r["method"]] = r
    for (injection, window), by_method in sorted(cells.items()):
        any_row = next(iter(by_method.values()))
        values = [("no truth" if "max_sic" not in by_method[m] else f"{by_method[m]['max_sic']:.2f} "
                   f"({by_method[m]['auc']:.3f})") if m in by_method else "-" for m in methods]
        lines.append(f"| {injection} | {window} | {_percent(any_row['s_over_b'])} | "
                     f"{_number(any_row['s_over_sqrt_b'])} | "
                     f"{any_row['closure_auc']:.3f} / {_auc(any_row.get('interpolation_auc'))} | "
                     + " | ".join(values) + " |")
    for method, why in summary.get("skipped", {}).items():
        lines += ["", f"{method}: skipped ({why})."]
    return lines


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def bumphunt_section(summary: dict[str, Any], toys: dict[str, Any] | None = None) -> list[str]:
    """The limits table of the bump hunt (each signal model in its own window), one level down,
    and the largest local significance of each selection, each with its global significance
    (the toys' trials factor where toys ran, else the Bonferroni bound)."""
    from bumpfold.bumphunt.summary import limits_table, trials_per_injection

    trials_from_toys = _toys_trials(toys)
    trials = trials_per_injection(summary["rows"], trials_from_toys)
    lines = ["#" + limits_table(summary["rows"], trials_from_toys).rstrip("\n"), "",
             "| injected | selection | largest Z local, all windows and efficiencies | Z global |",
             "|---:|---|---:|---:|"]
    largest: dict[tuple[int, str], float] = {}
    for r in summary["rows"]:
        if r["status"] == "ok":
            key = (r["injection"], r["selection"])
            largest[key] = max(largest.get(key, -np.inf), r["local_significance"])
    lines += [f"| {injection} | {selection} | {z:.2f} | {trials[injection].global_z(z):.2f} |"
              for (injection, selection), z in sorted(largest.items())]
    return lines


def _toys_trials(toys: dict[str, Any] | None) -> Trials | None:
    """The trials factor of a toys summary (None: no toys, or too few with a significance)."""
    return None if toys is None or toys.get("trials") is None else Trials(**toys["trials"])


def toys_section(toys: dict[str, Any]) -> list[str]:
    """The toys' calibration table, one level down."""
    from bumpfold.bumphunt.toys import toys_table

    return ["#" + toys_table(toys).rstrip("\n").replace("\n## ", "\n### ")]


def unfold_section(summary: dict[str, Any]) -> list[str]:
    observables = summary["observables"]
    methods = [m for m in ("prior", "omnifold", "ibu", "generative")
               if all(m in o.get("metrics", {}) for o in observables.values())]
    if not methods:
        return ["## Unfolding", "", "No truth to compare with (real data): see results/unfold/unfolded.png."]
    lines = ["## Unfolding: distance to the truth (triangular discriminator x 1e3; lower is better)", "",
             f"{summary['members']} ensemble members x {summary['iterations']} OmniFold iterations; "
             f"{summary['n_simulation']} simulated, {summary['n_data']} data events.", "",
             "| observable | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
    for name, o in observables.items():
        lines.append(f"| {name} | " + " | ".join(f"{o['metrics'][m]['triangular_discriminator_1e3']:.2f}"
                                               for m in methods) + " |")
    lines += ["", f"OmniFold closer to the truth than the prior on {summary['omnifold_closer_than_prior']}/"
                  f"{len(observables)} observables, than IBU on "
                  f"{summary['omnifold_closer_than_ibu']}/{len(observables)}."]
    return lines


def write_summary(*, output: str | Path, record: dict[str, Any], search: str | Path | None = None,
                  bumphunt: str | Path | None = None, unfold: str | Path | None = None,
                  toys: str | Path | None = None, limits: str | Path | None = None) -> str:
    """The page, from whichever stages ran (``None``: the stage is switched off); ``limits``:
    the injection scans' limits table (results/limits/limits.md)."""
    parts = [["# bumpfold: headline results", "",
              f"Seed {record['seed']}, workflow at git {record['git_commit']}. Details: results/*/summary.json "
              "and `snakemake --report results/report.html`."]]
    toys_summary = _load(toys) if toys else None
    if search:
        parts.append(search_section(_load(search)))
    if bumphunt:
        parts.append(bumphunt_section(_load(bumphunt), toys_summary))
    if limits:  # its own table, one level down (its provenance footer left out: the page has one)
        table = Path(limits).read_text().split("<!-- provenance:")[0].rstrip("\n")
        parts.append(["#" + table.replace("\n## ", "\n### ")])
    if toys_summary:
        parts.append(toys_section(toys_summary))
    if unfold:
        parts.append(unfold_section(_load(unfold)))
    text = "\n\n".join("\n".join(p) for p in parts) + "\n" + markdown_footer(record)
    with atomic_path(output) as tmp:
        Path(tmp).write_text(text)
    return text
