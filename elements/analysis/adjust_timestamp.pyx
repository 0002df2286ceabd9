# cython: language_level=3
"""AdjustTimestamp: adds a (possibly negative) time to packets' timestamp annotations."""
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport FIRST_TIMESTAMP_ANNO_OFFSET, Packet

from clickpy.runtime.args import Arg, ArgError, Bool, SignedTimestamp, unparse_timestamp
from clickpy.runtime.handlers import HandlerError, ReadWrite



def _write_time(e, value):
    try:
        e.time = SignedTimestamp(value)
    except ArgError as err:
        raise HandlerError(f"time: {err}") from None


cdef class AdjustTimestamp(SimpleElement):
    """=c
    AdjustTimestamp(TIME [, I<keywords> FIRST, ALL])

    =s timestamps
    adjust the time in the packet's timestamp annotation

    =d
    Adds TIME (a possibly negative time, like '-1' or '+1.5' or '250ms') to
    each packet's timestamp annotation. Zero timestamps (not set) are left
    alone unless ALL is true. FIRST adjusts the "first timestamp"
    annotation instead.

    =h time read/write: the TIME argument

    =e
    FromIPSummaryDump(trace.txt, STOP true) -> AdjustTimestamp(-1) -> ToIPSummaryDump(-, FIELDS timestamp);
    """
    port_count = "1/1"
    processing = "a"
    arguments = (
        Arg("TIME", SignedTimestamp, 0, positional=True),
        Arg("FIRST", Bool, False),
        Arg("ALL", Bool, False),
    )
    handlers = (ReadWrite("time", lambda e: unparse_timestamp(e.time), _write_time),)

    cdef public int64_t time
    cdef public bint first
    cdef public bint all

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef int64_t ts
        if self.first:
            memcpy(&ts, &p.anno[FIRST_TIMESTAMP_ANNO_OFFSET], 8)
            if ts != 0 or self.all:
                ts += self.time
                memcpy(&p.anno[FIRST_TIMESTAMP_ANNO_OFFSET], &ts, 8)
        elif p.timestamp != 0 or self.all:
            p.timestamp += self.time
        return p
