"""Domain errors. Each names the rule it enforces and, where there is one, what would satisfy it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Refusal:
    """One rule that refuses an action: a stable code, the rule's name, why, and what would satisfy it."""

    code: str
    rule: str
    message: str
    satisfy: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.message} {self.satisfy}".strip()


class RuleViolation(Exception):
    """A service refused to act. ``refusals`` lists every rule that stands in the way."""

    def __init__(self, *refusals: Refusal):
        if not refusals:
            raise ValueError("RuleViolation needs at least one refusal")
        self.refusals = tuple(refusals)
        super().__init__("; ".join(str(r) for r in self.refusals))

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.refusals]


class NotEligible(RuleViolation, ValueError):
    """The applicant is not eligible for what it asks (a grade, a kind, a moment)."""


class SchemeError(ValueError):
    """A scheme file is invalid. ``errors`` is a list of (location, message)."""

    def __init__(self, source: str, errors: list[tuple[str, str]]):
        self.source = source
        self.errors = errors
        lines = "\n".join(f"  {loc}: {msg}" for loc, msg in errors)
        super().__init__(f"{source}: {len(errors)} error(s)\n{lines}")
