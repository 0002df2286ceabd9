# cython: language_level=3
"""StripEtherVLANHeader: removes an Ethernet or 802.1Q header, keeping its VLAN as annotation."""
from clickpy.elements.ethernet.ether_header cimport (
    ETHER_HEADER_LEN, ETHER_VLAN_HEADER_LEN, ETHERTYPE_8021Q, rd16, set_vlan_tci_anno)
from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport Packet, pkt_data, pkt_pull

from clickpy.runtime.args import Arg, Int, parse_arguments


cdef class StripEtherVLANHeader(BranchElement):
    """=c
    StripEtherVLANHeader([NATIVE_VLAN])

    =s ethernet
    strips 802.1Q VLAN Ethernet header

    =d
    A frame of type 0x8100 loses its 18-byte 802.1Q header and its VLAN TCI
    annotation is set to the header's TCI. Other frames are taken to be on
    VLAN NATIVE_VLAN (default 0): they lose their 14-byte Ethernet header
    and the annotation is set to NATIVE_VLAN. If NATIVE_VLAN is negative,
    such frames are not stripped but leave on output 1 (dropped if it is
    not there). Frames too short for their header are dropped.

    =e
      FromDevice(eth0) -> s :: StripEtherVLANHeader(-1) -> ...;
      s[1] -> Discard;
    """
    port_count = "1/1-2"
    processing = "a/ah"
    live_reconfigure = True
    arguments = (Arg("NATIVE_VLAN", Int, 0, positional=True),)

    cdef int _native_vlan   # -1: untagged frames go to output 1

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        native = v["native_vlan"]
        if native > 0xFFF:
            errh.error("bad NATIVE_VLAN")
            return False
        self._native_vlan = native if native >= 0 else -1
        return True

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        cdef const unsigned char *d = pkt_data(p)
        out[0] = 0
        if p.length < ETHER_HEADER_LEN:
            self.drop(p)
            return NULL
        if rd16(d + 12) == ETHERTYPE_8021Q:
            if p.length < ETHER_VLAN_HEADER_LEN:
                self.drop(p)
                return NULL
            set_vlan_tci_anno(p, rd16(d + 14))
            pkt_pull(p, ETHER_VLAN_HEADER_LEN)
        elif self._native_vlan >= 0:
            set_vlan_tci_anno(p, <unsigned short> self._native_vlan)
            pkt_pull(p, ETHER_HEADER_LEN)
        else:
            out[0] = 1
        return p
