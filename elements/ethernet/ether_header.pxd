# cython: language_level=3
"""Ethernet and 802.1Q header helpers shared by the Ethernet elements (all inline).

Header fields are read and written as wire bytes (big-endian in, host values
out). The VLAN TCI annotation holds the TCI in network byte order, as Click
stores it (``VLAN_TCI_ANNO_OFFSET``), so the bytes can be copied straight
from and into a header.
"""
from libc.stdint cimport uint8_t, uint16_t

from clickpy.runtime.packet cimport VLAN_TCI_ANNO_OFFSET, Packet

cdef enum:
    ETHER_HEADER_LEN = 14       # sizeof(click_ether)
    ETHER_VLAN_HEADER_LEN = 18  # sizeof(click_ether_vlan)
    ETHER_ADDRESSES_LEN = 12    # destination and source
    ETHERTYPE_8021Q = 0x8100


cdef inline uint16_t rd16(const unsigned char *p) noexcept nogil:
    return (<uint16_t> p[0] << 8) | p[1]


cdef inline void wr16(unsigned char *p, uint16_t v) noexcept nogil:
    p[0] = <uint8_t> (v >> 8)
    p[1] = <uint8_t> v


cdef inline uint16_t vlan_tci_anno(Packet *p) noexcept nogil:
    """The VLAN TCI annotation as a host-order value."""
    return rd16(&p.anno[VLAN_TCI_ANNO_OFFSET])


cdef inline void set_vlan_tci_anno(Packet *p, uint16_t tci) noexcept nogil:
    wr16(&p.anno[VLAN_TCI_ANNO_OFFSET], tci)


cdef inline void set_mac_header(Packet *p, int length) noexcept nogil:
    """The MAC header starts at the data; the network header length bytes later."""
    p.mac = <int> p.data
    p.network = <int> p.data + length
