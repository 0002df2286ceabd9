# cython: language_level=3
"""SetUDPChecksum: computes and stores the UDP checksum of UDP/IP packets."""
from libc.stdint cimport int32_t, int64_t

from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport Packet, packet_uniqueify
from clickpy.elements.ip.ip_header cimport (UDP_HEADER_LEN, in_cksum, in_cksum_pseudohdr,
                                            ip_is_frag, rd16, store_u16_raw)

import sys


cdef class SetUDPChecksum(BranchElement):
    """=c
    SetUDPChecksum()

    =s udp
    sets UDP packets' checksums

    =d
    Expects UDP/IP packets with their IP and transport header annotations set
    (the protocol is not checked). Computes the UDP checksum over the UDP
    length's worth of bytes and the pseudo-header built from the IP header,
    and stores it in the UDP header; a checksum that computes to 0 is stored
    as 0xFFFF, since 0 means "no checksum" (RFC 768).

    IP fragments, and packets shorter than a UDP header or than the UDP
    length, leave on output 1 if it exists; otherwise they are dropped, and
    the first such packet prints a message.

    =a CheckUDPHeader, SetIPChecksum, CheckIPHeader, SetTCPChecksum
    """
    port_count = "1/1-2"
    processing = "a/ah"
    arguments = ()

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        cdef int32_t end
        cdef unsigned char *iph
        cdef unsigned char *udph
        cdef int64_t tlen, ulen
        cdef unsigned short csum
        out[0] = 0
        p = packet_uniqueify(p)
        if p == NULL:
            return NULL
        end = <int32_t> (p.data + p.length)
        if p.network < 0 or p.transport < p.network or end - p.network < 20:
            return self.bad(p, out)
        iph = p.buffer + p.network
        udph = p.buffer + p.transport
        tlen = end - p.transport
        if ip_is_frag(iph) or tlen < UDP_HEADER_LEN:
            return self.bad(p, out)
        ulen = rd16(udph + 4)
        if tlen < ulen:
            return self.bad(p, out)
        udph[6] = 0
        udph[7] = 0
        csum = in_cksum_pseudohdr(in_cksum(udph, <int> ulen), iph, <int> ulen)
        store_u16_raw(udph + 6, csum if csum != 0 else 0xFFFF)
        return p

    cdef Packet *bad(self, Packet *p, int *out) noexcept:
        if self.noutputs == 1:
            router = self.router
            try:
                if not getattr(router, "_set_udp_checksum_message", False):
                    sys.stderr.write(f"{self.name}: fragment or short packet\n")
                    router._set_udp_checksum_message = True
            except BaseException:
                pass
            self.dropped += 1
        out[0] = 1
        return p
