# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""EtherRewrite: rewrites the Ethernet source and destination addresses."""
from libc.string cimport memcpy

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, packet_uniqueify

from clickpy.elements.ethernet.ether_config import unparse_ether
from clickpy.runtime.args import REQUIRED, Arg, EtherAddress, parse_arguments
from clickpy.runtime.handlers import ReadWrite, write_keyword


cdef class EtherRewrite(SimpleElement):
    """=c
    EtherRewrite(SRC, DST)

    =s ethernet
    rewrite source and destination Ethernet address

    =d
    Writes SRC and DST into the source and destination address fields of
    each packet's Ethernet header (at the MAC header annotation), leaving
    the Ethernet type alone. Packets without a MAC header annotation, or
    too short for the addresses, are dropped.

    =h src read/write: the SRC address (writing reconfigures)
    =h dst read/write: the DST address (writing reconfigures)

    =e
      EtherRewrite(1:1:1:1:1:1, 2:2:2:2:2:2)

    =a EtherEncap, ARPQuerier
    """
    port_count = "1/1"
    processing = "a"
    live_reconfigure = True
    arguments = (
        Arg("SRC", EtherAddress, REQUIRED, positional=True, mandatory=True),
        Arg("DST", EtherAddress, REQUIRED, positional=True, mandatory=True),
    )
    handlers = (
        ReadWrite("src", lambda e: e.src, write_keyword("SRC", 0)),
        ReadWrite("dst", lambda e: e.dst, write_keyword("DST", 1)),
    )

    cdef unsigned char _addrs[12]     # destination, then source, as in the header

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        cdef bytes dst = v["dst"], src = v["src"]
        memcpy(self._addrs, <const char *> dst, 6)
        memcpy(&self._addrs[6], <const char *> src, 6)
        return True

    @property
    def src(self):
        return unparse_ether((<char *> self._addrs)[6:12])

    @property
    def dst(self):
        return unparse_ether((<char *> self._addrs)[0:6])

    cdef Packet *simple_action(self, Packet *p) noexcept:
        if p.mac < 0 or p.mac + 12 > <int> (p.data + p.length):
            self.drop(p)
            return NULL
        p = packet_uniqueify(p)
        if p == NULL:
            self.dropped += 1
            return NULL
        memcpy(p.buffer + p.mac, self._addrs, 12)
        return p
