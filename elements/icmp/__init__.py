"""ICMP elements: header checks and ICMP message handling."""
from clickpy.runtime.registry import import_family

import_family(__name__, __path__)
