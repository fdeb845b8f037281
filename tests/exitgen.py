"""Stage histories from a known process with age-dependent exits, written in numpy alone.

The process (the truth a calibration should recover; it does not use salessim's engine):

- Leads arrive on a day-level random rate: day d has ``rate x weekly[d] x G_d`` leads,
  ``G_d ~ gamma(shape, 1 / shape)`` (gamma-Poisson, over-dispersed daily counts), at
  uniform times of the day. Each has a value, lognormal (``value_median``, ``value_sigma``),
  rounded to 100.
- ``application``: competing exits. The latent time to ``offer`` is lognormal (fast), the
  latent time to ``lost`` is Weibull (slow); the first to come decides.
- ``offer``: competing exits (``validation`` lognormal, ``lost`` exponential) and a time-out:
  a deal still here ``timeout`` days after entering is lost at exactly that age. With
  ``offer_per_doubling`` != 1 the latent time to ``validation`` is divided by
  ``offer_per_doubling ** log2(value / reference)`` (the exits form's value odds) and, on
  the k-th visit (the loop from validation brings deals back), by ``offer_visit_odds[k]``
  (the exits form's visit odds).
- ``validation``: the current form: one time in the stage (gamma) and then a draw of the
  exit, ``won`` / ``lost`` (and ``offer``, a loop, when ``loop`` > 0). The odds of moving
  on (won or back to offer: both are forward by salessim's rule) are multiplied by
  ``per_doubling ** log2(value / reference)`` and, on the k-th visit, by ``visit_odds[k]``;
  each side keeps its shares (salessim.ends.shifted_forward's rule, re-derived here).
- The export is made at day ``days``: what is open then shows with an empty ``exited_at``.
  The process runs on for ``future`` more days without new leads entering the export, so
  the open deals' actual outcomes are known (:attr:`History.future`).

Time 0 is Monday 5 January 2026 (salessim's log epoch), so a scenario written from
:meth:`Truth.scenario` has the same weekdays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import integrate, stats

START = pd.Timestamp("2026-01-05")  # a Monday, time 0 of a salessim scenario
DAY = pd.Timedelta(days=1)
WEEKLY = np.array([1.25, 1.15, 1.1, 1.05, 1.0, 0.25, 0.2])
WEEKLY = WEEKLY * 7 / WEEKLY.sum()


def lognormal(mean: float, cv: float) -> dict:
    return {"dist": "lognormal", "mean": mean, "cv": cv}


def weibull(shape: float, scale: float) -> dict:
    return {"dist": "weibull", "shape": shape, "scale": scale}


def exponential(mean: float) -> dict:
    return {"dist": "exponential", "mean": mean}


def gamma(mean: float, cv: float) -> dict:
    return {"dist": "gamma", "mean": mean, "cv": cv}


def frozen(spec: dict):
    """A salessim distribution spec as a frozen scipy distribution (days)."""
    kind = spec["dist"]
    if kind == "exponential":
        return stats.expon(scale=spec["mean"])
    if kind == "weibull":
        return stats.weibull_min(spec["shape"], scale=spec["scale"])
    if kind == "lognormal":
        s2 = np.log1p(spec["cv"] ** 2)
        return stats.lognorm(np.sqrt(s2), scale=spec["mean"] * np.exp(-s2 / 2))
    if kind == "gamma":
        k = 1 / spec["cv"] ** 2
        return stats.gamma(k, scale=spec["mean"] / k)
    raise ValueError(f"no such family in the generator: {kind}")


@dataclass(frozen=True)
class Truth:
    """The known process: every parameter a calibration should recover."""

    rate: float = 20.0
    day_shape: float = 5.0
    weekly: tuple[float, ...] = tuple(WEEKLY)
    value_median: float = 12000.0
    value_sigma: float = 0.9
    app_offer: dict = field(default_factory=lambda: lognormal(1.0, 2.0))
    app_lost: dict = field(default_factory=lambda: weibull(0.7, 6.0))
    offer_on: dict = field(default_factory=lambda: lognormal(14.0, 1.2))
    offer_lost: dict = field(default_factory=lambda: exponential(60.0))
    timeout: float = 30.0
    validation_time: dict = field(default_factory=lambda: gamma(3.0, 0.8))
    won: float = 0.55
    loop: float = 0.0
    reference: float = 15000.0
    per_doubling: float = 1.6
    visit_odds: tuple[float, ...] | None = None
    offer_per_doubling: float = 1.0
    offer_visit_odds: tuple[float, ...] | None = None

    def factor(self, value: float, per_doubling: float) -> float:
        """The value factor r = per_doubling ** log2(value / reference) (value >= 1)."""
        return float(per_doubling ** np.log2(max(value, 1.0) / self.reference))

    @property
    def value_mean(self) -> float:
        return self.value_median * float(np.exp(self.value_sigma ** 2 / 2))

    def exits(self) -> dict[str, dict[str, dict]]:
        """Each competing-exits stage: exit -> its latent time's spec."""
        return {"application": {"offer": self.app_offer, "lost": self.app_lost},
                "offer": {"validation": self.offer_on, "lost": self.offer_lost}}

    def timeouts(self) -> dict[str, tuple[float, str]]:
        return {"offer": (self.timeout, "lost")}

    def shares(self) -> dict[str, float]:
        """Validation's exit shares at factor 1 (the reference value, a first visit)."""
        return {"won": self.won, "lost": 1 - self.won - self.loop,
                **({"offer": self.loop} if self.loop else {})}

    def p_on(self, value: np.ndarray | float, visit: int = 1) -> np.ndarray:
        """Validation's chance of moving on (won or the loop) for a deal of ``value`` on
        its ``visit``-th visit: the odds times the value and visit factors."""
        p = self.won + self.loop
        factor = self.per_doubling ** np.log2(np.maximum(value, 1.0) / self.reference)
        if self.visit_odds:
            factor = factor * self.visit_odds[min(visit, len(self.visit_odds)) - 1]
        return factor * p / (1 - p + factor * p)

    def cif(self, stage: str, cause: str, t: np.ndarray | float) -> np.ndarray:
        """The true cumulative incidence of ``cause`` in a competing-exits ``stage`` at ages
        ``t``: the chance of having left by ``cause`` by then (time-out included)."""
        exits = {k: frozen(v) for k, v in self.exits()[stage].items()}
        after, to = self.timeouts().get(stage, (np.inf, None))
        others = [d for k, d in exits.items() if k != cause]

        def density(s):
            return exits[cause].pdf(s) * np.prod([d.sf(s) for d in others])

        out = []
        for x in np.atleast_1d(np.asarray(t, float)):
            v = integrate.quad(density, 0, min(x, after), limit=200)[0]
            if cause == to and x >= after:
                v += np.prod([d.sf(after) for d in exits.values()])
            out.append(v)
        return np.array(out)

    def scenario(self, horizon: float = 365.0) -> dict:
        """The process as a salessim scenario (the exits contract of issue 22), a dict."""
        weekly = [round(float(w), 6) for w in self.weekly]
        s2 = self.value_sigma ** 2
        validation = {"delay": self.validation_time, "next": self.shares(),
                      "value_odds": {"reference": self.reference,
                                     "per_doubling": self.per_doubling}}
        if self.visit_odds:
            validation["visit_odds"] = list(self.visit_odds)
        return {
            "name": "exit generator truth", "time_unit": "day", "horizon": horizon,
            "warmup": 0, "replications": 1,
            "sources": {"web": {
                "rate": self.rate,
                "deal_value": {"dist": "lognormal", "mean": self.value_mean,
                               "cv": float(np.sqrt(np.expm1(s2)))},
                "profile": {"weekly": weekly, "day_effect": {"shape": self.day_shape}}}},
            "entry": "application",
            "stages": {
                "application": {"exits": {k: {"time": v} for k, v in
                                          self.exits()["application"].items()}},
                "offer": {"exits": {k: {"time": v} for k, v in self.exits()["offer"].items()},
                          "timeout": {"after": f"{self.timeout:g} days", "to": "lost"},
                          **({"value_odds": {"reference": self.reference,
                                             "per_doubling": self.offer_per_doubling}}
                             if self.offer_per_doubling != 1.0 else {}),
                          **({"visit_odds": list(self.offer_visit_odds)}
                             if self.offer_visit_odds else {})},
                "validation": validation,
            },
        }


@dataclass(frozen=True)
class History:
    """One generated export and what happened after it.

    Attributes:
        frame: the stage history as the export shows it at ``as_of`` (the ``history``
            format of ``salessim calibrate``: one row per visit, open visits blank).
        future: every visit of the same deals up to ``as_of + future`` days, unexported
            (the open deals' actual outcomes), same columns, times as Timestamps.
        truth: the process's parameters.
        as_of: the export date.
        daily: leads created per day up to ``as_of`` (the realised counts).
        timed_out: visits that ended by the time-out (in ``future``).
    """

    frame: pd.DataFrame
    future: pd.DataFrame
    truth: Truth
    as_of: pd.Timestamp
    daily: np.ndarray
    timed_out: int

    def write(self, path: str | Path) -> Path:
        """The export as a CSV file (what ``salessim calibrate`` reads)."""
        path = Path(path)
        self.frame.to_csv(path, index=False)
        return path

    def bookings(self, start: pd.Timestamp, end: pd.Timestamp, open_only: bool = True
                 ) -> float:
        """Actual won amount with the win in [start, end); by default only from deals open
        at the export date (the bookings a forecast from the open pipeline predicts)."""
        f = self.future
        won = f[(f["next_stage"] == "won") & (f["exited_at"] >= start) & (f["exited_at"] < end)]
        if open_only:
            won = won[won["deal_id"].isin(self.open_ids())]
        return float(won["amount"].sum())

    def open_ids(self) -> set[str]:
        """Deals open at the export date."""
        return set(self.frame.loc[self.frame["exited_at"] == "", "deal_id"])


def generate(seed: int = 1, days: int = 240, future: int = 120, truth: Truth | None = None
             ) -> History:
    """One export of ``days`` days of the process (same seed, same history)."""
    truth = truth or Truth()
    rng = np.random.default_rng(seed)
    as_of = START + days * DAY
    end = days + future
    rows: list[tuple] = []
    daily = np.zeros(days, int)
    timed_out = 0
    n = 0
    for d in range(days):
        count = rng.poisson(truth.rate * truth.weekly[d % 7] * rng.gamma(truth.day_shape,
                                                                         1 / truth.day_shape))
        daily[d] = count
        for t0 in np.sort(d + rng.random(count)):
            n += 1
            value = float(max(round(rng.lognormal(np.log(truth.value_median),
                                                  truth.value_sigma) / 100) * 100, 100))
            deal = f"D{n:06d}"
            timed_out += _walk(rng, truth, deal, float(t0), value, end, rows)
    future_frame = pd.DataFrame(rows, columns=["deal_id", "stage", "entered", "exited",
                                               "next_stage", "amount", "created"])
    return History(_export(future_frame, days), _stamped(future_frame), truth, as_of, daily,
                   timed_out)


def _draw(rng: np.random.Generator, spec: dict) -> float:
    kind = spec["dist"]
    if kind == "exponential":
        return rng.exponential(spec["mean"])
    if kind == "weibull":
        return spec["scale"] * rng.weibull(spec["shape"])
    if kind == "lognormal":
        s2 = np.log1p(spec["cv"] ** 2)
        return rng.lognormal(np.log(spec["mean"]) - s2 / 2, np.sqrt(s2))
    k = 1 / spec["cv"] ** 2
    return rng.gamma(k, spec["mean"] / k)


def _walk(rng, truth: Truth, deal: str, t: float, value: float, end: float, rows: list
          ) -> int:
    """One deal's visits from ``t`` until it ends or the process stops at ``end``.
    Returns 1 when a visit ended by the time-out."""
    stage, visits, created, timed = "application", {}, t, 0
    exits, timeouts = truth.exits(), truth.timeouts()
    while stage not in ("won", "lost") and t < end:
        visits[stage] = visits.get(stage, 0) + 1
        if stage in exits:
            latent = {k: _draw(rng, spec) for k, spec in exits[stage].items()}
            if stage == "offer" and truth.offer_per_doubling != 1.0:
                # The forward exit's latent time divided by the value factor (accelerated).
                latent["validation"] /= truth.factor(value, truth.offer_per_doubling)
            if stage == "offer" and truth.offer_visit_odds:
                odds = truth.offer_visit_odds
                latent["validation"] /= odds[min(visits[stage], len(odds)) - 1]
            nxt = min(latent, key=latent.get)
            stay = latent[nxt]
            after, to = timeouts.get(stage, (np.inf, None))
            if stay > after:
                nxt, stay, timed = to, after, timed + (t + after < end)
        else:
            stay = _draw(rng, truth.validation_time)
            p_on = float(truth.p_on(value, visits[stage]))
            base_on = truth.won + truth.loop
            u = rng.random()
            if u < p_on:  # forward: won or the loop, in their shares
                nxt = "won" if u < p_on * truth.won / base_on else "offer"
            else:
                nxt = "lost"
        leave = t + stay
        rows.append((deal, stage, t, leave if leave < end else np.nan,
                     nxt if leave < end else None, value, created))
        stage, t = nxt, leave
    return timed


def _stamped(f: pd.DataFrame) -> pd.DataFrame:
    out = f[["deal_id", "stage"]].copy()
    out["entered_at"] = START + pd.to_timedelta(f["entered"], unit="D").dt.round("s")
    out["exited_at"] = START + pd.to_timedelta(f["exited"], unit="D").dt.round("s")
    out["next_stage"] = f["next_stage"]
    out["amount"] = f["amount"]
    out["created_at"] = START + pd.to_timedelta(f["created"], unit="D").dt.round("s")
    return out


def _export(f: pd.DataFrame, days: float) -> pd.DataFrame:
    """The stage history as seen at day ``days``: later visits gone, later exits blank."""
    f = f[f["entered"] <= days].copy()
    late = ~(f["exited"] <= days)
    f.loc[late, "exited"] = np.nan
    f.loc[late, "next_stage"] = None
    s = _stamped(f)

    def iso(col: pd.Series) -> pd.Series:
        return col.dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")

    return pd.DataFrame({"deal_id": s["deal_id"], "stage": s["stage"],
                         "entered_at": iso(s["entered_at"]), "exited_at": iso(s["exited_at"]),
                         "next_stage": s["next_stage"].fillna(""), "source": "web",
                         "amount": s["amount"].map(lambda a: f"{a:.0f}"),
                         "created_at": iso(s["created_at"])}).reset_index(drop=True)
