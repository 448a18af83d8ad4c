"""Features: one flat, typed record per subject, computed from the store as of an explicit date."""

from engine.features.catalogue import CATALOGUE, Feature

__all__ = ["CATALOGUE", "Feature"]
