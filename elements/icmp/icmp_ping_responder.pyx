# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""ICMPPingResponder: turns ICMP echo requests into echo replies."""
from libc.stdint cimport uint16_t
from libc.string cimport memcpy

from clickpy.elements.ip.ip_header cimport (
    IP_HEADER_LEN, IP_PROTO_ICMP, ip_p, load_u16_raw, pkt_transport_length, update_in_cksum)
from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport (
    DST_IP_ANNO_OFFSET, PAINT_ANNO_OFFSET, Packet, packet_uniqueify)
from clickpy.runtime.scheduler cimport Scheduler

cdef enum:
    ICMP_ECHOREPLY = 0
    ICMP_ECHO = 8
    ICMP_SEQUENCED_LEN = 8      # sizeof(click_icmp_sequenced)


cdef class ICMPPingResponder(BranchElement):
    """=c
    ICMPPingResponder()

    =s icmp
    responds to ICMP echo requests

    =d
    Input packets are IP packets with their IP header annotations set. Each
    ICMP echo request becomes the matching echo reply, sent on output 0:
    addresses swapped, fragment field cleared, TTL 255, ICMP type echo-reply,
    checksums updated; its destination IP annotation is the new destination,
    its paint annotation is cleared and its timestamp is now. Other packets
    leave on output 1 if there is one, else they are dropped. Packets with
    no usable IP header are dropped.

    =n
    Source route options are not honoured (nor are they in Click).

    =a ICMPSendPings, ICMPError
    """
    port_count = "1/1-2"
    processing = "a/ah"
    arguments = ()

    cdef Scheduler _sched

    def initialize(self, errh):
        self._sched = <Scheduler> self.router.scheduler

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        """The reply (output 0), p itself for output 1, or NULL if p was dropped."""
        cdef unsigned char *iph
        cdef unsigned char *icmph
        cdef uint16_t old_hw, new_hw
        cdef unsigned char tmp[4]
        out[0] = 1
        if (p.network < 0 or p.transport < p.network + IP_HEADER_LEN
                or p.network + IP_HEADER_LEN > <int> (p.data + p.length)):
            self.drop(p)
            return NULL
        if (pkt_transport_length(p) < ICMP_SEQUENCED_LEN or ip_p(p.buffer + p.network) != IP_PROTO_ICMP
                or (p.buffer + p.transport)[0] != ICMP_ECHO):
            return p
        p = packet_uniqueify(p)
        if p == NULL:
            self.dropped += 1
            return NULL
        out[0] = 0
        iph = p.buffer + p.network
        # Swapping the addresses leaves the checksum as it is.
        memcpy(tmp, iph + 16, 4)
        memcpy(iph + 16, iph + 12, 4)
        memcpy(iph + 12, tmp, 4)
        update_in_cksum(iph + 10, load_u16_raw(iph + 6), 0)
        iph[6] = 0
        iph[7] = 0
        old_hw = load_u16_raw(iph + 8)
        iph[8] = 255
        update_in_cksum(iph + 10, old_hw, load_u16_raw(iph + 8))
        memcpy(&p.anno[DST_IP_ANNO_OFFSET], iph + 16, 4)
        p.timestamp = self._sched.now() if self._sched is not None else 0
        p.anno[PAINT_ANNO_OFFSET] = 0
        icmph = p.buffer + p.transport
        old_hw = load_u16_raw(icmph)
        icmph[0] = ICMP_ECHOREPLY
        icmph[1] = 0
        update_in_cksum(icmph + 2, old_hw, load_u16_raw(icmph))
        # An all-zero message checksums to 0xFFFF, which the update cannot give.
        if load_u16_raw(icmph + 2) == 0:
            if all_zero(icmph, pkt_transport_length(p)):
                icmph[2] = 0xFF
                icmph[3] = 0xFF
        return p


cdef bint all_zero(const unsigned char *x, int n) noexcept:
    cdef int i
    for i in range(n):
        if x[i]:
            return False
    return True
