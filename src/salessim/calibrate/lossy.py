"""What a CRM export format cannot show, detected in the data and said with what to do.

- HubSpot deal exports keep one ``hs_date_entered_<stage>`` and one ``hs_date_exited_<stage>``
  per stage. A deal that went back to an earlier stage and forward again leaves one span per
  stage that runs from its first entry to its last exit: the spans of such a deal overlap.
  In a faithful record a deal is in one stage at a time, so an overlap is the sign of a
  loop the export has folded away: the loop share comes out too low, the path read from the
  dates can skip stages it did not skip, and the revisited stage's time holds the time
  spent in the stages in between.
- A Salesforce OpportunityHistory without ``LeadSource`` (in it or in the joined Opportunity
  export) has no source: every deal falls in one source, so arrivals, deal values and the
  mix of sources are merged.
"""

from __future__ import annotations

import pandas as pd

#: Spans that overlap by less than this (days) are taken as one timestamp written twice.
TOLERANCE = 1 / 86400


def hubspot_warnings(raw: pd.DataFrame) -> list[str]:
    """The loops a HubSpot export folded away, from its overlapping stage spans.

    ``raw``: the reader's stage rows (``deal_id, stage, entered_at, exited_at``).
    """
    rows = raw.dropna(subset=["entered_at"]).sort_values(["deal_id", "entered_at"],
                                                         kind="stable")
    same = rows["deal_id"].eq(rows["deal_id"].shift(-1))
    overlap = (rows["exited_at"] - rows["entered_at"].shift(-1)).dt.total_seconds() / 86400
    hit = same & (overlap > TOLERANCE)
    deals = rows.loc[hit, "deal_id"].nunique()
    if deals == 0:
        return []
    total = rows["deal_id"].nunique()
    stages = rows.loc[hit, "stage"].value_counts()
    named = ", ".join(f"{s!r} ({n})" for s, n in stages.head(3).items())
    return [f"loops folded away: {deals} of {total} deals ({deals / total:.0%}) in this HubSpot "
            f"export were in two stages at once (a stage's last exit after the next stage's "
            f"entry, mean overlap {overlap[hit].mean():.3g} days; most in {named}): they "
            "went back to an earlier stage, and the export keeps only one entry and one exit "
            "date per stage. So the loops back are missing from the routing (too low), the "
            "path read from the dates may skip stages, and the overlapped stages' times "
            "include the stages visited in between (too long). Export the deal stage history "
            "(the dealstage property's history, one row per change) and calibrate that, or "
            "read the loop share as a lower bound and those stages' times as upper bounds"]


def source_warnings(columns: set[str], opp_columns: set[str] | None,
                    sources: pd.Series) -> list[str]:
    """A Salesforce export with no lead source: every deal in one source."""
    if ("LeadSource" in columns or "LeadSource" in (opp_columns or set())) and \
            sources.notna().any():
        return []
    where = ("the Opportunity export has no LeadSource either" if opp_columns is not None
             else "give the Opportunity export with --opportunities FILE (its LeadSource "
                  "column) to tell sources apart")
    return ["no lead source: this Salesforce export has no LeadSource, so every deal is one "
            "source and arrivals, deal values and routing merge all sources (a mix that "
            f"changes over time reads as drift); {where}"]
