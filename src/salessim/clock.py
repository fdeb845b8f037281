"""The date of simulation time 0: exported logs, working calendars and holidays count from it.

It sits below everything (the scenario's time units, the working-time model, the event
records) and imports nothing, so the command line can read it while it builds its parser.
"""

from __future__ import annotations

from datetime import datetime

#: Calendar date of simulation time 0 (a Monday, as working calendars assume).
LOG_EPOCH = datetime(2026, 1, 5)
