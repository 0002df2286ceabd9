# cython: language_level=3
"""SetIPDSCP: sets the DSCP (upper six TOS bits) of IP packets."""
from libc.stdint cimport uint8_t, uint16_t

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, packet_uniqueify
from clickpy.elements.ip.ip_header cimport ip_header_ok, load_u16_raw, update_in_cksum

from clickpy.runtime.args import Arg, Unsigned, parse_arguments
from clickpy.runtime.handlers import KeywordHandler


cdef class SetIPDSCP(SimpleElement):
    """=c
    SetIPDSCP(DSCP)

    =s ip
    sets IP packets' DSCP fields

    =d
    Expects IP packets (with the IP header annotation) and sets their
    Differentiated Services Code Point, the upper 6 bits of the TOS byte, to
    DSCP (0-63), updating the checksum incrementally. Packets without an IP
    header are dropped.

    =h dscp read/write
    The DSCP argument; writing it reconfigures the element.

    =a SetIPECN
    """
    arguments = (Arg("DSCP", Unsigned, None, positional=True, mandatory=True),)
    handlers = (KeywordHandler("dscp", "DSCP", 0, calm=True),)
    live_reconfigure = True

    cdef public unsigned dscp
    cdef uint8_t _bits

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        if values["dscp"] > 0x3F:
            return errh.error("diffserv code point out of range")
        self.dscp = values["dscp"]
        self._bits = self.dscp << 2
        return True

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef unsigned char *ip
        cdef uint16_t old
        if not ip_header_ok(p):
            self.drop(p)
            return NULL
        p = packet_uniqueify(p)
        if p == NULL:
            return NULL
        ip = p.buffer + p.network
        old = load_u16_raw(ip)
        ip[1] = (ip[1] & 0x3) | self._bits
        update_in_cksum(ip + 10, old, load_u16_raw(ip))
        return p
