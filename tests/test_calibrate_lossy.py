"""Lossy export formats warn, on exports made from a known process (the loop is known).

The history is tests/forecast_histories.py's process (negotiation sends 10% of its exits
back to discovery), written out as a HubSpot deals export (one first entry and one last
exit per stage, as HubSpot keeps them) and as a Salesforce OpportunityHistory.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.forecast_histories import history, truth

from salessim.calibrate.pipeline import read_visits
from salessim.calibrate.visits import Visits

END_NAMES = {"won": "closedwon", "lost": "closedlost"}


@pytest.fixture(scope="module")
def visits() -> Visits:
    return history(truth(), 150, 4)


def loop_deals(visits: Visits) -> set[str]:
    """Deals that visited a stage twice (went back and forward again)."""
    v = visits.visits
    return set(v.loc[v.duplicated(["deal_id", "stage"]), "deal_id"])


def to_hubspot(visits: Visits, path: Path, drop: set[str] = frozenset()) -> Path:
    """A HubSpot deals export: per deal and stage, the first entry and the last exit."""
    v = visits.visits[~visits.visits["deal_id"].isin(drop)]
    spans = v.groupby(["deal_id", "stage"]).agg(entered=("entered_at", "min"),
                                               exited=("exited_at", "max")).reset_index()
    rows = []
    for deal, group in spans.groupby("deal_id"):
        d = visits.deals.set_index("deal_id").loc[deal]
        row = {"hs_object_id": deal, "amount": round(float(d["amount"]), 2),
               "source": d["source"], "createdate": f"{d['created_at']:%Y-%m-%dT%H:%M:%S}"}
        for r in group.itertuples():
            row[f"hs_date_entered_{r.stage}"] = f"{r.entered:%Y-%m-%dT%H:%M:%S}"
            if pd.notna(r.exited):
                row[f"hs_date_exited_{r.stage}"] = f"{r.exited:%Y-%m-%dT%H:%M:%S}"
        last = group.sort_values("entered")["stage"].iloc[-1]
        if pd.notna(d["outcome"]):
            last = END_NAMES[d["outcome"]]
            row[f"hs_date_entered_{last}"] = f"{d['closed_at']:%Y-%m-%dT%H:%M:%S}"
        row["dealstage"] = last
        rows.append(row)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def to_salesforce(visits: Visits, path: Path) -> Path:
    """An OpportunityHistory: one row per stage change (no LeadSource in it)."""
    v = visits.visits
    rows = [{"OpportunityId": r.deal_id, "StageName": r.stage, "Amount": round(r.amount, 2),
             "CreatedDate": f"{r.entered_at:%Y-%m-%dT%H:%M:%S}"} for r in v.itertuples()]
    names = {"won": "Closed Won", "lost": "Closed Lost"}
    for d in visits.deals.dropna(subset=["outcome"]).itertuples():
        rows.append({"OpportunityId": d.deal_id, "StageName": names[d.outcome],
                     "Amount": round(d.amount, 2),
                     "CreatedDate": f"{d.closed_at:%Y-%m-%dT%H:%M:%S}"})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_hubspot_export_says_it_folded_the_loops_away(visits, tmp_path):
    loops = loop_deals(visits)
    assert loops  # the known process loops
    read = read_visits(to_hubspot(visits, tmp_path / "deals.csv"), fmt="hubspot")
    found = [w for w in read.warnings if w.startswith("loops folded away")]
    # Every deal that looped, and only those, has two stage spans that overlap.
    assert len(found) == 1
    assert found[0].startswith(f"loops folded away: {len(loops)} of {len(visits.deals)} deals")
    assert "Export the deal stage history" in found[0]
    # The loop is gone from what the reader sees: no deal visits a stage twice.
    assert not loop_deals(read)


def test_a_hubspot_export_without_loops_has_no_such_warning(visits, tmp_path):
    path = to_hubspot(visits, tmp_path / "deals.csv", drop=loop_deals(visits))
    read = read_visits(path, fmt="hubspot")
    assert not [w for w in read.warnings if w.startswith("loops folded away")]


def test_a_salesforce_export_without_lead_source_says_sources_merge(visits, tmp_path):
    path = to_salesforce(visits, tmp_path / "history.csv")
    read = read_visits(path, fmt="salesforce")
    assert any(w.startswith("no lead source: this Salesforce export has no LeadSource")
               and "--opportunities FILE" in w for w in read.warnings)
    opp = visits.deals.rename(columns={"deal_id": "Id", "source": "LeadSource"})[
        ["Id", "LeadSource"]]
    opp.to_csv(tmp_path / "opp.csv", index=False)
    read = read_visits(path, fmt="salesforce", opportunities=tmp_path / "opp.csv")
    assert not [w for w in read.warnings if w.startswith("no lead source")]
    assert set(read.deals["source"]) == {"web", "partner"}
