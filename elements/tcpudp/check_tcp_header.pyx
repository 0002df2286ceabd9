# cython: language_level=3
"""CheckTCPHeader: validates the TCP header and checksum of TCP/IP packets."""
cimport cython
from libc.stdint cimport int32_t, int64_t

from clickpy.runtime.packet cimport Packet
from clickpy.elements.ip.header_check cimport HEADER_OK, HeaderCheck
from clickpy.elements.ip.ip_header cimport (IP_PROTO_TCP, TCP_HEADER_LEN, in_cksum,
                                            in_cksum_pseudohdr, ip_hl, ip_len, ip_p)

cdef enum:      # the reasons check returns: indexes into the class's REASONS
    NOT_TCP = 0
    BAD_LENGTH = 1
    BAD_CHECKSUM = 2


@cython.final
cdef class CheckTCPHeader(HeaderCheck):
    """=c
    CheckTCPHeader([keywords VERBOSE, DETAILS])

    =s tcp
    checks TCP header on TCP/IP packets

    =d
    Expects TCP/IP packets with their IP header annotation set. Checks that
    the packet is TCP, that the TCP header length fits the IP length and the
    packet holds all of the segment, and that the TCP checksum (with the
    pseudo-header) is correct. Good packets leave on output 0; bad ones on
    output 1 if it exists, else they are dropped.

    The first bad packet prints a message to standard error; VERBOSE (a
    boolean, false by default) prints one for every bad packet. DETAILS
    (boolean, false by default) counts bad packets per reason (the
    C<drop_details> handler).

    =h drops read-only
    Number of bad packets seen.

    =h drop_details read-only
    Bad packets per reason: "COUNT<tab>REASON" lines (only with DETAILS).

    =a CheckIPHeader, CheckUDPHeader, CheckICMPHeader, MarkIPHeader, SetTCPChecksum
    """
    REASONS = ("not TCP", "bad packet length", "bad TCP checksum")
    FAILURE = "{name}: TCP header check failed: {reason}"

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        return self.verdict(self.check(p), p, out)

    cdef inline int check(self, Packet *p) noexcept:
        cdef int32_t end = <int32_t> (p.data + p.length)
        cdef const unsigned char *iph
        cdef const unsigned char *tcph
        cdef int64_t seg_len, hlen, tcph_len
        if p.network < 0 or end - p.network < 10:
            return NOT_TCP if p.network < 0 else BAD_LENGTH
        iph = p.buffer + p.network
        if ip_p(iph) != IP_PROTO_TCP:
            return NOT_TCP
        if end - p.network < 20:
            return BAD_LENGTH
        hlen = ip_hl(iph)
        seg_len = <int64_t> ip_len(iph) - hlen
        # the whole segment must be in the packet, from the transport header on
        if (seg_len < TCP_HEADER_LEN or p.transport < p.network
                or <int64_t> p.length < seg_len + hlen + (p.network - <int32_t> p.data)
                or <int64_t> p.transport + seg_len > end):
            return BAD_LENGTH
        tcph = p.buffer + p.transport
        tcph_len = (tcph[12] >> 4) << 2
        if tcph_len < TCP_HEADER_LEN or seg_len < tcph_len:
            return BAD_LENGTH
        if in_cksum_pseudohdr(in_cksum(tcph, <int> seg_len), iph, <int> seg_len) != 0:
            return BAD_CHECKSUM
        return HEADER_OK
