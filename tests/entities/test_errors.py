"""One exception tree: every error class in engine/ and entities/ derives from SuijianError (unless it is private
control flow or listed as internal below), and the whole tree is written down in entities/errors.py."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import engine
import entities
from entities import errors
from entities.errors import SuijianError

# Control flow that never reaches a user (caught by its module or its one caller): each has a comment or docstring at
# its definition saying why.
INTERNAL = {"engine.rules.conditions.ConditionError", "engine.ledger.runs.NotInOrder", "engine.plan_read.ChildFailed"}


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for package in (engine, entities):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for obj in vars(module).values():
                if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                    found.append(obj)
    return found


def test_every_error_derives_from_suijian_error() -> None:
    strays = [
        f"{c.__module__}.{c.__qualname__}"
        for c in _exception_classes()
        if not issubclass(c, SuijianError)
        and not c.__name__.startswith("_")
        and f"{c.__module__}.{c.__qualname__}" not in INTERNAL
    ]
    assert strays == []


def test_the_walk_sees_the_internal_ones() -> None:
    names = {f"{c.__module__}.{c.__qualname__}" for c in _exception_classes()}
    assert names >= INTERNAL
    assert "engine.rules.yamlio._Refused" in names


def test_every_user_error_is_defined_and_documented_in_entities_errors() -> None:
    user_errors = [c for c in _exception_classes() if issubclass(c, SuijianError)]
    elsewhere = [f"{c.__module__}.{c.__qualname__}" for c in user_errors if c.__module__ != "entities.errors"]
    assert elsewhere == []
    tree = errors.__doc__ or ""
    undocumented = [c.__name__ for c in user_errors if not re.search(rf"(^|── ){c.__name__}\b", tree, re.M)]
    assert undocumented == []
