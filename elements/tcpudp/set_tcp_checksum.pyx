# cython: language_level=3
"""SetTCPChecksum: computes and stores the TCP checksum of TCP/IP packets."""
from libc.stdint cimport int32_t, int64_t

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, packet_kill, packet_uniqueify
from clickpy.elements.ip.ip_header cimport (TCP_HEADER_LEN, in_cksum, in_cksum_pseudohdr, ip_hl,
                                            ip_is_frag, ip_len, store_u16_raw)

import sys

from clickpy.runtime.args import Arg, Bool


cdef class SetTCPChecksum(SimpleElement):
    """=c
    SetTCPChecksum([FIXOFF])

    =s tcp
    sets TCP packets' checksums

    =d
    Expects TCP/IP packets with their IP and transport header annotations
    set. Computes the TCP checksum over the segment (its length is the IP
    length minus the IP header length) and the pseudo-header built from the
    IP header, and stores it in the TCP header. A packet whose segment is
    shorter than a TCP header or longer than the packet is dropped with the
    message "SetTCPChecksum: bad lengths".

    If FIXOFF is true (it is false by default), a TCP header length (data
    offset) below 20 bytes is first set to 20, and one longer than the
    segment (in a packet that is not a fragment) to the segment length.

    =a CheckTCPHeader, SetIPChecksum, CheckIPHeader, SetUDPChecksum
    """
    port_count = "1/1"
    processing = "a"
    arguments = (Arg("FIXOFF", Bool, False, positional=True),)

    cdef public bint fixoff

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef int32_t end
        cdef unsigned char *iph
        cdef unsigned char *tcph
        cdef int64_t plen
        cdef unsigned off
        p = packet_uniqueify(p)
        if p == NULL:
            return NULL
        end = <int32_t> (p.data + p.length)
        if p.network < 0 or p.transport < p.network or end - p.network < 20:
            return self.bad(p)
        iph = p.buffer + p.network
        tcph = p.buffer + p.transport
        plen = <int64_t> ip_len(iph) - ip_hl(iph)
        if plen < TCP_HEADER_LEN or plen > end - p.transport:
            return self.bad(p)
        if self.fixoff:
            off = (tcph[12] >> 4) << 2
            if off < TCP_HEADER_LEN:
                tcph[12] = (tcph[12] & 0x0F) | ((TCP_HEADER_LEN >> 2) << 4)
            elif off > plen and not ip_is_frag(iph):
                tcph[12] = (tcph[12] & 0x0F) | (((plen >> 2) & 0x0F) << 4)
        tcph[16] = 0
        tcph[17] = 0
        store_u16_raw(tcph + 16, in_cksum_pseudohdr(in_cksum(tcph, <int> plen), iph, <int> plen))
        return p

    cdef Packet *bad(self, Packet *p) noexcept:
        try:
            sys.stderr.write("SetTCPChecksum: bad lengths\n")
        except BaseException:
            pass
        self.dropped += 1
        packet_kill(p)
        return NULL
