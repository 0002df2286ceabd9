# cython: language_level=3
"""SetIPChecksum: recomputes IP header checksums."""
from libc.stdint cimport uint64_t

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, packet_kill, packet_uniqueify, pkt_data
from clickpy.elements.ip.ip_header cimport IP_HEADER_LEN, ip_hl, ip_set_checksum

import sys

from clickpy.runtime.handlers import Read


cdef class SetIPChecksum(SimpleElement):
    """=c
    SetIPChecksum()

    =s ip
    sets IP packets' checksums

    =d
    Computes the IP header checksum of each packet (at the IP header
    annotation, or at the data start when there is none) and stores it.
    Packets too short for their header are dropped (the first drop prints a
    message). Elements that edit headers (DecIPTTL, SetIPDSCP, ...) already
    update checksums themselves.

    =h drops read-only

    =a CheckIPHeader, DecIPTTL, SetIPDSCP, IPRewriter
    """
    arguments = ()
    handlers = (Read("drops", lambda e: e.drops),)

    cdef public uint64_t drops

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef unsigned char *ip
        cdef long plen
        cdef unsigned hlen
        p = packet_uniqueify(p)
        if p == NULL:
            return NULL
        ip = p.buffer + p.network if p.network >= 0 else pkt_data(p)
        plen = <long> (pkt_data(p) + p.length - ip)
        if plen >= IP_HEADER_LEN:
            hlen = ip_hl(ip)
            if hlen >= IP_HEADER_LEN and hlen <= plen:
                ip_set_checksum(ip, hlen)
                return p
        self.drops += 1
        if self.drops == 1:
            try:
                sys.stderr.write("SetIPChecksum: bad input packet\n")
            except BaseException:
                pass
        packet_kill(p)
        return NULL
