# cython: language_level=3
"""EtherEncap: prepends a fixed Ethernet header."""
from libc.string cimport memcpy

from clickpy.elements.ethernet.ether_header cimport ETHER_HEADER_LEN, rd16, set_mac_header, wr16
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, pkt_data, pkt_push

from clickpy.elements.ethernet.ether_config import EtherType, unparse_ether
from clickpy.runtime.args import REQUIRED, Arg, EtherAddress, parse_arguments
from clickpy.runtime.handlers import ReadWrite, write_keyword


cdef class EtherEncap(SimpleElement):
    """=c
    EtherEncap(ETHERTYPE, SRC, DST)

    =s ethernet
    encapsulates packets in Ethernet header

    =d
    Prepends to each packet the 14-byte Ethernet header with destination
    DST, source SRC and type ETHERTYPE (given in host order, e.g. 0x0800),
    and marks it as the packet's MAC header.

    =h src read/write: the SRC address (writing reconfigures)
    =h dst read/write: the DST address (writing reconfigures)
    =h ethertype read/write: the ETHERTYPE, in decimal (writing reconfigures)
    =h etht read/write: the same as ethertype (Click's older name)

    =e
    Encapsulate in an Ethernet header of type IP (0x0800) from 1:1:1:1:1:1
    to 2:2:2:2:2:2:

      EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2)
    """
    port_count = "1/1"
    processing = "a"
    live_reconfigure = True
    arguments = (
        Arg("ETHERTYPE", EtherType, REQUIRED, positional=True, mandatory=True),
        Arg("SRC", EtherAddress, REQUIRED, positional=True, mandatory=True),
        Arg("DST", EtherAddress, REQUIRED, positional=True, mandatory=True),
    )
    handlers = (
        ReadWrite("src", lambda e: e.src, write_keyword("SRC", 1)),
        ReadWrite("dst", lambda e: e.dst, write_keyword("DST", 2)),
        ReadWrite("ethertype", lambda e: e.ethertype, write_keyword("ETHERTYPE", 0)),
        ReadWrite("etht", lambda e: e.ethertype, write_keyword("ETHERTYPE", 0)),  # Click's old name
    )

    cdef unsigned char _ethh[14]   # the header: destination, source, type (network order)

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        cdef bytes dst = v["dst"], src = v["src"]
        memcpy(self._ethh, <const char *> dst, 6)
        memcpy(&self._ethh[6], <const char *> src, 6)
        wr16(&self._ethh[12], v["ethertype"])
        return True

    @property
    def src(self):
        return unparse_ether((<char *> self._ethh)[6:12])

    @property
    def dst(self):
        return unparse_ether((<char *> self._ethh)[0:6])

    @property
    def ethertype(self):
        return rd16(&self._ethh[12])

    cdef Packet *simple_action(self, Packet *p) noexcept:
        p = pkt_push(p, ETHER_HEADER_LEN)
        if p == NULL:           # no buffer to grow into; pkt_push freed the packet
            self.dropped += 1
            return NULL
        memcpy(pkt_data(p), self._ethh, ETHER_HEADER_LEN)
        set_mac_header(p, ETHER_HEADER_LEN)
        return p
