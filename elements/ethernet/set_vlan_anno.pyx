# cython: language_level=3
"""SetVLANAnno: sets the VLAN TCI annotation."""
from libc.stdint cimport uint16_t

from clickpy.elements.ethernet.ether_header cimport set_vlan_tci_anno
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Batch, Packet

from clickpy.elements.ethernet.ether_config import VLAN_ID, VLAN_PCP, bounded_int
from clickpy.runtime.args import Arg, parse_arguments
from clickpy.runtime.handlers import ReadWrite, read_keyword, write_config, write_keyword


cdef class SetVLANAnno(SimpleElement):
    """=c
    SetVLANAnno(VLAN_TCI [, VLAN_PCP, keywords VLAN_ID])

    =s ethernet
    sets VLAN annotation

    =d
    Sets each packet's VLAN TCI annotation: to VLAN_TCI (the whole 16-bit
    TCI), or to VLAN_ID (0-0xFFF) with priority VLAN_PCP (0-7, default 0).

    =h vlan_tci read/write: the TCI
    =h vlan_id, vlan_pcp read/write: as configured (writing reconfigures)
    =h config read/write

    =e
      ... -> SetVLANAnno(VLAN_ID 2, VLAN_PCP 1)
          -> EtherVLANEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2, ANNO) -> ...
    """
    port_count = "1/1"
    processing = "a"
    live_reconfigure = True
    arguments = (
        Arg("VLAN_TCI", bounded_int(0, 0xFFFF), None, positional=True),
        Arg("VLAN_PCP", VLAN_PCP, 0, positional=True),
        Arg("VLAN_ID", VLAN_ID, 0),
    )
    handlers = (
        ReadWrite("config", lambda e: e.unparse_config(), write_config),
        ReadWrite("vlan_tci", lambda e: e.vlan_tci, write_keyword("VLAN_TCI")),
        ReadWrite("vlan_id", read_keyword("VLAN_ID"), write_keyword("VLAN_ID")),
        ReadWrite("vlan_pcp", read_keyword("VLAN_PCP"), write_keyword("VLAN_PCP")),
    )

    cdef uint16_t _tci      # host order

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        tci = v["vlan_tci"]
        if tci is None:
            tci = v["vlan_id"]
        self._tci = (tci | (v["vlan_pcp"] << 13)) & 0xFFFF
        return True

    @property
    def vlan_tci(self):
        return self._tci

    def unparse_config(self):
        return f"VLAN_ID {self._tci & 0xFFF}, VLAN_PCP {(self._tci >> 13) & 7}"

    cdef Packet *simple_action(self, Packet *p) noexcept:
        set_vlan_tci_anno(p, self._tci)
        return p

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef int i
        for i in range(b.count):
            set_vlan_tci_anno(b.p[i], self._tci)
        self.output_push_batch(0, b)
