# cython: language_level=3
"""CheckICMPHeader: validates the length and checksum of ICMP packets."""
cimport cython
from libc.stdint cimport int32_t, int64_t

from clickpy.runtime.packet cimport Packet
from clickpy.elements.ip.header_check cimport HEADER_OK, HeaderCheck
from clickpy.elements.ip.ip_header cimport ICMP_HEADER_LEN, IP_PROTO_ICMP, in_cksum, ip_p

cdef enum:      # the reasons check returns: indexes into the class's REASONS
    NOT_ICMP = 0
    BAD_LENGTH = 1
    BAD_CHECKSUM = 2

    # ICMP types with a length rule
    ICMP_UNREACH = 3
    ICMP_SOURCEQUENCH = 4
    ICMP_REDIRECT = 5
    ICMP_TIMXCEED = 11
    ICMP_PARAMPROB = 12
    ICMP_TSTAMP = 13
    ICMP_TSTAMPREPLY = 14
    ICMP_IREQ = 15
    ICMP_IREQREPLY = 16


@cython.final
cdef class CheckICMPHeader(HeaderCheck):
    """=c
    CheckICMPHeader([keywords VERBOSE, DETAILS])

    =s icmp
    checks ICMP header on ICMP packets

    =d
    Expects ICMP/IP packets with their IP header annotation set. Checks that
    the packet is ICMP, that its length makes sense for its type (at least
    the 8-byte header; error messages also carry an IP header and 8 bytes of
    the datagram; timestamp messages are exactly 20 bytes and information
    requests exactly 8) and that the ICMP checksum is correct. Good packets
    leave on output 0; bad ones on output 1 if it exists, else they are
    dropped.

    The first bad packet prints a message to standard error; VERBOSE (a
    boolean, false by default) prints one for every bad packet. DETAILS
    (boolean, false by default) counts bad packets per reason (the
    C<drop_details> handler).

    =h drops read-only
    Number of bad packets seen.

    =h drop_details read-only
    Bad packets per reason: "COUNT<tab>REASON" lines (only with DETAILS).

    =a CheckIPHeader, CheckTCPHeader, CheckUDPHeader, MarkIPHeader
    """
    REASONS = ("not ICMP", "bad packet length", "bad ICMP checksum")
    FAILURE = "{name}: ICMP header check failed: {reason}"

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        return self.verdict(self.check(p), p, out)

    cdef inline int check(self, Packet *p) noexcept:
        cdef int32_t end = <int32_t> (p.data + p.length)
        cdef const unsigned char *icmph
        cdef int64_t icmp_len
        cdef int t
        if p.network < 0 or end - p.network < 10:
            return NOT_ICMP if p.network < 0 else BAD_LENGTH
        if ip_p(p.buffer + p.network) != IP_PROTO_ICMP:
            return NOT_ICMP
        icmp_len = <int64_t> end - p.transport
        if end - p.network < 20 or p.transport < p.network or icmp_len < ICMP_HEADER_LEN:
            return BAD_LENGTH
        icmph = p.buffer + p.transport
        t = icmph[0]
        if t == ICMP_UNREACH or t == ICMP_TIMXCEED or t == ICMP_PARAMPROB or t == ICMP_SOURCEQUENCH \
                or t == ICMP_REDIRECT:
            # an IP header and the first 8 bytes of the datagram follow
            if icmp_len < ICMP_HEADER_LEN + 28:
                return BAD_LENGTH
        elif t == ICMP_TSTAMP or t == ICMP_TSTAMPREPLY:
            if icmp_len != ICMP_HEADER_LEN + 12:
                return BAD_LENGTH
        elif t == ICMP_IREQ or t == ICMP_IREQREPLY:
            if icmp_len != ICMP_HEADER_LEN:
                return BAD_LENGTH
        if in_cksum(icmph, <int> icmp_len) != 0:
            return BAD_CHECKSUM
        return HEADER_OK
