from tests.support.engine import harness, recorder

__all__ = ["harness", "recorder"]
