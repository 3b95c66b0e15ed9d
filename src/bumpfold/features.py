"""The dijet feature table, the ground floor that the skim and the LHC Olympics reader share.

Per event, from the two leading (highest-pT) large-R jets, ordered by jet mass as in
CATHODE (``low`` = lighter jet): m_jj, m_j,low, delta m_j = m_j,high - m_j,low,
tau21 and tau32 of both jets, their pT and eta, |delta eta_jj|, the truth label where the
input has one (-1 where not), and the event weight. Masses and momenta in GeV.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bumpfold.errors import BumpfoldInputError

FEATURES = ("mjj", "mj_low", "delta_mj", "tau21_low", "tau21_high", "tau32_low", "tau32_high",
            "pt_low", "pt_high", "eta_low", "eta_high", "delta_eta_jj")
COLUMNS = FEATURES + ("is_signal", "weight")


JET_PT_MAX = 1.0e5  # GeV: no collider makes a jet above this; a larger pT is a corrupt value


def check_jet_values(columns: dict[str, np.ndarray], source: str, prefix: str) -> None:
    """Stop on jet values no detector gives, naming the branch (``prefix`` + field): NaN or
    inf in any field (a NaN tau1 would otherwise become tau21 = 0, a NaN eta drop the jet),
    a negative pT or mass, or a pT above :data:`JET_PT_MAX` (m_jj loses all precision)."""
    for name, values in columns.items():
        bad = ~np.isfinite(values)
        if bad.any():
            raise BumpfoldInputError(f"{source}: {prefix}{name} has {int(bad.sum())} NaN/inf value(s)")
    for name in ("pt", "mass"):
        negative = columns[name] < 0
        if negative.any():
            raise BumpfoldInputError(f"{source}: {prefix}{name} has {int(negative.sum())} negative value(s)")
    huge = columns["pt"] > JET_PT_MAX
    if huge.any():
        raise BumpfoldInputError(f"{source}: {prefix}pt has {int(huge.sum())} value(s) above {JET_PT_MAX:g} GeV")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """tau_N / tau_N-1, defined as 0 for a jet whose tau_N-1 is 0 (a one-particle jet)."""
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def dijet_features(j1: dict[str, np.ndarray], j2: dict[str, np.ndarray]) -> pd.DataFrame:
    """The feature table from the two leading jets, each a dict of arrays with
    pt, eta, phi, mass, tau1, tau2, tau3 (GeV)."""
    def p4(j):
        return (j["pt"] * np.cos(j["phi"]), j["pt"] * np.sin(j["phi"]), j["pt"] * np.sinh(j["eta"]),
                np.sqrt((j["pt"] * np.cosh(j["eta"])) ** 2 + j["mass"] ** 2))

    (x1, y1, z1, e1), (x2, y2, z2, e2) = p4(j1), p4(j2)
    mjj = np.sqrt(np.maximum((e1 + e2) ** 2 - (x1 + x2) ** 2 - (y1 + y2) ** 2 - (z1 + z2) ** 2, 0.0))
    first_lighter = j1["mass"] <= j2["mass"]
    low = {k: np.where(first_lighter, j1[k], j2[k]) for k in j1}
    high = {k: np.where(first_lighter, j2[k], j1[k]) for k in j1}
    return pd.DataFrame({
        "mjj": mjj,
        "mj_low": low["mass"],
        "delta_mj": high["mass"] - low["mass"],
        "tau21_low": _ratio(low["tau2"], low["tau1"]),
        "tau21_high": _ratio(high["tau2"], high["tau1"]),
        "tau32_low": _ratio(low["tau3"], low["tau2"]),
        "tau32_high": _ratio(high["tau3"], high["tau2"]),
        "pt_low": low["pt"],
        "pt_high": high["pt"],
        "eta_low": low["eta"],
        "eta_high": high["eta"],
        "delta_eta_jj": np.abs(j1["eta"] - j2["eta"]),
    })


def check_finite(table: pd.DataFrame, source: str, columns: Sequence[str] = FEATURES) -> None:
    """Stop on NaN/inf in any of ``columns``, naming the column and how many rows."""
    for col in columns:
        bad = ~np.isfinite(table[col].to_numpy(dtype=np.float64))
        if bad.any():
            raise BumpfoldInputError(f"{source}: feature {col!r} has {int(bad.sum())} NaN/inf value(s)")
