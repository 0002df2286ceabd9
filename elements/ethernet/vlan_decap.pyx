# cython: language_level=3
"""VLANDecap: removes an 802.1Q tag from Ethernet frames."""
from libc.stdint cimport uint16_t
from libc.string cimport memmove

from clickpy.elements.ethernet.ether_header cimport (
    ETHER_ADDRESSES_LEN, ETHER_HEADER_LEN, ETHER_VLAN_HEADER_LEN, ETHERTYPE_8021Q,
    rd16, set_mac_header, set_vlan_tci_anno)
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, packet_uniqueify, pkt_data, pkt_pull

from clickpy.elements.ethernet.ether_config import EtherType
from clickpy.runtime.args import Arg, Bool, parse_arguments


cdef class VLANDecap(SimpleElement):
    """=c
    VLANDecap([ANNO, keywords ETHERTYPE])

    =s ethernet
    strip VLAN information from Ethernet packets

    =d
    Expects Ethernet frames, perhaps 802.1Q tagged. A tagged frame (type
    ETHERTYPE after the addresses; default 0x8100, or 0x88a8 for 802.1ad,
    0x9100 for old service tags) loses its 4-byte tag and becomes a plain
    Ethernet frame; others pass unchanged. If ANNO is true (the default),
    the VLAN TCI annotation is set to the tag's TCI, or 0 for untagged
    frames. Frames too short for their header are dropped.

    =e
      ... -> VLANDecap -> Classifier(...) ...
    """
    port_count = "1/1"
    processing = "a"
    arguments = (
        Arg("ANNO", Bool, True, positional=True),
        Arg("ETHERTYPE", EtherType, ETHERTYPE_8021Q),
    )

    cdef bint _anno
    cdef uint16_t _ethertype

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        self._anno = v["anno"]
        self._ethertype = v["ethertype"]
        return True

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef uint16_t tci = 0
        cdef unsigned char *d
        if p.length < ETHER_HEADER_LEN:
            self.drop(p)
            return NULL
        d = pkt_data(p)
        if rd16(d + 12) == self._ethertype:
            if p.length < ETHER_VLAN_HEADER_LEN:
                self.drop(p)
                return NULL
            tci = rd16(d + 14)
            p = packet_uniqueify(p)
            if p == NULL:
                self.dropped += 1
                return NULL
            d = pkt_data(p)
            memmove(d + 4, d, ETHER_ADDRESSES_LEN)
            pkt_pull(p, 4)
        set_mac_header(p, ETHER_HEADER_LEN)
        if self._anno:
            set_vlan_tci_anno(p, tci)
        return p
