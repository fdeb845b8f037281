"""What an event log adds to ``calibration.json``: how it was read, its staff and queues.

The arrival window (and any extraction cut) with the arrivals' shape, the log's events,
stage map, end activities and unpaired life-cycle events, and the roles (members,
headcount and where it came from, calendar, holidays) and queues found in its work items.
"""

from __future__ import annotations

from typing import Any

from salessim.calibrate.estimate import Calibration


def log_evidence(cal: Calibration) -> dict[str, Any]:
    """What an event log adds to ``calibration.json``: its reading, staff and queues."""
    out: dict[str, Any] = {}
    win = getattr(cal, "window", None)
    if win is not None:
        out["arrival_window"] = {"start": win.start.isoformat(), "end": win.end.isoformat(),
                                 "extraction_cut": None if win.cut is None else
                                 win.cut.isoformat()}
        out["arrival_shape"] = {sid: {
            "index_of_dispersion": a.index, "day_effect_k": a.day_effect,
            "day_effect_k_ci": a.day_effect_ci, "weekday_hour_shares": a.hourly,
            "hour_of_day_test": None if a.hourly_test is None else {
                "statistic": a.hourly_test.statistic, "df": a.hourly_test.df,
                "p": a.hourly_test.p},
            "unobserved_months": a.unobserved_months} for sid, a in cal.arrivals.items()}
    log = getattr(cal, "log", None)
    if log is not None:
        out["event_log"] = {
            "file": log.path, "events": log.events, "cases": log.cases,
            "stage_map": {"file": log.stage_map.path, "proposed": log.proposed,
                          "stages": log.stage_map.stages, "work": log.stage_map.work,
                          "ends": log.stage_map.ends, "value": log.stage_map.value,
                          "source": log.stage_map.source},
            "ends_by_activity": log.ends_by_name, "unpaired_events": log.instances.unpaired,
            "resolution_seconds": log.instances.resolution * 86400}
    staff = getattr(cal, "staff", None)
    if staff is not None:
        out["staff_from_log"] = {
            "roles": {r.name: {"members": r.members, "headcount": r.headcount,
                               "headcount_source": "log" if r.measured is None else "given",
                               "headcount_in_log": r.headcount if r.measured is None
                               else r.measured,
                               "weekly_active": r.weekly_active, "workdays": r.workdays,
                               "hours": r.hours, "availability": r.availability,
                               "holidays": r.holidays, "activities": r.activities,
                               "finish_same_day": r.finish_same_day,
                               "items_past_closing": r.past_closing,
                               "held_while_suspended": r.held_while_suspended,
                               "suspended_spans_used": r.suspended,
                               "weekday_hour_grid": r.grid} for r in staff.roles.values()},
            "queues": {q.stage: {"items": q.items, "role": q.role,
                                 "wait_median_days": q.wait_median,
                                 "wait_median_ci": q.wait_median_ci,
                                 "wait_p90_days": q.wait_p90, "wait_p90_ci": q.wait_p90_ci,
                                 "work_per_visit_days": q.work_per_visit,
                                 "ready_after_entry_days": q.lag,
                                 "activities": q.activities,
                                 "in_scenario": q.in_scenario, "order": q.order,
                                 "wait_per_visit_days": q.wait_per_visit}
                       for q in staff.queues.values()},
            "several_roles": staff.several_roles}
    return out
