"""Time to first estimate and the what-if slider's round trip in salessim studio.

Starts ``salessim studio`` over a copy of ``scenarios/b2b_baseline.yaml`` (as a user
would, in its own process), drives headless Chromium (the Debian ``chromium`` binary)
with Playwright, and measures in the browser, from the click to what the user sees:

- **first estimate**: pressing Run (20 replications) until the KPI table with its first
  intervals shows (after the second replication). The first run after start-up is
  reported apart ("cold"), then ``--repeat`` runs with new seeds (a cached result would
  answer at once, so each run has a seed of its own).
- **run done**: the same runs until all 20 replications are in and the report is written.
- **slider round trip**: moving the SE headcount slider on the What-if page until the
  table of paired differences shows (10 replications of baseline and what-if on common
  random numbers), for headcounts 3, 4, 1 and 5 in turn; then the same for the routing
  odds of the qualify stage (its share to discovery at 0.35, 0.4, 0.25 and 0.45).

Run ``python benchmarks/bench_studio.py --help``. The machine's load counts: each figure
is wall time, the best and the median of the repeats are printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def start(folder: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen([sys.executable, "-m", "salessim.cli", "studio", str(folder),
                             "--no-browser"], stdout=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:
        if line.startswith("open "):
            return proc, line.split()[1]
    raise SystemExit("the studio did not start")


def run_once(page, base: str, seed: int, replications: int) -> tuple[float, float]:
    page.goto(f"{base}/#files")
    page.goto(f"{base}/#run/b2b_baseline.yaml")
    page.locator("#run-n").fill(str(replications))
    page.locator("#run-seed").fill(str(seed))
    started = time.perf_counter()
    page.click("#run-go")
    page.locator("#kpis tr[data-kpi]").first.wait_for()
    first = time.perf_counter() - started
    page.locator('#job-state[data-state="done"]').wait_for()
    return first, time.perf_counter() - started


def slider_once(page, value: float, which: str = 'data-key="roles.se.headcount"') -> float:
    slider = page.locator(f"#sliders input[{which}]")
    page.evaluate("document.getElementById('wi-result').innerHTML = ''")
    started = time.perf_counter()
    slider.evaluate(f"s => {{ s.value = {value}; s.dispatchEvent(new Event('input')); }}")
    page.wait_for_function(
        "(() => { const s = document.getElementById('job-state');"
        " return s && s.dataset.state === 'done' && document.getElementById('whatif'); })()")
    return time.perf_counter() - started


def describe(name: str, values: list[float]) -> str:
    return (f"{name:<28} best {min(values):6.2f} s   median {statistics.median(values):6.2f} s"
            f"   ({len(values)} runs: {', '.join(f'{v:.2f}' for v in values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm runs (default 3)")
    parser.add_argument("--replications", type=int, default=20, help="per run (default 20)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs a Chromium binary (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bench"
        folder.mkdir()
        shutil.copy(REPO / "scenarios" / "b2b_baseline.yaml", folder)
        proc, url = start(folder)
        base = re.match(r"(http://[^/]+)/", url).group(1)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium,
                                            args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(bypass_csp=True)  # Playwright waits evaluate strings
                page.set_default_timeout(300_000)
                page.goto(url)
                cold_first, cold_done = run_once(page, base, 1, args.replications)
                runs = [run_once(page, base, 2 + i, args.replications)
                        for i in range(args.repeat)]
                page.goto(f"{base}/#whatif/b2b_baseline.yaml")
                page.locator("#sliders").wait_for()
                slides = [slider_once(page, v) for v in (3, 4, 1, 5)]
                page.evaluate("document.querySelectorAll('#sliders input[type=range]')"
                              ".forEach(s => s.value = s.dataset.base)")
                odds = [slider_once(page, v, 'data-odds="qualify"')
                        for v in (0.35, 0.4, 0.25, 0.45)]
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    print(f"salessim studio, scenarios/b2b_baseline.yaml, {args.replications} replications "
          f"per run, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(describe("first estimate (cold)", [cold_first]))
    print(describe("first estimate", [r[0] for r in runs]))
    print(describe("run done, report written", [cold_done, *(r[1] for r in runs)]))
    print(describe("slider round trip (10 reps)", slides))
    print(describe("odds slider round trip", odds))


if __name__ == "__main__":
    main()
