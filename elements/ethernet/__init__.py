"""Ethernet elements: Ethernet and 802.1Q VLAN encapsulation, decapsulation and annotations."""
from clickpy.runtime.registry import import_family

import_family(__name__, __path__)
