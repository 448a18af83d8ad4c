"""Features: one flat, typed record per subject, computed from the store as of an explicit date."""

from engine.features.registry import REGISTRY, Feature

__all__ = ["REGISTRY", "Feature"]
