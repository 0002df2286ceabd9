# cython: language_level=3
"""CheckTCPHeader: validates the TCP header and checksum of TCP/IP packets."""
from libc.stdint cimport int32_t, int64_t, uint64_t

from clickpy.runtime.element cimport Element, SimpleElement
from clickpy.runtime.packet cimport Packet, packet_kill
from clickpy.elements.ip.ip_header cimport (IP_PROTO_TCP, TCP_HEADER_LEN, in_cksum,
                                            in_cksum_pseudohdr, ip_hl, ip_len, ip_p)

import sys

from clickpy.runtime.args import Arg, Bool
from clickpy.runtime.handlers import Read

REASONS = ("not TCP", "bad packet length", "bad TCP checksum")

cdef enum:
    NOT_TCP = 0
    BAD_LENGTH = 1
    BAD_CHECKSUM = 2
    NREASONS = 3


def _drop_details(e):
    return "".join(f"{n}\t{REASONS[i]}\n" for i, n in enumerate(e.reason_drops))


cdef class CheckTCPHeader(SimpleElement):
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
                sys.stderr.write(f"{self.name}: TCP header check failed: {REASONS[reason]}\n")
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
        cdef const unsigned char *tcph
        cdef int64_t seg_len, hlen, tcph_len
        if p.network < 0 or end - p.network < 10:
            return self.bad(NOT_TCP if p.network < 0 else BAD_LENGTH, p)
        iph = p.buffer + p.network
        if ip_p(iph) != IP_PROTO_TCP:
            return self.bad(NOT_TCP, p)
        if end - p.network < 20:
            return self.bad(BAD_LENGTH, p)
        hlen = ip_hl(iph)
        seg_len = <int64_t> ip_len(iph) - hlen
        # the whole segment must be in the packet, from the transport header on
        if (seg_len < TCP_HEADER_LEN or p.transport < p.network
                or <int64_t> p.length < seg_len + hlen + (p.network - <int32_t> p.data)
                or <int64_t> p.transport + seg_len > end):
            return self.bad(BAD_LENGTH, p)
        tcph = p.buffer + p.transport
        tcph_len = (tcph[12] >> 4) << 2
        if tcph_len < TCP_HEADER_LEN or seg_len < tcph_len:
            return self.bad(BAD_LENGTH, p)
        if in_cksum_pseudohdr(in_cksum(tcph, <int> seg_len), iph, <int> seg_len) != 0:
            return self.bad(BAD_CHECKSUM, p)
        return p
