"""Rewriter elements: NAT and NAPT (IPRewriter and its family), mappers, ICMP and FTP helpers."""
from clickpy.runtime.registry import import_family

import_family(__name__, __path__)
