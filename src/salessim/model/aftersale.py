"""After the sale: payment collection (order to cash) and renewals.

A won deal is invoiced (after an optional delivery delay) with payment terms; the
customer pays some time after the due date; finance staff send reminders before it and
dunning steps after it while the invoice is unpaid; past a stated age an unpaid invoice
may be written off as bad debt. After each contract term a renewal decision is made
(with staff work and an optional upsell); a renewed contract is invoiced again.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import simpy

from salessim.model.staff import Staff, StaffPlan
from salessim.records import CHURNED, INVOICED, PAID, RENEWED, WRITTEN_OFF, Tally
from salessim.scenario.dists import blocks
from salessim.scenario.mechanics import AGING_BUCKETS, BadDebt, Collection, Renewal
from salessim.scenario.schema import Scenario
from salessim.scenario.units import convert

if TYPE_CHECKING:
    from salessim.model.deal import Deal


def aging_bucket(days_past_due: float) -> str:
    """The receivables aging bucket of an invoice ``days_past_due`` days past its due date."""
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "days_1_30"
    if days_past_due <= 60:
        return "days_31_60"
    if days_past_due <= 90:
        return "days_61_90"
    return "over_90"


class AfterSale:
    """The processes that follow a won deal in one replication.

    Args:
        scenario: the validated scenario (with collection, renewal or both).
        staff: the staff service, which does the finance and renewal work.
        tally: the running totals.
    """

    def __init__(self, scenario: Scenario, staff: Staff, tally: Tally) -> None:
        self.staff = staff
        self.env = staff.env
        self.tally = tally
        self.log = staff.log
        self.warmup, self.horizon = staff.warmup, staff.horizon
        self.days_per_unit = convert(1.0, scenario.time_unit, "day")
        sc = scenario
        self.collection = sc.collection
        self.renewal = sc.renewal
        self._open: dict[int, tuple[float, float]] = {}  # invoice -> (due, amount)
        self._invoices = 0
        if self.collection is not None:
            c = self.collection
            self.delivery = staff.draws(c.delivery, "delivery")
            self.lateness = staff.draws(c.lateness, "payment")
            self.bad_u = self._uniforms("bad_debt")
            # (offset from due date, the work done then or the write-off rule)
            self.steps: list[tuple[float, StaffPlan | BadDebt]] = []
            for i, rem in enumerate(c.reminders):
                self.steps.append((-rem.before, staff.plan((c.role,), rem.work, f"reminder:{i}")))
            for i, d in enumerate(c.dunning):
                self.steps.append((d.after, staff.plan((c.role,), d.work, f"dunning:{i}")))
            if c.bad_debt is not None:
                self.steps.append((c.bad_debt.after, c.bad_debt))
            self.steps.sort(key=lambda step: step[0])
        if self.renewal is not None:
            r = self.renewal
            self.renew_u = self._uniforms("renewal")
            # A role is required with work (the schema says so).
            self.renew_plan = (staff.plan((r.role,), r.work, "renewal:work")
                               if r.work is not None and r.role is not None else None)
            if r.upsell is not None:
                self.upsell_u = self._uniforms("upsell")
                self.upsell_values = staff.draws(r.upsell.value, "upsell:value")
        log = self.log
        if log is not None:
            for _, plan in self.steps if self.collection is not None else ():
                if isinstance(plan, StaffPlan):
                    staff.label(plan, "collection")
            if self.renewal is not None and self.renew_plan is not None:
                staff.label(self.renew_plan, "renewal")
            self._codes = {e: log.code(e) for e in (CHURNED, INVOICED, PAID, RENEWED,
                                                    WRITTEN_OFF)}

    def _uniforms(self, stream: str) -> Iterator[float]:
        return blocks(self.staff.streams.generator(stream).random)

    def start(self, deal: Deal) -> None:
        """A deal was just won."""
        if self.collection is not None:
            self.env.process(self._invoice(self.collection, deal, deal.value, self.delivery))
        if self.renewal is not None:
            self.env.process(self._renewals(self.renewal, deal))

    def _log(self, deal: Deal, event: str) -> None:
        if self.log is not None:
            self.log.add(deal.lead | self._codes[event], self.env.now)

    def _invoice(self, c: Collection, deal: Deal, amount: float,
                 delivery: Iterator[float] | None) -> Generator[simpy.Event, Any, None]:
        env, tally = self.env, self.tally
        if delivery is not None:
            yield env.timeout(next(delivery))
        issued = env.now
        due = issued + c.terms
        paid_at = due + (next(self.lateness) if self.lateness is not None else 0.0)
        self._invoices += 1
        invoice = self._invoices
        self._open[invoice] = (due, amount)
        if issued >= self.warmup:
            tally.invoiced += amount
        self._log(deal, INVOICED)
        for offset, step in self.steps:
            at = due + offset
            if at >= paid_at:
                break
            if at > env.now:
                yield env.timeout(at - env.now)
            if isinstance(step, BadDebt):
                if next(self.bad_u) < step.probability:
                    del self._open[invoice]
                    if env.now >= self.warmup:
                        tally.bad_debt += amount
                    self._log(deal, WRITTEN_OFF)
                    return
            else:
                yield from self.staff.work(step, None, None, deal, selling=False)
        if paid_at > env.now:
            yield env.timeout(paid_at - env.now)
        del self._open[invoice]
        if env.now >= self.warmup:
            tally.cash_collected += amount
        self._log(deal, PAID)

    def _renewals(self, r: Renewal, deal: Deal) -> Generator[simpy.Event, Any, None]:
        env, tally = self.env, self.tally
        value = deal.value
        while True:
            yield env.timeout(r.term)
            if self.renew_plan is not None:
                yield from self.staff.work(self.renew_plan, None, None, deal, selling=False)
            renews = next(self.renew_u) < r.probability
            upsell = r.upsell is not None and next(self.upsell_u) < r.upsell.probability
            if deal.counted:
                tally.renewal_decisions += 1
                tally.renewal_base += value
            if not renews:
                self._log(deal, CHURNED)
                return
            if upsell:
                value += next(self.upsell_values)
            if deal.counted:
                tally.renewals += 1
                tally.renewal_value += value
            self._log(deal, RENEWED)
            if self.collection is not None:
                env.process(self._invoice(self.collection, deal, value, None))

    def finish(self) -> None:
        """Receivables at the horizon, by aging bucket."""
        receivables: dict[str, float] = dict.fromkeys(AGING_BUCKETS, 0.0)
        for due, amount in self._open.values():
            receivables[aging_bucket((self.horizon - due) * self.days_per_unit)] += amount
        self.tally.receivables = receivables
