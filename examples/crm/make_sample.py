"""Generate the sample CRM export from the known process in truth.yaml.

Simulates one replication of truth.yaml, exports it as a CRM would at day 180 (visits
still open then have no exit), renames the stages as a CRM names them, and gives each deal
an owner and an amount (lognormal per source). Run from the repository root:

    python examples/crm/make_sample.py

It writes examples/crm/stage_history.csv; the same seed gives the same file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from salessim import engine
from salessim.calibrate.readers import eventlog_rows
from salessim.calibrate.visits import build_visits, to_history
from salessim.records import LOG_EPOCH
from salessim.rng import RandomStreams
from salessim.scenario import load_scenario

HERE = Path(__file__).parent
NAMES = {"qualify": "Qualify", "discovery": "Discovery", "demo": "Demo",
         "proposal": "Proposal", "negotiation": "Negotiation", "won": "Closed Won",
         "lost": "Closed Lost"}
SOURCES = {"web": "Web", "partner": "Partner"}
VALUES = {"web": (18000.0, 0.9), "partner": (45000.0, 0.6)}  # lognormal mean and cv
OWNERS = ["ana", "ben", "chloe", "dev", "eli", "fay"]
SEED = 2026


def sample(days: float = 180.0, seed: int = SEED, scenario=None) -> pd.DataFrame:
    """The sample stage history: ``days`` of the truth process exported at its end."""
    scenario = scenario or load_scenario(HERE / "truth.yaml")
    scenario = scenario.model_copy(update={"horizon": days})
    log = engine.run(scenario, replications=1, seed=seed, event_log=True).event_log()
    raw = eventlog_rows(log.assign(row=np.arange(2, len(log) + 2)), "simulation")
    as_of = pd.Timestamp(LOG_EPOCH) + pd.Timedelta(days=days)
    visits = build_visits(raw, "simulation", as_of=as_of)
    history = to_history(visits, NAMES)
    streams = RandomStreams(seed, 0)
    deals = visits.deals.set_index("deal_id")
    amounts, owners = {}, {}
    for source, (mean, cv) in VALUES.items():
        ids = deals.index[deals["source"] == source]
        s2 = math.log1p(cv * cv)
        draws = streams.generator(f"amount:{source}").lognormal(
            math.log(mean) - s2 / 2, math.sqrt(s2), len(ids))
        amounts.update(zip(ids, np.round(draws, 2), strict=True))
        picks = streams.generator(f"owner:{source}").integers(len(OWNERS), size=len(ids))
        owners.update(zip(ids, (OWNERS[i] for i in picks), strict=True))
    history["amount"] = history["deal_id"].map(amounts)
    history["owner"] = history["deal_id"].map(owners)
    history["source"] = history["source"].map(SOURCES)
    history["deal_id"] = "D-" + history["deal_id"].str.replace("-", "", regex=False)
    for column in ("entered_at", "exited_at", "created_at"):
        history[column] = history[column].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return history


if __name__ == "__main__":
    out = HERE / "stage_history.csv"
    sample().to_csv(out, index=False)
    print(f"wrote {out}")
