"""Check a subject's feature record against the catalogue types before any engine sees it.

Both engines take only normalised records: the features a pack reads, each an int, float, bool or label of
the feature's closed set, or None for missing. Loose typing ("9" > 5, True == 1) then cannot reach the
inference core.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from engine.features.result_facts import VOCABULARY
from engine.rules.model import Pack, Scalar
from entities.errors import RecordError


def normalise_value(name: str, value: Any) -> Scalar | None:
    """The value of feature `name` in canonical form (floats as float), None if missing; RecordError if it does not fit."""
    if value is None:
        return None
    feature = VOCABULARY[name]
    kind = feature.type
    is_bool = isinstance(value, bool) or type(value).__name__ == "bool_"
    if kind == "bool":
        if not is_bool:
            raise RecordError(name, value, "expected true or false")
        return bool(value)
    if kind == "int":
        if is_bool or not isinstance(value, numbers.Integral):
            raise RecordError(name, value, "expected a whole number")
        return int(value)
    if kind == "float":
        if is_bool or not isinstance(value, numbers.Real):
            raise RecordError(name, value, "expected a number")
        number = float(value)
        if not math.isfinite(number):
            raise RecordError(name, value, "expected a finite number (use None for missing)")
        return number
    if not isinstance(value, str):
        raise RecordError(name, value, "expected a label")
    if feature.values and value not in feature.values:
        raise RecordError(name, value, f"expected one of {', '.join(feature.values)}")
    return value


def normalise(pack: Pack, record: Mapping[str, Any]) -> dict[str, Scalar | None]:
    """The features `pack` reads, taken from `record` and checked; other keys are ignored."""
    return {name: normalise_value(name, record.get(name)) for name in pack.features}
