"""Histories of the known process with one change half-way (for the drift tests).

The process is tests/forecast_histories.py's truth at its original rates (examples/crm/
truth.yaml: 6 and 1.5 leads a day), run from an empty pipeline; the change is made in the
export afterwards, at a known date, so its size is known exactly.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from tests.forecast_histories import TRUTH, history

from salessim.calibrate.visits import DAY, Visits
from salessim.scenario import load_scenario


def stable(days: float, seed: int) -> Visits:
    """One history of truth.yaml as it is (no change)."""
    return history(load_scenario(TRUTH), days, seed)


def halve_wins(visits: Visits, at: pd.Timestamp, seed: int) -> Visits:
    """Every exit to won after ``at`` becomes lost with chance 1/2: the win share halves."""
    rng = np.random.default_rng(seed)
    v, d = visits.visits.copy(), visits.deals.copy()
    won = (v["next_stage"].map(visits.target) == "won") & (v["exited_at"] > at)
    flip = won & (rng.random(len(v)) < 0.5)
    lost_name = next(k for k, t in visits.ends.items() if t == "lost")
    v.loc[flip, "next_stage"] = lost_name
    d.loc[d["deal_id"].isin(v.loc[flip, "deal_id"]), "outcome"] = "lost"
    return replace(visits, visits=v, deals=d)


def slow_stage(visits: Visits, stage: str, at: pd.Timestamp) -> Visits:
    """Visits of ``stage`` entered after ``at`` last twice as long; the deal's later visits
    move by the extra time, and what then falls after the export date is open or unseen."""
    v, d = visits.visits.copy(), visits.deals.copy()
    hit = (v["stage"] == stage) & (v["entered_at"] > at)
    extra = ((v["exited_at"].fillna(visits.as_of) - v["entered_at"]).where(hit))
    shift = pd.Series(pd.Timedelta(0), index=v.index)
    for i in v.index[hit]:
        later = (v["deal_id"] == v.at[i, "deal_id"]) & (v.index > i)
        shift[later] += extra[i]
    v["entered_at"] += shift
    v["exited_at"] = v["exited_at"] + shift + extra.fillna(pd.Timedelta(0))
    v = v[v["entered_at"] <= visits.as_of].copy()
    late = v["exited_at"] > visits.as_of
    v.loc[late, "exited_at"] = pd.NaT
    v.loc[late, "next_stage"] = pd.NA
    ended = v.dropna(subset=["exited_at"]).groupby("deal_id")["exited_at"].max()
    still = ~d["deal_id"].isin(v.loc[v["exited_at"].notna() & v["next_stage"].map(
        visits.target).isin(["won", "lost"]), "deal_id"])
    d.loc[still, ["outcome"]] = pd.NA
    d.loc[still, "closed_at"] = pd.NaT
    d.loc[~still, "closed_at"] = d.loc[~still, "deal_id"].map(ended)
    assert (v["exited_at"].isna() | (v["exited_at"] >= v["entered_at"])).all()
    return replace(visits, visits=v.reset_index(drop=True), deals=d)


__all__ = ["DAY", "halve_wins", "slow_stage", "stable"]
