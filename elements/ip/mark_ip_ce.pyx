# cython: language_level=3
"""MarkIPCE: sets the ECN field of IP packets to Congestion Experienced."""
from libc.stdint cimport uint16_t, uint64_t

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, packet_kill, packet_uniqueify
from clickpy.elements.ip.ip_header cimport (IP_ECN_CE, IP_ECN_NOT_ECT, IP_ECNMASK, ip_header_ok,
                                            load_u16_raw, update_in_cksum)

from clickpy.runtime.args import Arg, Bool
from clickpy.runtime.handlers import Read


cdef class MarkIPCE(SimpleElement):
    """=c
    MarkIPCE([FORCE])

    =s ip
    sets IP packets' ECN field to Congestion Experienced

    =d
    Expects IP packets (with the IP header annotation). Sets the ECN field
    to Congestion Experienced (3), updates the checksum incrementally and
    passes the packet on. Packets that are not ECN-capable (ECN 0) are
    dropped unless FORCE is true. Packets without an IP header are dropped.

    =h drops read-only
    Packets dropped because they were not ECN-capable.
    """
    arguments = (Arg("FORCE", Bool, False, positional=True),)
    handlers = (Read("drops", lambda e: e.drops),)

    cdef public bint force
    cdef public uint64_t drops

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef unsigned char *ip
        cdef uint16_t old
        if not ip_header_ok(p):
            self.drop(p)
            return NULL
        ip = p.buffer + p.network
        if (ip[1] & IP_ECNMASK) == IP_ECN_NOT_ECT and not self.force:
            self.drops += 1
            packet_kill(p)
            return NULL
        if (ip[1] & IP_ECNMASK) == IP_ECN_CE:
            return p
        p = packet_uniqueify(p)
        if p == NULL:
            return NULL
        ip = p.buffer + p.network
        old = load_u16_raw(ip)
        ip[1] |= IP_ECN_CE
        update_in_cksum(ip + 10, old, load_u16_raw(ip))
        return p
