# cython: language_level=3
"""CheckUDPHeader: validates the UDP length and checksum of UDP/IP packets."""
cimport cython
from libc.stdint cimport int32_t, int64_t

from clickpy.runtime.packet cimport Packet
from clickpy.elements.ip.header_check cimport HEADER_OK, HeaderCheck
from clickpy.elements.ip.ip_header cimport (IP_PROTO_UDP, UDP_HEADER_LEN, in_cksum,
                                            in_cksum_pseudohdr, ip_hl, ip_p, load_u16_raw, rd16)

cdef enum:      # the reasons check returns: indexes into the class's REASONS
    NOT_UDP = 0
    BAD_LENGTH = 1
    BAD_CHECKSUM = 2


@cython.final
cdef class CheckUDPHeader(HeaderCheck):
    """=c
    CheckUDPHeader([keywords VERBOSE, DETAILS])

    =s udp
    checks UDP header on UDP/IP packets

    =d
    Expects UDP/IP packets with their IP header annotation set. Checks that
    the packet is UDP, that the UDP length is at least 8 and the packet holds
    that many bytes, and, unless the checksum field is 0 (no checksum), that
    the UDP checksum (with the pseudo-header) is correct. Good packets leave
    on output 0; bad ones on output 1 if it exists, else they are dropped.

    The first bad packet prints a message to standard error; VERBOSE (a
    boolean, false by default) prints one for every bad packet. DETAILS
    (boolean, false by default) counts bad packets per reason (the
    C<drop_details> handler).

    =h drops read-only
    Number of bad packets seen.

    =h drop_details read-only
    Bad packets per reason: "COUNT<tab>REASON" lines (only with DETAILS).

    =a CheckIPHeader, CheckTCPHeader, CheckICMPHeader, MarkIPHeader, SetUDPChecksum
    """
    REASONS = ("not UDP", "bad packet length", "bad UDP checksum")
    FAILURE = "UDP header check failed: {reason}"

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        return self.verdict(self.check(p), p, out)

    cdef inline int check(self, Packet *p) noexcept:
        cdef int32_t end = <int32_t> (p.data + p.length)
        cdef const unsigned char *iph
        cdef const unsigned char *udph
        cdef int64_t ulen
        if p.network < 0 or end - p.network < 10:
            return NOT_UDP if p.network < 0 else BAD_LENGTH
        iph = p.buffer + p.network
        if ip_p(iph) != IP_PROTO_UDP:
            return NOT_UDP
        if end - p.network < 20 or p.transport < p.network or p.transport + UDP_HEADER_LEN > end:
            return BAD_LENGTH
        udph = p.buffer + p.transport
        ulen = rd16(udph + 4)
        if (ulen < UDP_HEADER_LEN
                or <int64_t> p.length < ulen + ip_hl(iph) + (p.network - <int32_t> p.data)
                or <int64_t> p.transport + ulen > end):
            return BAD_LENGTH
        if load_u16_raw(udph + 6) != 0:
            if in_cksum_pseudohdr(in_cksum(udph, <int> ulen), iph, <int> ulen) != 0:
                return BAD_CHECKSUM
        return HEADER_OK
