"""Distribution specs: what a scenario may say about a random time or amount.

Each spec is frozen data that knows its mean and variance (for reports, validation and
queueing checks) and can turn a numpy Generator into an endless iterator of draws. The
iterator draws in blocks, so the simulation's hot loop pays for a ``next()`` per value,
not for a numpy call.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Annotated, Literal, Union

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from salessim.scenario.units import Duration

BLOCK = 1024


def blocks(draw: Callable[[int], np.ndarray]) -> Iterator[float]:
    """Endless values from ``draw(n)``, called for blocks of :data:`BLOCK` values.

    Built from itertools rather than as a generator, so that ``next()`` on it runs no
    Python frame: the next block is drawn only when the last one is used up.
    """
    return itertools.chain.from_iterable(
        map(np.ndarray.tolist, map(draw, itertools.repeat(BLOCK))))


#: Values drawn from a distribution when it is validated, to check its sampler.
SAMPLE_CHECK = 64


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="after")
    def _finite(self) -> _Spec:
        """Parameters that are each finite can still overflow (a weibull shape of 0.001, a
        gamma cv of 1e-200): refuse them unless the mean, the variance and a sample are all
        finite, so a distribution that validates never breaks a run."""
        self._rules()
        try:
            with np.errstate(all="ignore"):  # overflow is checked for just below
                moments = (self.mean, self.variance)
                rng = np.random.default_rng(0)
                sample = list(itertools.islice(self.draws(rng), SAMPLE_CHECK))
        except (OverflowError, ZeroDivisionError, FloatingPointError):
            raise ValueError("these parameters give no usable distribution: its mean, "
                             "variance or draws overflow") from None
        except ValueError as exc:  # numpy refusing the parameters
            raise ValueError(f"these parameters give no usable distribution ({exc})") from None
        if not all(math.isfinite(m) for m in moments):
            raise ValueError(f"these parameters give a mean or variance that is not finite "
                             f"(mean {moments[0]:g}, variance {moments[1]:g})")
        if not all(math.isfinite(x) for x in sample):
            raise ValueError("these parameters give draws that are not finite numbers")
        return self

    def _rules(self) -> None:
        """The distribution's own rules on its parameters (raise ValueError), checked first."""

    @property
    def mean(self) -> float:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @property
    def variance(self) -> float:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @property
    def cv(self) -> float:
        """Coefficient of variation, sd / mean."""
        return math.sqrt(self.variance) / self.mean if self.mean else math.nan

    def draws(self, rng: np.random.Generator) -> Iterator[float]:  # pragma: no cover
        raise NotImplementedError


class Constant(_Spec):
    """Always the same value."""

    dist: Literal["constant"] = "constant"
    value: Duration = Field(ge=0)

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def draws(self, rng: np.random.Generator) -> Iterator[float]:
        return itertools.repeat(float(self.value))


class _ByMean(_Spec):
    """A distribution given by its mean (``mean`` in YAML; a property of the same name)."""

    mean_: Duration = Field(gt=0, alias="mean")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @property
    def mean(self) -> float:
        return self.mean_


class Exponential(_ByMean):
    """Exponential with the given mean (memoryless; Poisson inter-arrival times)."""

    dist: Literal["exponential"]

    @property
    def variance(self) -> float:
        return self.mean_**2

    def draws(self, rng: np.random.Generator) -> Iterator[float]:
        return blocks(lambda n: rng.exponential(self.mean_, n))


class Uniform(_Spec):
    """Uniform on [low, high]."""

    dist: Literal["uniform"]
    low: Duration = Field(ge=0)
    high: Duration

    def _rules(self) -> None:
        if not self.high > self.low:
            raise ValueError(f"high must be greater than low (low={self.low}, high={self.high})")

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def draws(self, rng: np.random.Generator) -> Iterator[float]:
        return blocks(lambda n: rng.uniform(self.low, self.high, n))


class _ThreePoint(_Spec):
    low: Duration = Field(ge=0)
    mode: Duration
    high: Duration

    def _rules(self) -> None:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(
                f"needs low <= mode <= high and low < high "
                f"(low={self.low}, mode={self.mode}, high={self.high})"
            )


class Triangular(_ThreePoint):
    """Triangular on [low, high] with its peak at mode."""

    dist: Literal["triangular"]

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    @property
    def variance(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18

    def draws(self, rng: np.random.Generator) -> Iterator[float]:
        return blocks(lambda n: rng.triangular(self.low, self.mode, self.high, n))


class Pert(_ThreePoint):
    """PERT (a scaled beta with shape 4): the three-point estimate of project planning."""

    dist: Literal["pert"]

    @property
    def _shape(self) -> tuple[float, float]:
        span = self.high - self.low
        return 1 + 4 * (self.mode - self.low) / span, 1 + 4 * (self.high - self.mode) / span

    @property
    def mean(self) -> float:
        return (self.low + 4 * self.mode + self.high) / 6

    @property
    def variance(self) -> float:
        return (self.mean - self.low) * (self.high - self.mean) / 7

    def draws(self, rng: np.random.Generator) -> Iterator[float]:
        a, b = self._shape
        span = self.high - self.low
        return blocks(lambda n: self.low + span * rng.beta(a, b, n))


class Normal(_Spec):
    """Normal with the given mean and sd, truncated at zero (negative draws are redrawn).

    ``mean`` and ``sd`` are those of the normal before truncation; the ``mean`` and
    ``variance`` properties give the truncated distribution's, which differ when sd is
    not small against the mean.
    """

    dist: Literal["normal"]
    mu: Duration = Field(alias="mean")
    sd: Duration = Field(gt=0)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    def _rules(self) -> None:
        if self.mu < -3 * self.sd:
            raise ValueError("mean must not be below -3 sd: almost every draw would be negative")

    @property
    def _moments(self) -> tuple[float, float]:
        """Mean and variance of the normal truncated at zero (closed form, no scipy).

        With a = -mu / sd, phi the standard density and Z = P(X >= 0) = erfc(a / sqrt 2) / 2:
        mean = mu + sd * phi(a) / Z, variance = sd^2 * (1 + a phi(a) / Z - (phi(a) / Z)^2).
        """
        a = -self.mu / self.sd
        z = 0.5 * math.erfc(a / math.sqrt(2))
        ratio = math.exp(-a * a / 2) / math.sqrt(2 * math.pi) / z
        return self.mu + self.sd * ratio, self.sd**2 * (1 + a * ratio - ratio * ratio)

    @property
    def mean(self) -> float:
        return self._moments[0]

    @property
    def variance(self) -> float:
        return self._moments[1]

    def draws(self, rng: np.random.Generator) -> Iterator[float]:
        def draw(n: int) -> np.ndarray:
            x = rng.normal(self.mu, self.sd, n)
            return x[x >= 0]

        return blocks(draw)


class _MeanCv(_ByMean):
    cv_: float = Field(gt=0, alias="cv")

    @property
    def variance(self) -> float:
        return (self.mean_ * self.cv_) ** 2

    @property
    def cv(self) -> float:
        return self.cv_


class Lognormal(_MeanCv):
    """Lognormal given by its own mean and coefficient of variation."""

    dist: Literal["lognormal"]

    def draws(self, rng: np.random.Generator) -> Iterator[float]:
        sigma2 = math.log1p(self.cv_**2)
        mu, sigma = math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2)
        return blocks(lambda n: rng.lognormal(mu, sigma, n))


class Gamma(_MeanCv):
    """Gamma given by its mean and coefficient of variation (shape = 1 / cv^2)."""

    dist: Literal["gamma"]

    def draws(self, rng: np.random.Generator) -> Iterator[float]:
        shape = 1 / self.cv_**2
        scale = self.mean_ / shape
        return blocks(lambda n: rng.gamma(shape, scale, n))


class Weibull(_Spec):
    """Weibull with a shape and a scale."""

    dist: Literal["weibull"]
    shape: float = Field(gt=0)
    scale: Duration = Field(gt=0)

    @property
    def mean(self) -> float:
        return self.scale * math.gamma(1 + 1 / self.shape)

    @property
    def variance(self) -> float:
        g1, g2 = math.gamma(1 + 1 / self.shape), math.gamma(1 + 2 / self.shape)
        return self.scale**2 * (g2 - g1 * g1)

    def draws(self, rng: np.random.Generator) -> Iterator[float]:
        return blocks(lambda n: self.scale * rng.weibull(self.shape, n))


class Empirical(_Spec):
    """A value picked from a list, with optional weights (observed data)."""

    dist: Literal["empirical"]
    values: list[Duration] = Field(min_length=1)
    weights: list[float] | None = None

    def _rules(self) -> None:
        if any(v < 0 for v in self.values):
            raise ValueError(f"values must not be negative, got {self.values}")
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights must be as many as values ({len(self.values)}), got {len(self.weights)}"
                )
            try:
                total = math.fsum(self.weights)
            except OverflowError:
                total = math.inf
            if any(w < 0 for w in self.weights) or not 0 < total < math.inf:
                raise ValueError(f"weights must be >= 0 with a positive, finite sum, got "
                                 f"{self.weights}")

    @property
    def _p(self) -> npt.NDArray[np.float64]:
        w = np.ones(len(self.values)) if self.weights is None else np.asarray(self.weights, float)
        p: npt.NDArray[np.float64] = w / w.sum()  # declared: numpy types the division as Any
        return p

    @property
    def mean(self) -> float:
        return float(np.dot(self._p, self.values))

    @property
    def variance(self) -> float:
        v = np.asarray(self.values, float)
        return float(np.dot(self._p, (v - self.mean) ** 2))

    def draws(self, rng: np.random.Generator) -> Iterator[float]:
        values, p = np.asarray(self.values, float), self._p
        return blocks(lambda n: rng.choice(values, n, p=p))



def _shorthand(value: object) -> object:
    """A bare number or duration string means a constant."""
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"dist": "constant", "value": value}
    return value


Dist = Annotated[
    Union[  # noqa: UP007 - a discriminated union reads better spelled out
        Constant, Exponential, Uniform, Triangular, Pert, Normal, Lognormal, Gamma, Weibull,
        Empirical,
    ],
    Field(discriminator="dist"),
    BeforeValidator(_shorthand),
]

DIST_NAMES = (
    "constant", "exponential", "uniform", "triangular", "pert", "normal", "lognormal", "gamma",
    "weibull", "empirical",
)

__all__ = [
    "Constant", "Dist", "DIST_NAMES", "Empirical", "Exponential", "Gamma", "Lognormal",
    "Normal", "Pert", "Triangular", "Uniform", "Weibull",
]
