"""Stage histories from a known process, for the forecast's back-tests.

The process is the sample CRM's (examples/crm/truth.yaml: five customer-side stages, a
loop back from negotiation to discovery, a weekday shape on web leads, no staff), scaled
down to fewer leads a day so a forecast runs in a fraction of a second, with a lognormal
deal value per source as in examples/crm/make_sample.py. Each history is one replication
of it from an empty pipeline, read back as an export at its end (its deal ids, stages and
sources are the scenario's own, so the scenario itself can forecast from it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from salessim import engine
from salessim.calibrate.readers import eventlog_rows
from salessim.calibrate.visits import Visits, build_visits
from salessim.records import LOG_EPOCH
from salessim.scenario import Scenario, load_scenario

TRUTH = Path(__file__).resolve().parents[1] / "examples" / "crm" / "truth.yaml"
#: Leads a day per source (truth.yaml has 6 and 1.5) and deal values (lognormal mean, cv).
RATES = {"web": 1.6, "partner": 0.4}
VALUES = {"web": (18000.0, 0.9), "partner": (45000.0, 0.6)}


def truth(day_effect: float | None = None) -> Scenario:
    """The known process: truth.yaml at :data:`RATES`, with :data:`VALUES`; with
    ``day_effect`` k, every source's daily rate is multiplied by a gamma(k, 1 / k) level
    drawn afresh each day (daily counts gamma-Poisson, variance m + m^2 / k)."""
    sets = []
    for sid, rate in RATES.items():
        mean, cv = VALUES[sid]
        sets += [f"sources.{sid}.rate={rate}",
                 f"sources.{sid}.deal_value={{dist: lognormal, mean: {mean}, cv: {cv}}}"]
        if day_effect is not None:
            sets.append(f"sources.{sid}.profile.day_effect={{shape: {day_effect}}}")
    return load_scenario(TRUTH, sets)


def history(scenario: Scenario, days: float, seed: int) -> Visits:
    """One replication of ``scenario`` over ``days``, as an export made at its end.

    Each deal's amount is its simulated deal value, so the amounts won in a window are
    the bookings a forecast from the same process predicts.
    """
    run = engine.run(scenario.model_copy(update={"horizon": float(days), "warmup": 0.0}),
                     replications=1, seed=seed, event_log=True)
    log = run.event_log()
    value = run.replications[0].log.cases().set_index("case:concept:name")["deal_value"]
    log["amount"] = log["case:concept:name"].map(value)
    raw = eventlog_rows(log.assign(row=np.arange(2, len(log) + 2)), "<simulation>")
    return build_visits(raw, "<simulation>",
                        as_of=pd.Timestamp(LOG_EPOCH) + pd.Timedelta(days=days))
