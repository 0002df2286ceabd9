# cython: language_level=3
"""Pad: lengthens packets to a minimum length, or back to their extra length annotation."""
from libc.stdint cimport uint32_t
from libc.string cimport memset

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport (EXTRA_LENGTH_ANNO_OFFSET, Packet, pkt_anno_u32, pkt_data, pkt_put,
                                     pkt_set_anno_u32)

from clickpy.runtime.args import Arg, Bool, Unsigned


cdef class Pad(SimpleElement):
    """=c
    Pad([LENGTH, I<keyword> ZERO])

    =s basicmod
    extends packet length

    =d
    Extends packets shorter than LENGTH bytes to LENGTH bytes. Without
    LENGTH (or with 0), extends each packet by its extra length annotation,
    undoing a Truncate. Every packet leaves with extra length annotation 0.
    The added bytes are zeros if ZERO is true (the default), otherwise left
    as they are in the buffer.

    =e
    ... -> Pad(60) -> ToDevice(eth0);   // minimum Ethernet frame without CRC
    """
    port_count = "1/1"
    processing = "a"
    arguments = (
        Arg("LENGTH", Unsigned, 0, positional=True),
        Arg("ZERO", Bool, True),
    )

    cdef public unsigned length
    cdef public bint zero

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef uint32_t nput
        if self.length:
            nput = self.length - p.length if p.length < self.length else 0
        else:
            nput = pkt_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET)
        if nput:
            p = pkt_put(p, nput)
            if p == NULL:
                self.dropped += 1   # no buffer big enough
                return NULL
            if self.zero:
                memset(pkt_data(p) + p.length - nput, 0, nput)
        pkt_set_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET, 0)
        return p
