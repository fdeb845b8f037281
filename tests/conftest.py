"""Shared tiny scenarios for the tests: built from their distinctive parts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from salessim.scenario import Scenario

SEED = 2026


def scenario_of(data: dict, unit: str = "hour") -> Scenario:
    """A validated scenario from its distinctive parts, with a test name, unit and seed."""
    doc = {"name": "test scenario", "time_unit": unit, "seed": SEED, **data}
    return Scenario.model_validate(doc, context={"time_unit": unit})


def const(value: float) -> dict:
    """A constant distribution."""
    return {"dist": "constant", "value": value}


def expo(mean: float) -> dict:
    """An exponential distribution."""
    return {"dist": "exponential", "mean": mean}


#: Mon-Fri 9-17.
OFFICE = {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [9, 17]}


@pytest.fixture
def tiny() -> Callable[..., Scenario]:
    """One role, one source and one staffed stage; keyword arguments replace parts."""
    def make(**parts) -> Scenario:
        data = {
            "horizon": 200, "replications": 1,
            "roles": {"rep": {"headcount": 1, "cost_per_hour": 10}},
            "sources": {"web": {"rate": 0.5, "deal_value": 1000}},
            "entry": "call",
            "stages": {"call": {"role": "rep", "work": expo(1.0), "next": {"won": 1.0}}},
        }
        data.update(parts)
        return scenario_of(data)
    return make


def refused(capsys, argv: list[str], *needles: str) -> None:
    """The command refuses ``argv`` with exit status 2 and a message holding ``needles``,
    never a traceback."""
    from salessim import cli

    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
