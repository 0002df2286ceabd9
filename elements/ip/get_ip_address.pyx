# cython: language_level=3
"""GetIPAddress: copies an IP address from the packet into an annotation."""
from libc.string cimport memcpy

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport DST_IP_ANNO_OFFSET, Packet, pkt_data
from clickpy.elements.ip.ip_header cimport ip_header_ok

from clickpy.runtime.args import Annotation, Arg, Int, Word


cdef class GetIPAddress(SimpleElement):
    """=c
    GetIPAddress(OFFSET [, ANNO, keyword IP])

    =s ip
    sets destination IP address annotation from packet data

    =d
    Copies the 4 bytes at OFFSET (usually 16: an IP header's destination)
    into the destination IP address annotation, or the annotation named by
    ANNO. Instead of OFFSET, IP 'src' or 'dst' takes the address from the
    packet's IP header (the IP header annotation must be set). Packets too
    short for the address, or without an IP header for IP, are dropped.

    =a ARPQuerier, StaticIPLookup, SetIPAddress, StoreIPAddress
    """
    arguments = (
        Arg("OFFSET", Int, -1, positional=True),
        Arg("ANNO", Annotation(4), DST_IP_ANNO_OFFSET, positional=True),
        Arg("IP", Word, None),
    )

    cdef public int offset
    cdef public int anno
    cdef public object ip
    cdef int _from        # byte offset; -12 / -16: the IP header's source / destination

    def configure(self, conf, errh):
        from clickpy.runtime.args import parse_arguments
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        offset, ip = values["offset"], values["ip"]
        if (offset >= 0 and ip) or (offset < 0 and not ip):
            return errh.error("set one of OFFSET, IP")
        if ip == "src":
            self._from = -12
        elif ip == "dst":
            self._from = -16
        elif ip:
            return errh.error("bad IP")
        else:
            self._from = offset
        self.offset, self.anno, self.ip = offset, values["anno"], ip
        return True

    cdef Packet *simple_action(self, Packet *p) noexcept:
        if self._from >= 0:
            if <unsigned> self._from + 4 > p.length:
                self.drop(p)
                return NULL
            memcpy(&p.anno[self.anno], pkt_data(p) + self._from, 4)
        else:
            if not ip_header_ok(p):
                self.drop(p)
                return NULL
            memcpy(&p.anno[self.anno], p.buffer + p.network - self._from, 4)
        return p
