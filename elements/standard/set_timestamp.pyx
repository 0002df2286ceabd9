# cython: language_level=3
"""SetTimestamp: stores the current (or a fixed) time in each packet's timestamp annotation."""
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport FIRST_TIMESTAMP_ANNO_OFFSET, Packet
from clickpy.runtime.scheduler cimport Scheduler

from clickpy.runtime.args import Arg, Bool, Timestamp


cdef inline void set_first_timestamp(Packet *p, int64_t ns) noexcept:
    # The "first timestamp" annotation: 8 bytes at offset 32, nanoseconds
    # since the epoch (the representation of Packet.timestamp).
    memcpy(&p.anno[FIRST_TIMESTAMP_ANNO_OFFSET], &ns, 8)


cdef class SetTimestamp(SimpleElement):
    """=c
    SetTimestamp([TIMESTAMP, I<keyword> FIRST])

    =s timestamps
    stores the time in the packet's timestamp annotation

    =d
    Sets each packet's timestamp annotation to TIMESTAMP ('SECONDS.FRACTION'),
    or, without TIMESTAMP, to the time the packet passes (simulated time
    under --simtime). If FIRST is true, sets the "first timestamp"
    annotation instead (8 bytes at annotation offset 32, nanoseconds since
    the epoch, like the timestamp annotation).

    =e
    FromDevice(eth0) -> SetTimestamp -> ...;
    """
    port_count = "1/1"
    processing = "a"
    arguments = (
        Arg("TIMESTAMP", Timestamp, None, positional=True),
        Arg("FIRST", Bool, False),
        Arg("DELTA", Bool, False),
    )

    cdef public object timestamp
    cdef public bint first
    cdef public bint delta
    cdef bint _now
    cdef int64_t _ns
    cdef Scheduler _sched

    def configure(self, conf, errh):
        if not SimpleElement.configure(self, conf, errh):
            return
        if self.delta:
            return errh.error("SetTimestamp(DELTA) is deprecated, use SetTimestampDelta(TYPE FIRST)")
        self._now = self.timestamp is None or self.timestamp < 0
        self._ns = 0 if self._now else self.timestamp

    def initialize(self, errh):
        self._sched = self.router.scheduler

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef int64_t t = self._sched.now() if self._now else self._ns
        if self.first:
            set_first_timestamp(p, t)
        else:
            p.timestamp = t
        return p
