from tests.support.engine import harness, recorder
from tests.support.store import paths, store

__all__ = ["harness", "paths", "recorder", "store"]
