# cython: language_level=3
"""CheckUDPHeader: validates the UDP length and checksum of UDP/IP packets."""
from libc.stdint cimport int32_t, int64_t, uint64_t

from clickpy.runtime.element cimport Element, SimpleElement
from clickpy.runtime.packet cimport Packet, packet_kill
from clickpy.elements.ip.ip_header cimport (IP_PROTO_UDP, UDP_HEADER_LEN, in_cksum,
                                            in_cksum_pseudohdr, ip_hl, ip_p, load_u16_raw, rd16)

import sys

from clickpy.runtime.args import Arg, Bool
from clickpy.runtime.handlers import Read

REASONS = ("not UDP", "bad packet length", "bad UDP checksum")

cdef enum:
    NOT_UDP = 0
    BAD_LENGTH = 1
    BAD_CHECKSUM = 2
    NREASONS = 3


def _drop_details(e):
    return "".join(f"{n}\t{REASONS[i]}\n" for i, n in enumerate(e.reason_drops))


cdef class CheckUDPHeader(SimpleElement):
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
    port_count = "1/1-2"
    processing = "a/ah"
    arguments = (Arg("VERBOSE", Bool, False), Arg("DETAILS", Bool, False))
    handlers = (Read("drops", lambda e: e.drops),)

    cdef public bint verbose
    cdef public bint details
    cdef public uint64_t drops
    cdef uint64_t _reason_drops[3]
    cdef public object extra_handlers

    def __cinit__(self):
        self.extra_handlers = ()

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        self.extra_handlers = (Read("drop_details", _drop_details),) if self.details else ()
        return True

    @property
    def reason_drops(self):
        return [self._reason_drops[i] for i in range(NREASONS)]

    cdef Packet *bad(self, int reason, Packet *p) noexcept:
        if self.drops == 0 or self.verbose:
            try:
                sys.stderr.write(f"UDP header check failed: {REASONS[reason]}\n")
            except BaseException:
                pass
        self.drops += 1
        if self.details:
            self._reason_drops[reason] += 1
        if self.noutputs == 2:
            self.checked_output_push(1, p)
        else:
            packet_kill(p)
        return NULL

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef int32_t end = <int32_t> (p.data + p.length)
        cdef const unsigned char *iph
        cdef const unsigned char *udph
        cdef int64_t ulen
        if p.network < 0 or end - p.network < 10:
            return self.bad(NOT_UDP if p.network < 0 else BAD_LENGTH, p)
        iph = p.buffer + p.network
        if ip_p(iph) != IP_PROTO_UDP:
            return self.bad(NOT_UDP, p)
        if end - p.network < 20 or p.transport < p.network or p.transport + UDP_HEADER_LEN > end:
            return self.bad(BAD_LENGTH, p)
        udph = p.buffer + p.transport
        ulen = rd16(udph + 4)
        if (ulen < UDP_HEADER_LEN
                or <int64_t> p.length < ulen + ip_hl(iph) + (p.network - <int32_t> p.data)
                or <int64_t> p.transport + ulen > end):
            return self.bad(BAD_LENGTH, p)
        if load_u16_raw(udph + 6) != 0:
            if in_cksum_pseudohdr(in_cksum(udph, <int> ulen), iph, <int> ulen) != 0:
                return self.bad(BAD_CHECKSUM, p)
        return p
