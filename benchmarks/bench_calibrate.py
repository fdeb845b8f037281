"""Speed of ``salessim calibrate`` on a large export: 100,000 deals through 6 stages.

The export is generated, not shipped: one replication of a known six-stage process with a
loop back (pure customer-side delays, two sources, one with a weekday shape) over a year,
exported at its end as a stage history CSV (examples/crm/make_sample.py does the same for
the small sample). Then three figures are printed, each the best of ``--repeat`` runs:

- reading the CSV into the visits table;
- estimating everything (arrivals, routing, censored fits of four families per stage,
  values, staff) and writing scenario.yaml and calibration.json;
- the report with its figures.

The back-test (simulating the export again, replication by replication) is timed apart
with ``--backtest N`` replications, since its cost is that of the simulation.

Run ``python benchmarks/bench_calibrate.py --help``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "crm"))

SCENARIO = """
name: six stages, 100,000 deals a year
time_unit: day
horizon: 365
seed: 7
sources:
  web:
    rate: {web}
    profile: {{weekly: [1.25, 1.25, 1.25, 1.25, 1.25, 0.375, 0.375]}}
  partner: {{rate: {partner}}}
entry: qualify
stages:
  qualify: {{delay: {{dist: exponential, mean: 2}}, next: {{discovery: 0.5, lost: 0.5}}}}
  discovery: {{delay: {{dist: lognormal, mean: 6, cv: 1.0}}, next: {{demo: 0.7, lost: 0.3}}}}
  demo: {{delay: {{dist: gamma, mean: 5, cv: 0.6}}, next: {{proposal: 0.75, lost: 0.25}}}}
  proposal: {{delay: {{dist: lognormal, mean: 10, cv: 0.8}}, next: {{negotiation: 0.8, lost: 0.2}}}}
  negotiation:
    delay: {{dist: gamma, mean: 8, cv: 0.5}}
    next: {{close: 0.7, discovery: 0.1, lost: 0.2}}
  close: {{delay: {{dist: weibull, shape: 1.5, scale: 4}}, next: {{won: 0.85, lost: 0.15}}}}
"""


def best(repeat: int, fn):
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=100_000, help="deals in the export")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs; the best counts")
    parser.add_argument("--backtest", type=int, default=0, metavar="N",
                        help="also time a back-test with N replications")
    args = parser.parse_args()

    import make_sample

    from salessim.calibrate.pipeline import calibrate_visits, read_visits
    from salessim.calibrate.report import build_report
    from salessim.scenario import load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rate = args.deals / 365
        (tmp / "truth.yaml").write_text(SCENARIO.format(web=f"{0.8 * rate:.4f}",
                                                        partner=f"{0.2 * rate:.4f}"))
        started = time.perf_counter()
        names = {**make_sample.NAMES, "close": "Close"}
        make_sample.NAMES.update(names)
        history = make_sample.sample(365.0, 7, load_scenario(tmp / "truth.yaml"))
        export = tmp / "history.csv"
        history.to_csv(export, index=False)
        print(f"generated {history['deal_id'].nunique():,} deals, {len(history):,} stage "
              f"visits in {time.perf_counter() - started:.1f} s")

        read_s, visits = best(args.repeat, lambda: read_visits(export))

        def estimate():
            result = calibrate_visits(visits, str(export), run_backtest=False, report=False)
            result.write(tmp / "out")
            return result

        fit_s, result = best(args.repeat, estimate)
        report_s, _ = best(1, lambda: build_report(result, str(export)))
        print(f"read and build visits: {read_s:6.1f} s")
        print(f"estimate and write:    {fit_s:6.1f} s")
        print(f"report and figures:    {report_s:6.1f} s")
        print(f"calibrate in total:    {read_s + fit_s + report_s:6.1f} s "
              f"(target: under 30 s on 2 cores)")
        if args.backtest:
            from salessim.calibrate.backtest import backtest

            bt_s, _ = best(1, lambda: backtest(visits, result.scenario, args.backtest))
            print(f"back-test, {args.backtest} replications: {bt_s:6.1f} s")


if __name__ == "__main__":
    main()
