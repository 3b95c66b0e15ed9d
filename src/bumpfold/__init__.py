"""bumpfold: model-agnostic resonant anomaly search and ML unfolding for dijet data."""

from __future__ import annotations

__version__ = "0.1.0"
