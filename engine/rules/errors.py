"""What can go wrong with a rule pack or its evaluation, each error carrying the data to name the fix.

SuijianError (entities/errors.py)
├── PackError           the pack has errors: carries every Finding (file:line: code: message); it cannot be used
├── RecordError         a subject's feature record does not fit the catalogue (wrong type, value outside its set)
└── EngineFault         the durable-rules core misbehaved (an action raised, a call returned no state, …): a bug,
                        never the user's input; raised instead of returning a possibly wrong result
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from entities.errors import InputError, SuijianError

if TYPE_CHECKING:
    from engine.rules.model import Finding


class PackError(InputError):
    """A pack that failed its check; `findings` holds every error and warning, sorted by location."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        first = errors[0] if errors else (self.findings[0] if self.findings else None)
        if first is None:
            message = "the rule pack cannot be used"
        elif len(errors) > 1:
            message = f"{first} (and {len(errors) - 1} more error(s)); the rule pack cannot be used"
        else:
            message = f"{first}; the rule pack cannot be used"
        super().__init__(message)


class RecordError(InputError):
    """A feature value a pack reads has the wrong type or is outside the feature's closed set."""

    def __init__(self, feature: str, value: object, reason: str) -> None:
        self.feature = feature
        self.value = value
        self.reason = reason
        super().__init__(f"feature '{feature}': {reason}, got {value!r}")


class EngineFault(SuijianError):
    """The inference core returned something it must not; the evaluation is refused rather than guessed."""
