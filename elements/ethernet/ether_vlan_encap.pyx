# cython: language_level=3
"""EtherVLANEncap: prepends an 802.1Q VLAN Ethernet header."""
from libc.stdint cimport uint16_t
from libc.string cimport memcpy

from clickpy.elements.ethernet.ether_header cimport (
    ETHER_ADDRESSES_LEN, ETHER_HEADER_LEN, ETHER_VLAN_HEADER_LEN, ETHERTYPE_8021Q,
    rd16, set_mac_header, vlan_tci_anno, wr16)
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, pkt_data, pkt_push

from clickpy.elements.ethernet.ether_config import (
    ANNO, NATIVE_VLAN, VLAN_ID, VLAN_PCP, EtherType, VLANTci, parse_ether_handler,
    parse_u16_handler, unparse_ether)
from clickpy.runtime.args import REQUIRED, Arg, EtherAddress, String, parse_arguments
from clickpy.runtime.handlers import ReadWrite, read_keyword, write_config, write_keyword


def _set_src(e, value):
    e.set_address(6, parse_ether_handler(e, value))


def _set_dst(e, value):
    e.set_address(0, parse_ether_handler(e, value))


def _set_ethertype(e, value):
    e.set_ethertype(parse_u16_handler(value))


cdef class EtherVLANEncap(SimpleElement):
    """=c
    EtherVLANEncap(ETHERTYPE, SRC, DST, VLAN_TCI [, VLAN_PCP, keywords VLAN_ID, NATIVE_VLAN])

    =s ethernet
    encapsulates packets in 802.1Q VLAN Ethernet header

    =d
    Prepends to each packet an 18-byte 802.1Q header: destination DST,
    source SRC, type 0x8100, the VLAN TCI, and the encapsulated type
    ETHERTYPE (host order). VLAN_TCI is the whole 16-bit TCI, or ANNO to use
    each packet's VLAN TCI annotation; or give VLAN_ID (0-0xFFF) and VLAN_PCP
    (0-7, default 0) separately. When the VLAN ID equals NATIVE_VLAN (-1 to
    0xFFF, default 0; -1 for none), the packet gets a plain 14-byte Ethernet
    header instead.

    =h src, dst read/write: the addresses
    =h ethertype read/write: the encapsulated type
    =h vlan_tci read/write: the TCI, or ANNO
    =h vlan_id, vlan_pcp, native_vlan read/write: as configured (writing reconfigures)
    =h config read/write

    =e
      EtherVLANEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2, 1)
    """
    port_count = "1/1"
    processing = "a"
    live_reconfigure = True
    arguments = (
        Arg("ETHERTYPE", EtherType, REQUIRED, positional=True, mandatory=True),
        Arg("SRC", EtherAddress, REQUIRED, positional=True, mandatory=True),
        Arg("DST", EtherAddress, REQUIRED, positional=True, mandatory=True),
        Arg("VLAN_TCI", VLANTci, None, positional=True),
        Arg("VLAN_PCP", VLAN_PCP, 0, positional=True),
        Arg("VLAN_ID", VLAN_ID, 0),
        Arg("NATIVE_VLAN", NATIVE_VLAN, 0),
    )
    handlers = (
        ReadWrite("config", lambda e: e.unparse_config(), write_config),
        ReadWrite("src", lambda e: e.src, _set_src),
        ReadWrite("dst", lambda e: e.dst, _set_dst),
        ReadWrite("ethertype", lambda e: e.ethertype, _set_ethertype),
        ReadWrite("vlan_tci", lambda e: e.vlan_tci, write_keyword("VLAN_TCI", 3)),
        ReadWrite("vlan_id", read_keyword("VLAN_ID"), write_keyword("VLAN_ID")),
        ReadWrite("vlan_pcp", read_keyword("VLAN_PCP"), write_keyword("VLAN_PCP")),
        ReadWrite("native_vlan", read_keyword("NATIVE_VLAN"), write_keyword("NATIVE_VLAN")),
    )

    cdef unsigned char _ethh[18]   # destination, source, 0x8100, TCI, encapsulated type
    cdef bint _use_anno            # take the TCI from each packet's annotation
    cdef int _native_vlan          # VLAN ID sent untagged, or -1

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        tci = v["vlan_tci"]
        use_anno = tci == ANNO
        if tci is None or use_anno:
            tci = v["vlan_id"]
        tci = (tci | (v["vlan_pcp"] << 13)) & 0xFFFF
        cdef bytes dst = v["dst"], src = v["src"]
        memcpy(self._ethh, <const char *> dst, 6)
        memcpy(&self._ethh[6], <const char *> src, 6)
        wr16(&self._ethh[12], ETHERTYPE_8021Q)
        wr16(&self._ethh[14], tci)
        wr16(&self._ethh[16], v["ethertype"])
        self._use_anno = use_anno
        self._native_vlan = v["native_vlan"]
        return True

    def set_address(self, int offset, bytes value):
        memcpy(&self._ethh[offset], <const char *> value, 6)

    def set_ethertype(self, uint16_t value):
        wr16(&self._ethh[16], value)

    @property
    def src(self):
        return unparse_ether((<char *> self._ethh)[6:12])

    @property
    def dst(self):
        return unparse_ether((<char *> self._ethh)[0:6])

    @property
    def ethertype(self):
        return rd16(&self._ethh[16])

    @property
    def vlan_tci(self):
        return ANNO if self._use_anno else rd16(&self._ethh[14])

    def unparse_config(self):
        cdef uint16_t tci = rd16(&self._ethh[14])
        out = [str(self.ethertype), self.src, self.dst]
        if self._use_anno:
            out.append(ANNO)
        else:
            out += [f"VLAN_ID {tci & 0xFFF}", f"VLAN_PCP {(tci >> 13) & 7}"]
        if self._native_vlan != 0:
            out.append(f"NATIVE_VLAN {self._native_vlan}")
        return ", ".join(out)

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef uint16_t tci = vlan_tci_anno(p) if self._use_anno else rd16(&self._ethh[14])
        cdef unsigned char *d
        if (tci & 0xFFF) == self._native_vlan:
            p = pkt_push(p, ETHER_HEADER_LEN)
            if p == NULL:
                self.dropped += 1
                return NULL
            d = pkt_data(p)
            memcpy(d, self._ethh, ETHER_ADDRESSES_LEN)
            memcpy(d + ETHER_ADDRESSES_LEN, &self._ethh[16], 2)
            set_mac_header(p, ETHER_HEADER_LEN)
            return p
        p = pkt_push(p, ETHER_VLAN_HEADER_LEN)
        if p == NULL:
            self.dropped += 1
            return NULL
        d = pkt_data(p)
        memcpy(d, self._ethh, ETHER_VLAN_HEADER_LEN)
        wr16(d + 14, tci)
        set_mac_header(p, ETHER_VLAN_HEADER_LEN)
        return p
