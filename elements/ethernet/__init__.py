"""Ethernet elements: Ethernet and 802.1Q VLAN encapsulation, decapsulation and annotations."""
