"""Teaching read off a solved trace: what its numbers show a student (observations.py).

Pure functions from a `Trace` to frozen records; the renderers word them."""
from .observations import Observation, observe

__all__ = ["Observation", "observe"]
