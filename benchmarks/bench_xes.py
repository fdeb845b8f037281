"""Speed of ``salessim calibrate`` on a large XES event log (about 13,000 cases).

The log is generated, not shipped: the credit-application process of tests/loggen.py
(system milestones, staff work items with schedule / start / complete, office-hour
calendars, a back-office queue, a time-out, over-dispersed arrivals, an extraction cut)
at ``--rate`` applications a day for ``--days`` days, written as gzipped XES. The figures,
each the best of ``--repeat`` runs:

- reading the XES (streamed) into the events table;
- the whole calibration from the file: reading, pairing life cycles, stage visits,
  estimates, staff and calendars, scenario and calibration.json (no back-test, no report).

Run ``python benchmarks/bench_xes.py --help``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import loggen  # noqa: E402

from salessim.calibrate.pipeline import calibrate_file  # noqa: E402
from salessim.calibrate.xes import read_xes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=87.0, help="applications a day")
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    scale = args.rate / loggen.RATE
    log = loggen.generate(seed=3, days=args.days, rate=args.rate,
                          front=round(loggen.FRONT * scale), back=round(loggen.BACK * scale) + 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = loggen.write_xes(log, Path(tmp) / "log.xes.gz")
        stages = Path(tmp) / "stages.yaml"
        stages.write_text(loggen.STAGE_MAP, encoding="utf-8")
        size = path.stat().st_size / 1e6
        print(f"log: {len(log.events):,} events, {len(log.amounts):,} cases, "
              f"{size:.1f} MB gzipped")
        best_read = best_all = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            read_xes(path)
            best_read = min(best_read, time.perf_counter() - t)
            t = time.perf_counter()
            calibrate_file(path, stages=stages, run_backtest=False, report=False)
            best_all = min(best_all, time.perf_counter() - t)
        print(f"read XES:              {best_read:6.1f} s")
        print(f"read + calibrate:      {best_all:6.1f} s")


if __name__ == "__main__":
    main()
