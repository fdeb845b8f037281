"""Generate the sample CRM exports from the known process in truth.yaml.

Simulates one replication of truth.yaml, exports it as a CRM would at its last day (visits
still open then have no exit), renames the stages as a CRM names them, and gives each deal
an owner and an amount (lognormal per source). Run from the repository root:

    python examples/crm/make_sample.py           # stage_history.csv: 180 days, seed 2026
    python examples/crm/make_sample.py --long    # long_history.csv: 540 days, seed 2027

The first is the sample the README calibrates and forecasts from; the second, eighteen
months of the same process from other random numbers, is long enough for a back-test of
several windows (``salessim forecast --backtest examples/crm/long_history.csv --every
"30 days" --horizon "90 days"``; docs/forecast.md quotes its coverage). Neither is a real
log. The same seed and length give the same file, byte for byte.
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
#: The long history: its length in days and its seed (other random numbers than the sample's).
LONG_DAYS, LONG_SEED = 540.0, 2027


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
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true",
                        help=f"write long_history.csv: {LONG_DAYS:g} days, seed {LONG_SEED}")
    args = parser.parse_args()
    out = HERE / ("long_history.csv" if args.long else "stage_history.csv")
    frame = sample(LONG_DAYS, LONG_SEED) if args.long else sample()
    frame.to_csv(out, index=False)
    print(f"wrote {out}: {frame['deal_id'].nunique():,} deals, {len(frame):,} stage visits")
