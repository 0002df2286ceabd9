# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""FixIPSrc: sets the IP source address of packets that ask for it."""
from libc.string cimport memcpy

from clickpy.elements.ip.ip_header cimport IP_HEADER_LEN, ip_hl, ip_set_checksum, pkt_network_length
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport FIX_IP_SRC_ANNO_OFFSET, Packet, packet_uniqueify

from clickpy.runtime.args import Arg, IPAddress, ip_packed, ip_unpacked, parse_arguments


cdef class FixIPSrc(SimpleElement):
    """=c
    FixIPSrc(IPADDR)

    =s ip
    sets IP source field if requested by annotation

    =d
    For IP packets whose FIX_IP_SRC annotation is set, clears the
    annotation, sets the source address to IPADDR and recomputes the header
    checksum; other packets pass unchanged. Elements such as ICMPError set
    the annotation, since the standards want the outgoing interface's
    address as the source of what they make. A packet asking to be fixed
    whose IP header is not all in the packet is dropped.

    =a ICMPError
    """
    port_count = "1/1"
    processing = "a"
    arguments = (Arg("IPADDR", IPAddress, positional=True, mandatory=True),)

    cdef unsigned char _ip[4]

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        self.ipaddr = v["ipaddr"]
        return True

    @property
    def ipaddr(self):
        """IPADDR as an int (clickpy.runtime.args' IPv4 form)."""
        return ip_unpacked(self._ip[:4])

    @ipaddr.setter
    def ipaddr(self, value):
        cdef bytes packed = ip_packed(value)
        memcpy(self._ip, <const char *> packed, 4)

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef unsigned char *iph
        cdef int hlen
        if not p.anno[FIX_IP_SRC_ANNO_OFFSET] or p.network < 0:
            return p
        if pkt_network_length(p) < IP_HEADER_LEN:
            self.drop(p)
            return NULL
        hlen = ip_hl(p.buffer + p.network)
        if hlen < IP_HEADER_LEN or hlen > pkt_network_length(p):
            self.drop(p)
            return NULL
        p = packet_uniqueify(p)
        if p == NULL:
            self.dropped += 1
            return NULL
        p.anno[FIX_IP_SRC_ANNO_OFFSET] = 0
        iph = p.buffer + p.network
        memcpy(iph + 12, self._ip, 4)
        ip_set_checksum(iph, hlen)
        return p
