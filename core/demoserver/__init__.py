"""A POP3 server with EXT-RETR, throttling and fault injection, for --demo, tests and benchmarks."""

from core.demoserver.faults import Faults
from core.demoserver.sample import make_demo_mailbox
from core.demoserver.server import DemoServer

__all__ = ["DemoServer", "Faults", "make_demo_mailbox"]
