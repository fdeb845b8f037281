"""Bounds on the values of a history (its dates, its amounts), parsing them within those
bounds, how an error quotes a value, and the error a bad export raises."""

from __future__ import annotations

import numpy as np
import pandas as pd

from salessim.errors import SalessimError, clipped


class ExportError(SalessimError):
    """A CRM export or event log that cannot be read as given."""


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


def _blank(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.isna()
    empty = (values.astype("string").str.strip() == "").fillna(True)
    return values.isna() | empty.astype(bool)


def parse_dates(values: pd.Series, rows: pd.Series, path: str, column: str,
                timezone: str | None = None) -> pd.Series:
    """Naive datetimes: each value's own wall clock (an offset is dropped, not applied), or
    in ``timezone``; a bad one, or one outside the bounds, names its row."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values
    else:
        text = values.astype("string").str.strip().replace("", pd.NA)
        if timezone is None:
            text = text.str.replace(r"(?<=\d)(Z|[+-]\d\d:?\d\d)$", "", regex=True)
        utc = timezone is not None
        out = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=utc)
        retry = out.isna() & text.notna()
        if retry.any():
            out[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed", utc=utc)
        bad = out.isna() & text.notna()
        if bad.any():
            i = np.flatnonzero(bad.to_numpy())[0]
            raise ExportError(f"{path}:{rows.iloc[i]}: {column}: not a date or time "
                              f"(got {quoted(text.iloc[i])})")
    if getattr(out.dt, "tz", None) is not None:
        out = (out.dt.tz_convert(timezone) if timezone else out).dt.tz_localize(None)
    i = first_outside(out)
    if i is not None:
        raise ExportError(f"{path}:{rows.iloc[i]}: {outside_rule(column)} (got "
                          f"{quoted(values.iloc[i])})")
    return out.astype("datetime64[ns]")


def parse_amounts(values: pd.Series, rows: pd.Series, path: str, column: str) -> pd.Series:
    """Non-negative finite numbers or missing; anything else names its row."""
    blank = _blank(values)
    text = values.astype(str).str.replace(",", "", regex=False).str.strip()
    out = pd.to_numeric(text.where(~blank), errors="coerce")
    bad = (~blank) & (out.isna() | ~np.isfinite(out.fillna(0)) | (out < 0) | (out > MAX_AMOUNT))
    if bad.any():
        i = np.flatnonzero(bad.to_numpy())[0]
        raise ExportError(f"{path}:{rows.iloc[i]}: {column}: an amount must be a finite number "
                          f">= 0 and at most {MAX_AMOUNT:g} (got {quoted(values.iloc[i])})")
    return out.astype(float)
