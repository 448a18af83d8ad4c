"""Synthetic districts from real figures: profiles, a batch-wise generator and the demo loader.

from engine.synth import get_profile, load_demo
result = load_demo(engine, get_profile("jiedong"), seed=1, as_of=date(2025, 12, 31), now=datetime.now())
"""

from engine.synth.generator import BATCH_SIZE, TABLES, Generator
from engine.synth.load import DemoParameters, DemoRefused, LoadResult, load_demo, parameters
from engine.synth.profiles import PROFILES, Profile, apportion, get_profile

__all__ = [
    "BATCH_SIZE",
    "PROFILES",
    "TABLES",
    "DemoParameters",
    "DemoRefused",
    "Generator",
    "LoadResult",
    "Profile",
    "apportion",
    "get_profile",
    "load_demo",
    "parameters",
]
