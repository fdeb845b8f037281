"""BPSim 2.0 parameters for the BPMN export: what a BPSim-aware tool needs to simulate it.

One scenario (``default``) with the run's length, warm-up and replications; the leads'
inter-arrival time at the start event (exponential: the sources are Poisson); each task's
processing time and each customer-side timer's duration as a BPSim distribution; the
routing shares as flow probabilities; each role as a resource with its headcount. The
distributions BPSim has are written as such (constant, exponential, uniform, triangular,
normal, lognormal, gamma, Weibull); the others (PERT, empirical) by their mean, which a
comment in the data says. Everything stays in the scenario's time unit (``baseTimeUnit``).
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from salessim.scenario.schema import Scenario
from salessim.scenario.units import UNIT_HOURS

NS = "http://www.bpsim.org/schemas/2.0"


def bpsim_unit(unit: str) -> tuple[str, float]:
    """BPSim's base time unit for a scenario's unit, and the factor to it (BPSim has no
    week: weeks are written in days)."""
    base = "day" if unit == "week" else unit
    return ("min" if base == "minute" else base), UNIT_HOURS[unit] / UNIT_HOURS[base]


def distribution(dist, unit: str) -> str:
    """One BPSim parameter element for a scenario distribution, in BPSim's time unit."""
    k = bpsim_unit(unit)[1]
    name = getattr(dist, "dist", "constant")
    if name == "constant":
        return f'<bpsim:FloatingParameter value="{dist.value * k:g}"/>'
    if name == "exponential":
        return f'<bpsim:ExponentialDistribution mean="{dist.mean * k:g}"/>'
    if name == "uniform":
        return f'<bpsim:UniformDistribution min="{dist.low * k:g}" max="{dist.high * k:g}"/>'
    if name == "triangular":
        return (f'<bpsim:TriangularDistribution min="{dist.low * k:g}" '
                f'mode="{dist.mode * k:g}" max="{dist.high * k:g}"/>')
    if name in ("normal", "lognormal"):
        tag = "NormalDistribution" if name == "normal" else "LogNormalDistribution"
        return (f'<bpsim:{tag} mean="{dist.mean * k:g}" '
                f'standardDeviation="{dist.variance ** 0.5 * k:g}"/>')
    if name == "gamma":
        shape = 1 / dist.cv**2
        return f'<bpsim:GammaDistribution shape="{shape:g}" scale="{dist.mean * k / shape:g}"/>'
    if name == "weibull":
        return f'<bpsim:WeibullDistribution shape="{dist.shape:g}" scale="{dist.scale * k:g}"/>'
    return f'<bpsim:FloatingParameter value="{dist.mean * k:g}"/><!-- {name}: its mean -->'


def _element(ref: str, body: str) -> str:
    return f'        <bpsim:ElementParameters elementRef="{ref}">{body}</bpsim:ElementParameters>'


def bpsim(scenario: Scenario, times: dict[str, object], shares: dict[str, float],
          roles: dict[str, str]) -> list[str]:
    """The ``bpmn:relationship`` holding the BPSim data, as lines of XML.

    Args:
        scenario: the scenario.
        times: BPMN element id -> the distribution of its processing time or timer.
        shares: sequence flow id -> its probability out of an exclusive gateway.
        roles: BPMN resource id -> role id.
    """
    unit = scenario.time_unit
    k = bpsim_unit(unit)[1]
    rate = sum(s.rate for s in scenario.sources.values())
    out = ['  <bpmn:relationship id="BPSim_1" type="BPSimData">',
           "    <bpmn:extensionElements>",
           f'      <bpsim:BPSimData xmlns:bpsim="{NS}">',
           f"      <bpsim:Scenario id=\"default\" name={quoteattr(scenario.name)} "
           'author="salessim">',
           f'        <bpsim:ScenarioParameters replication="{scenario.replications}" '
           f'baseTimeUnit="{bpsim_unit(unit)[0]}">'
           f'<bpsim:Duration><bpsim:FloatingParameter value="{scenario.horizon * k:g}"/>'
           f'</bpsim:Duration><bpsim:Warmup><bpsim:FloatingParameter '
           f'value="{scenario.warmup * k:g}"/></bpsim:Warmup></bpsim:ScenarioParameters>',
           _element("Start", "<bpsim:TimeParameters><bpsim:InterTriggerTimer>"
                    f'<bpsim:ExponentialDistribution mean="{k / rate:g}"/>'
                    "</bpsim:InterTriggerTimer></bpsim:TimeParameters>")]
    for ref, dist in times.items():
        out.append(_element(ref, "<bpsim:TimeParameters><bpsim:ProcessingTime>"
                            f"{distribution(dist, unit)}</bpsim:ProcessingTime>"
                            "</bpsim:TimeParameters>"))
    for ref, p in shares.items():
        out.append(_element(ref, "<bpsim:ControlParameters><bpsim:Probability>"
                            f'<bpsim:FloatingParameter value="{p:g}"/></bpsim:Probability>'
                            "</bpsim:ControlParameters>"))
    for ref, role in roles.items():
        out.append(_element(ref, "<bpsim:ResourceParameters><bpsim:Quantity>"
                            f'<bpsim:NumericParameter value="{scenario.roles[role].headcount}"/>'
                            "</bpsim:Quantity></bpsim:ResourceParameters>"))
    out += ["      </bpsim:Scenario>", "      </bpsim:BPSimData>",
            "    </bpmn:extensionElements>", "  </bpmn:relationship>"]
    return out
