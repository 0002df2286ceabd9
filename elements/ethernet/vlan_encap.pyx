# cython: language_level=3
"""VLANEncap: inserts an 802.1Q tag into Ethernet frames."""
from libc.stdint cimport uint16_t
from libc.string cimport memmove

from clickpy.elements.ethernet.ether_header cimport (
    ETHER_ADDRESSES_LEN, ETHER_HEADER_LEN, ETHER_VLAN_HEADER_LEN, ETHERTYPE_8021Q,
    set_mac_header, vlan_tci_anno, wr16)
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, pkt_data, pkt_push

from clickpy.elements.ethernet.ether_config import (
    ANNO, NATIVE_VLAN, VLAN_ID, VLAN_PCP, EtherType, VLANTci)
from clickpy.runtime.args import Arg, parse_arguments
from clickpy.runtime.handlers import ReadWrite, read_keyword, write_config, write_keyword


cdef class VLANEncap(SimpleElement):
    """=c
    VLANEncap([VLAN_TCI, VLAN_PCP, keywords VLAN_ID, NATIVE_VLAN, ETHERTYPE])

    =s ethernet
    add VLAN information to Ethernet packets

    =d
    Expects Ethernet frames. Inserts a 4-byte 802.1Q tag after the two
    addresses: type ETHERTYPE (default 0x8100; 0x88a8 for 802.1ad service
    tags, 0x9100 for old ones) and the TCI. VLAN_TCI is the whole 16-bit
    TCI, or ANNO to use each packet's VLAN TCI annotation; or give VLAN_ID
    (0-0xFFF) and VLAN_PCP (0-7, default 0) separately. Frames whose VLAN
    ID equals NATIVE_VLAN (-1 to 0xFFF, default 0; -1 for none) pass
    untagged. Frames shorter than an Ethernet header are dropped.

    =h vlan_tci read/write: the TCI, or ANNO
    =h vlan_id, vlan_pcp, native_vlan, ethertype read/write: as configured (writing reconfigures)
    =h config read/write

    =e
      ... -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> VLANEncap(VLAN_ID 5) -> ...
    """
    port_count = "1/1"
    processing = "a"
    # Click declares the keyword write handlers but cannot reconfigure this
    # element live, so they always fail there; here they work.
    live_reconfigure = True
    arguments = (
        Arg("VLAN_TCI", VLANTci, None, positional=True),
        Arg("VLAN_PCP", VLAN_PCP, 0, positional=True),
        Arg("VLAN_ID", VLAN_ID, 0),
        Arg("NATIVE_VLAN", NATIVE_VLAN, 0),
        Arg("ETHERTYPE", EtherType, ETHERTYPE_8021Q),
    )
    handlers = (
        ReadWrite("config", lambda e: e.unparse_config(), write_config),
        ReadWrite("vlan_tci", lambda e: e.vlan_tci, write_keyword("VLAN_TCI", 0)),
        ReadWrite("vlan_id", read_keyword("VLAN_ID"), write_keyword("VLAN_ID")),
        ReadWrite("vlan_pcp", read_keyword("VLAN_PCP"), write_keyword("VLAN_PCP")),
        ReadWrite("native_vlan", read_keyword("NATIVE_VLAN"), write_keyword("NATIVE_VLAN")),
        ReadWrite("ethertype", read_keyword("ETHERTYPE"), write_keyword("ETHERTYPE")),
    )

    cdef uint16_t _tci            # host order
    cdef bint _use_anno
    cdef int _native_vlan         # VLAN ID passed untagged, or -1
    cdef uint16_t _ethertype      # the tag's type, host order

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        tci = v["vlan_tci"]
        use_anno = tci == ANNO
        if tci is None or use_anno:
            tci = v["vlan_id"]
        self._tci = (tci | (v["vlan_pcp"] << 13)) & 0xFFFF
        self._use_anno = use_anno
        self._native_vlan = v["native_vlan"]
        self._ethertype = v["ethertype"]
        return True

    @property
    def vlan_tci(self):
        return ANNO if self._use_anno else self._tci

    def unparse_config(self):
        if self._use_anno:
            out = [ANNO]
        else:
            out = [f"VLAN_ID {self._tci & 0xFFF}", f"VLAN_PCP {(self._tci >> 13) & 7}"]
        if self._native_vlan != 0:
            out.append(f"NATIVE_VLAN {self._native_vlan}")
        if self._ethertype != ETHERTYPE_8021Q:
            out.append(f"ETHERTYPE 0x{self._ethertype:04x}")
        return ", ".join(out)

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef uint16_t tci = vlan_tci_anno(p) if self._use_anno else self._tci
        cdef unsigned char *d
        if p.length < ETHER_HEADER_LEN:
            self.drop(p)
            return NULL
        if (tci & 0xFFF) == self._native_vlan:
            set_mac_header(p, ETHER_HEADER_LEN)
            return p
        p = pkt_push(p, 4)
        if p == NULL:
            self.dropped += 1
            return NULL
        d = pkt_data(p)
        memmove(d, d + 4, ETHER_ADDRESSES_LEN)
        wr16(d + 12, self._ethertype)
        wr16(d + 14, tci)
        set_mac_header(p, ETHER_VLAN_HEADER_LEN)
        return p
