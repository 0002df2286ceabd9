# cython: language_level=3
"""Unstrip: puts bytes back at the front of every packet."""
from libc.string cimport memcpy

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport (PACKET_ANNO_SIZE, Packet, packet_kill, packet_make, packet_shared, pkt_push,
                                     pkt_tailroom)

from clickpy.runtime.args import Arg, Unsigned


cdef Packet *copy_with_headroom(Packet *p) noexcept:
    """An unshared copy of p that keeps its headroom bytes too (NULL, p freed, on failure)."""
    cdef Packet *q = packet_make(0, p.buffer, p.data + p.length, pkt_tailroom(p))
    if q == NULL:
        packet_kill(p)
        return NULL
    q.data = p.data
    q.length = p.length
    q.mac = p.mac
    q.network = p.network
    q.transport = p.transport
    q.timestamp = p.timestamp
    q.packet_type = p.packet_type
    q.device = p.device
    memcpy(q.anno, p.anno, PACKET_ANNO_SIZE)
    packet_kill(p)
    return q


cdef class Unstrip(SimpleElement):
    """=c
    Unstrip(LENGTH)

    =s basicmod
    unstrips bytes from front of packets

    =d
    Adds LENGTH bytes to the front of each packet: the data start moves back
    over the headroom, so bytes an earlier Strip removed come back as they
    were (also when the buffer is shared with a clone, which is copied first
    with its headroom). If the headroom is too small, the packet moves to a
    bigger buffer and the new bytes are undefined.

    =e
    ... -> Strip(14) -> CheckIPHeader -> Unstrip(14) -> ...;
    """
    port_count = "1/1"
    processing = "a"
    arguments = (Arg("LENGTH", Unsigned, None, positional=True, mandatory=True),)

    cdef public unsigned length

    cdef Packet *simple_action(self, Packet *p) noexcept:
        if self.length <= p.data and packet_shared(p):
            p = copy_with_headroom(p)
            if p == NULL:
                self.dropped += 1
                return NULL
        p = pkt_push(p, self.length)
        if p == NULL:
            self.dropped += 1
        return p
