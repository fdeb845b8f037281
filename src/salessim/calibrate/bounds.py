"""Bounds on the values of a history: its dates, and how an error quotes a value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from salessim.errors import clipped

#: The dates a history may hold: a CRM's dates outside them are typing errors (year 1500,
#: 9999 as "never"), and pandas' nanosecond clock cannot hold those before 1677 or after 2262.
FIRST_DATE, LAST_DATE = pd.Timestamp("1900-01-01"), pd.Timestamp("2199-12-31 23:59:59")


#: The largest amount a deal may have: a quadrillion. Larger ones are typing errors (or
#: 1e308), and they overflow the fit of the deal values (a lognormal's mean).
MAX_AMOUNT = 1e15


def first_outside(dates: pd.Series) -> int | None:
    """The position of the first date before :data:`FIRST_DATE` or after :data:`LAST_DATE`."""
    outside = dates.notna() & ((dates < FIRST_DATE) | (dates > LAST_DATE))
    return int(np.flatnonzero(outside.to_numpy())[0]) if outside.any() else None


def outside_rule(column: str) -> str:
    """The rule a date outside the bounds breaks, for an error about ``column``."""
    return (f"{column}: a date must lie between {FIRST_DATE:%Y-%m-%d} and "
            f"{LAST_DATE:%Y-%m-%d}")


def quoted(value: object) -> str:
    """A value as an error quotes it: a long one by its start and its length."""
    return clipped(repr(value if isinstance(value, str) else str(value)))
