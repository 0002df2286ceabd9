# cython: language_level=3
"""Align: moves packet data so that it starts at a given offset from an aligned address."""
from libc.stdint cimport int32_t, uint32_t, uintptr_t
from libc.string cimport memcpy, memmove

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport (PACKET_ANNO_SIZE, Packet, packet_kill, packet_make, packet_shared,
                                     pkt_data, pkt_tailroom)

from clickpy.runtime.args import Arg, Unsigned


cdef inline int32_t lowest_start(Packet *p) noexcept:
    """Buffer offset of the first byte to keep: the data, or a header set before it."""
    cdef int32_t lo = <int32_t> p.data
    if 0 <= p.mac < lo:
        lo = p.mac
    if 0 <= p.network < lo:
        lo = p.network
    if 0 <= p.transport < lo:
        lo = p.transport
    return lo


cdef void shift_in_place(Packet *p, uint32_t delta) noexcept:
    """Move the data (and headers before it) delta bytes towards the buffer end."""
    cdef int32_t lo = lowest_start(p)
    memmove(p.buffer + lo + delta, p.buffer + lo, p.data + p.length - lo)
    p.data += delta
    if p.mac >= 0:
        p.mac += delta
    if p.network >= 0:
        p.network += delta
    if p.transport >= 0:
        p.transport += delta


cdef class Align(SimpleElement):
    """=c
    Align(MODULUS, OFFSET)

    =s basicmod
    aligns packet data

    =d
    Moves each packet's data, if needed, so that its first byte lies OFFSET
    bytes past a MODULUS-byte boundary in memory (MODULUS 2, 4 or 8; OFFSET
    less than MODULUS). A packet's data starts at its buffer address plus
    its data offset; data is moved within the buffer when it is not shared
    and the tailroom allows, and otherwise copied to a new buffer (headers
    set before the data move with it).

    =e
    FromDevice(eth0) -> Align(4, 2) -> ...   // IP header 4-byte aligned after 14 bytes of Ethernet
    """
    port_count = "1/1"
    processing = "a"
    arguments = (
        Arg("MODULUS", Unsigned, None, positional=True, mandatory=True),
        Arg("OFFSET", Unsigned, None, positional=True, mandatory=True),
    )

    cdef public unsigned modulus
    cdef public unsigned offset
    cdef uintptr_t _mask

    def configure(self, conf, errh):
        if not SimpleElement.configure(self, conf, errh):
            return
        if self.modulus not in (2, 4, 8):
            return errh.error("MODULUS must be 2, 4, or 8")
        if self.offset >= self.modulus:
            return errh.error("OFFSET must be smaller than MODULUS")
        self._mask = self.modulus - 1

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef uint32_t delta = (self.offset - (<uintptr_t> pkt_data(p) & self._mask)) & self._mask
        cdef Packet *q
        cdef int32_t lo
        if delta == 0:
            return p
        if not packet_shared(p) and pkt_tailroom(p) >= delta:
            shift_in_place(p, delta)
            return p
        # A fresh buffer with the same layout plus a little tailroom, then shift there.
        lo = lowest_start(p)
        q = packet_make(<uint32_t> lo, p.buffer + lo, p.data + p.length - lo, 8)
        if q == NULL:
            packet_kill(p)
            self.dropped += 1
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
        delta = (self.offset - (<uintptr_t> pkt_data(q) & self._mask)) & self._mask
        if delta:
            shift_in_place(q, delta)
        return q
