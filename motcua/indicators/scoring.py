"""Decision 766's scoring: a rate at or above its target scores full points, below it
rate / target of the points. Components, targets and points are data (decision766.yaml)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel

from motcua.indicators.figures import Row

COMPONENTS_FILE = Path(__file__).with_name("decision766.yaml")


class Component(BaseModel):
    id: str
    name: str
    indicator: str
    target: float
    points: float


class NotCounted(BaseModel):
    """A component of the decision with nothing in the dossiers to count it from."""

    name: str
    reason: str


class Score(BaseModel):
    """One component's score for a row; `rate` None when nothing was there to rate."""

    component: str
    name: str
    rate: float | None
    target: float
    points: float
    score: float | None


@cache
def components() -> tuple[Component, ...]:
    data = yaml.safe_load(COMPONENTS_FILE.read_text(encoding="utf-8"))
    return tuple(Component.model_validate(c) for c in data["components"])


@cache
def not_counted() -> tuple[NotCounted, ...]:
    data = yaml.safe_load(COMPONENTS_FILE.read_text(encoding="utf-8"))
    return tuple(NotCounted.model_validate(c) for c in data.get("not_counted", ()))


@cache
def feedback_procedures() -> frozenset[str]:
    """The codes of the catalogue's feedback channels: counted by `feedback`, left out of the
    dossier figures."""
    data = yaml.safe_load(COMPONENTS_FILE.read_text(encoding="utf-8"))
    return frozenset(str(c) for c in data.get("feedback_procedures") or ())


def points(rate: float, target: float, full: float) -> float:
    """Full points at or above the target, else rate / target of them."""
    return full if rate >= target else round(full * rate / target, 2)


def score(row: Row) -> list[Score]:
    rates = row.rates()
    out = []
    for c in components():
        rate = rates[c.indicator]
        out.append(
            Score(
                component=c.id,
                name=c.name,
                rate=rate,
                target=c.target,
                points=c.points,
                score=None if rate is None else points(rate, c.target, c.points),
            )
        )
    return out
