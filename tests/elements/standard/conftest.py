"""Helpers for the standard elements' tests; every test of this folder leaves
no packet descriptor in use.

``sim(config)`` builds a router in simulated time and runs it for given
spans: the clock starts at Click's simulated epoch (10^9 seconds) and jumps
from timer to timer, so counts and times are exact and the same on every
run. Its recorder is a HarnessRecord named ``rec``.
"""
import pytest
from harness import make_packet, no_leaks  # noqa: F401  (no_leaks: an autouse fixture)
from support import build_router, run_for

SIM_START_NS = 1_000_000_000 * 1_000_000_000
MS = 1_000_000


class Sim:
    """A router in simulated time that runs for given spans."""

    start_ns = SIM_START_NS

    def __init__(self, config):
        self.router = build_router(config, simulated=True)

    def run(self, seconds):
        """Run until `seconds` of simulated time have passed since now."""
        run_for(self.router, seconds)
        return self

    def elapsed_ns(self):
        return self.router.now() - SIM_START_NS

    def __getitem__(self, name):
        return self.router.element(name)

    def read(self, handler):
        return self.router.read(handler)

    def write(self, handler, value=""):
        self.router.write(handler, value)

    def push(self, element, data, port=0, timestamp=None):
        p = make_packet(data)
        if timestamp is not None:
            p.timestamp = timestamp
        self.router.element(element).push_packet(port, p)

    def log(self, name="rec"):
        return self.router.element(name).log

    def payloads(self, name="rec"):
        return [rec.data for rec in self.log(name)]

    def times_ms(self, name="rec"):
        """When each packet reached the recorder, in ms since the start of the run."""
        return [(rec.arrived - SIM_START_NS) / MS for rec in self.log(name)]

    def stamps_ms(self, name="rec"):
        """Each recorded packet's timestamp, in ms since the start of the run."""
        return [(rec.ts - SIM_START_NS) / MS for rec in self.log(name)]


@pytest.fixture
def sim():
    """sim(config) -> Sim: build a router in simulated time."""
    return Sim
