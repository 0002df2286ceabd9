"""Helpers for the queue, unqueuer, shaper and rated-source tests.

Everything runs in simulated time: the clock starts at Click's simulated
epoch (10^9 seconds) and jumps from timer to timer, so counts and times are
exact and the same on every run.
"""
import pytest
from support import build_router, run_for

from clickpy import Element
from clickpy.runtime.packet import PacketObject

SIM_START_NS = 1_000_000_000 * 1_000_000_000
MS = 1_000_000


class QueuesTestRecorder(Element):
    """Test sink: remembers (arrival time, timestamp, length, data) of each packet pushed to it."""

    port_count = "1/0"
    processing = "h"

    def initialize(self, errh):
        self.log = []

    def push(self, port, packet):
        self.log.append((self.router.now(), packet.timestamp, len(packet), bytes(packet)))
        packet.kill()


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
        p = PacketObject.make(data)
        if timestamp is not None:
            p.timestamp = timestamp
        self.router.element(element).push_packet(port, p)

    def log(self, name="rec"):
        return self.router.element(name).log

    def payloads(self, name="rec"):
        return [entry[3] for entry in self.log(name)]

    def times_ms(self, name="rec"):
        """When each packet reached the recorder, in ms since the start of the run."""
        return [(entry[0] - SIM_START_NS) / MS for entry in self.log(name)]

    def stamps_ms(self, name="rec"):
        """Each recorded packet's timestamp, in ms since the start of the run."""
        return [(entry[1] - SIM_START_NS) / MS for entry in self.log(name)]


@pytest.fixture
def sim():
    """sim(config) -> Sim: build a router in simulated time."""
    return Sim
