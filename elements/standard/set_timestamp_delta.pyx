# cython: language_level=3
"""SetTimestampDelta: replaces packet timestamps with differences from a reference time."""
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport FIRST_TIMESTAMP_ANNO_OFFSET, Packet
from clickpy.runtime.scheduler cimport Scheduler

from clickpy.runtime.args import Arg, ArgError, Word, unparse_timestamp
from clickpy.runtime.handlers import Read, Write

cdef enum:
    RANGE = 0
    NOW = 1
    FIRST = 2


def _type(text, element=None):
    v = Word(text, element)
    if v not in ("RANGE", "NOW", "FIRST"):
        raise ArgError("bad TYPE")
    return v


cdef class SetTimestampDelta(SimpleElement):
    """=c
    SetTimestampDelta([I<keyword> TYPE])

    =s timestamps
    replaces packet timestamps with deltas

    =d
    Replaces every nonzero timestamp annotation with a difference. TYPE RANGE
    (the default): the timestamp minus the first nonzero timestamp seen.
    NOW: the current time minus the timestamp. FIRST: the timestamp minus the
    packet's "first timestamp" annotation (see SetTimestamp). Packets with a
    zero timestamp pass unchanged.

    =h first read-only
    The first nonzero timestamp seen (RANGE), 0 if none yet.

    =h reset write-only
    Forget the first timestamp: the next nonzero one becomes the reference.

    =e
    FromDump(trace.pcap) -> SetTimestampDelta -> Print(TIMESTAMP true) -> Discard;
    """
    port_count = "1/1"
    processing = "a"
    arguments = (Arg("TYPE", _type, "RANGE"),)
    handlers = (
        Read("first", lambda e: unparse_timestamp(e.first)),
        Write("reset", lambda e, v: e.reset(), button=True),
    )

    cdef public str type
    cdef public int64_t first
    cdef int _kind
    cdef Scheduler _sched

    def configure(self, conf, errh):
        if not SimpleElement.configure(self, conf, errh):
            return
        self._kind = {"RANGE": RANGE, "NOW": NOW, "FIRST": FIRST}[self.type]

    def initialize(self, errh):
        self._sched = self.router.scheduler

    def reset(self):
        self.first = 0

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef int64_t f
        if p.timestamp == 0:
            return p
        if self._kind == RANGE:
            if self.first == 0:
                self.first = p.timestamp
            p.timestamp -= self.first
        elif self._kind == NOW:
            p.timestamp = self._sched.now() - p.timestamp
        else:
            memcpy(&f, &p.anno[FIRST_TIMESTAMP_ANNO_OFFSET], 8)
            p.timestamp -= f
        return p
