# cython: language_level=3
"""DecIPTTL: decrements the IP time-to-live; expired packets leave on output 1."""
from libc.stdint cimport uint32_t, uint64_t

from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport Packet, packet_uniqueify
from clickpy.elements.ip.ip_header cimport ip_header_ok, ip_ttl, rd16, wr16

from clickpy.runtime.args import Arg, ArgError, Bool
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite


def _write_active(e, value):
    try:
        e.active = Bool(value)
    except ArgError as err:
        raise HandlerError(f"active: {err}") from None


cdef class DecIPTTL(BranchElement):
    """=c
    DecIPTTL([keywords ACTIVE, MULTICAST])

    =s ip
    decrements IP time-to-live, drops dead packets

    =d
    Expects IP packets (with the IP header annotation). A packet whose TTL is
    1 or less has expired: it leaves on output 1 (usually to an ICMPError),
    or is dropped if there is no output 1. Otherwise the TTL is decremented,
    the checksum updated incrementally, and the packet leaves on output 0.
    ACTIVE false passes every packet unchanged; MULTICAST false leaves the
    TTL of multicast packets alone. Packets without an IP header are dropped.

    =h drops read-only
    Expired packets.

    =h active read/write

    =e
      ... -> CheckIPHeader -> dt :: DecIPTTL -> ...
      dt[1] -> ICMPError(18.26.4.24, timeexceeded) -> ...

    =a ICMPError, CheckIPHeader
    """
    port_count = "1/1-2"
    processing = "a/ah"
    arguments = (
        Arg("ACTIVE", Bool, True),
        Arg("MULTICAST", Bool, True),
    )
    handlers = (
        Read("drops", lambda e: e.drops),
        ReadWrite("active", lambda e: e.active, _write_active),
    )

    cdef public bint active
    cdef public bint multicast
    cdef public uint64_t drops

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        cdef unsigned char *ip
        cdef uint32_t sum
        out[0] = 0
        if not ip_header_ok(p):
            self.drop(p)
            return NULL
        if not self.active:
            return p
        ip = p.buffer + p.network
        if not self.multicast and (ip[16] & 0xF0) == 0xE0:
            return p
        if ip_ttl(ip) <= 1:
            self.drops += 1
            out[0] = 1
            return p
        p = packet_uniqueify(p)
        if p == NULL:
            return NULL
        ip = p.buffer + p.network
        ip[8] -= 1
        # RFC 1624 with the old halfword (ttl << 8 | proto) lowered by 0x0100.
        sum = (~rd16(ip + 10) & 0xFFFF) + 0xFEFF
        wr16(ip + 10, <unsigned short> ~(sum + (sum >> 16)))
        return p
