"""``salessim forecast --backtest HISTORY``: score forecasts from as-of dates through a
history against what then happened (a thin shell over :mod:`salessim.forecast.backtest`).
"""

from __future__ import annotations

import argparse
import math
import numbers
import sys
from pathlib import Path
from typing import Any

from salessim.commands import writes_out
from salessim.commands.forecast import DEFAULT_REPLICATIONS, _check_options
from salessim.errors import UsageError


@writes_out("forecast")
def _backtest(args: argparse.Namespace) -> int:
    from salessim.console import progress_bar
    from salessim.experiments.executors import make_executor, ordered_map
    from salessim.forecast.backtest import run_backtest
    from salessim.runrecord import write_record

    every, horizon = args.spans["every"], args.spans["horizon"]
    n = args.replications or DEFAULT_REPLICATIONS
    seed = 1 if args.seed is None else args.seed
    resamples = 0
    if args.parameter_uncertainty:
        from salessim.forecast.bootstrap import DEFAULT_RESAMPLES, check_resamples

        resamples = check_resamples(DEFAULT_RESAMPLES if args.resamples is None else
                                    args.resamples, n)
    with progress_bar(None, "back-test") as bar, make_executor(args.workers) as executor:
        result = run_backtest(args.backtest, every, horizon, n, seed,
                              mapper=ordered_map(executor), progress=lambda _: bar.update(),
                              resamples=resamples, visits=_history_visits(args))
    scores = _plain(result.summary())
    print(f"back-test of {args.backtest}: forecasts every {every:g} days for {horizon:g} days, "
          f"{n} replications each; band: {scores['band']}")
    print(backtest_text(result.table(), scores))
    written = [p.name for p in result.write(args.out)]
    args.record.seed, args.record.replications = seed, n
    args.record.details.update({"backtest": str(args.backtest), "every_days": every,
                                "horizon_days": horizon, "summary": scores})
    write_record(args.out, args.record, written)
    print(f"wrote {args.final_out}/")
    return 0


def backtest_text(table, scores: dict[str, Any]) -> str:
    """The back-test for a reader: each window beside what happened, then the scores."""
    from salessim.console import format_number as f

    lines = [f"  {'as of':<10}  {'until':<10}  {'open':>5}  {'actual':>12}  {'P10':>12}  "
             f"{'P50':>12}  {'P90':>12}  {'weighted':>12}  in band"]
    for w in table.itertuples(index=False):
        lines.append(f"  {w.as_of:%Y-%m-%d}  {w.until:%Y-%m-%d}  {w.open_deals:>5}  "
                     f"{f(w.actual):>12}  {f(w.p10):>12}  {f(w.p50):>12}  {f(w.p90):>12}  "
                     f"{f(w.weighted):>12}  {'yes' if w.inside else 'no'}")
    k, m = scores["inside"], scores["forecasts"]
    lines += [
        f"P10-P90 band: held the actual bookings in {k:g} of {m:g} windows "
        f"({scores['coverage']:.0%}, 95% CI {scores['coverage_low']:.0%} to "
        f"{scores['coverage_high']:.0%}; a right band holds about 80%)",
        f"P50: mean absolute error {f(scores['p50_mae'])} ({scores['p50_mape']:.0%}), CRPS "
        f"{f(scores['crps_mean'])}; weighted pipeline: {f(scores['weighted_mae'])} "
        f"({scores['weighted_mape']:.0%}), CRPS {f(scores['crps_weighted_mean'])}",
    ]
    if "coverage_plain" in scores:
        lines.append(f"without the bootstrap (parameters as calibrated, the same random "
                     f"numbers): {scores['inside_plain']:g} of {m:g} "
                     f"({scores['coverage_plain']:.0%}, 95% CI "
                     f"{scores['coverage_plain_low']:.0%} to {scores['coverage_plain_high']:.0%})")
    if scores.get("overlapping"):
        lines.append("the windows overlap (--every shorter than --horizon): the forecasts "
                     "are not independent and the intervals above are too narrow")
    return "\n".join(lines)


def _plain(scores: dict, prefix: str = "") -> dict[str, Any]:
    """The back-test's headline scores as one flat map of plain numbers (for the terminal
    and the run record): nested maps become ``outer.inner`` names."""
    flat: dict[str, Any] = {}
    for key, value in scores.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_plain(value, f"{name}."))
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            flat[name] = float(value)  # numpy scalars too: the record is JSON
        else:
            flat[name] = value
    return flat


def _history_visits(args: argparse.Namespace):
    """The history read with its stage map (``--stages``), or None to let the back-test
    read it."""
    if getattr(args, "stages", None) is None:
        return None
    from salessim.calibrate.pipeline import read_visits

    return read_visits(args.backtest, stages=args.stages)


def cmd_backtest(args: argparse.Namespace) -> int:
    """``forecast --backtest HISTORY``: check the options, then run the back-test."""
    from salessim.scenario.units import parse_duration

    _check_options(args)
    for option, given in (("--pipeline", args.pipeline), ("--until", args.until),
                          ("--as-of", args.as_of), ("--quota", args.quota),
                          ("--booked", args.booked), ("--redesign", args.redesign or None),
                          ("--history", args.history),
                          ("--set", args.set or None)):
        if given is not None:
            raise UsageError(f"{option} does not apply to --backtest, which forecasts from "
                             "each as-of date of the history")
    if not Path(args.backtest).is_file():
        raise UsageError(f"--backtest {args.backtest}: no such file")
    spans = {}
    for option in ("every", "horizon"):
        text = getattr(args, option)
        if text is None:
            raise UsageError(f"--backtest needs --{option}, e.g. --{option} '30 days'")
        try:
            spans[option] = parse_duration(text, "day")
        except ValueError as exc:
            raise UsageError(f"--{option}: {exc}") from None
        if not math.isfinite(spans[option]) or spans[option] <= 0:
            raise UsageError(f"--{option} must be a positive time, got {text!r}")
    if args.scenario is not None:
        print(f"note: {args.scenario} is not used: --backtest calibrates a scenario from the "
              "history at each as-of date", file=sys.stderr)
    args.spans = spans
    return _backtest(args)
