"""Starting ``salessim studio`` over a folder for the browser tests, and asking its API."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from salessim.output import process_running

REPO = Path(__file__).resolve().parents[1]
VIEWPORT = {"width": 1400, "height": 900}
WAIT = 90_000  # ms: a loaded machine may take long; each wait ends as soon as its sign shows


def screenshots(tmp_path_factory) -> Path:
    """Where the screenshots go: SALESSIM_STUDIO_SCREENSHOTS (docs/studio), else a temporary
    folder."""
    folder = os.environ.get("SALESSIM_STUDIO_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("shots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def get(base: str, path: str, token: str | None = None):
    """A GET of the studio's API, as JSON (with the token in its header when given)."""
    request = urllib.request.Request(base + path)
    if token is not None:
        request.add_header("X-Studio-Token", token)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def running_studio(folder: Path) -> Iterator[tuple[str, str, Path]]:
    """The command ``salessim studio FOLDER --no-browser``: (address, token, folder); on
    leaving, it is stopped as Ctrl-C stops it, and no worker may be left behind."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen([sys.executable, "-m", "salessim.cli", "studio", str(folder),
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    url = None
    for line in proc.stdout:
        if line.startswith("open "):
            url = line.split()[1]
            break
    assert url is not None, proc.stderr.read()
    match = re.fullmatch(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", url)
    assert match, url
    base, token = match.groups()
    worker = get(base, "/api/status", token)["worker_pid"]
    yield base, token, folder.resolve()
    last = get(base, "/api/status", token)["worker_pid"]
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    # Stopping the studio leaves no worker behind, neither the first nor the last.
    assert not process_running(worker) and not process_running(last)


@contextlib.contextmanager
def studio_tab(browser, base: str, token: str):
    """A tab of the studio, past the token (which goes into a cookie, out of the address)."""
    # The page's policy forbids evaluating strings, as Playwright's waits do.
    tab = browser.new_page(viewport=VIEWPORT, bypass_csp=True)
    tab.set_default_timeout(WAIT)
    # "Leave without saving?" is answered yes: a test that fails with unsaved changes must
    # not keep the next ones on its page.
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.goto(f"{base}/?token={token}")
    assert tab.url == f"{base}/"
    yield tab
