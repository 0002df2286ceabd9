"""Rewriter elements: NAT and NAPT (IPRewriter and its family), mappers, ICMP and FTP helpers."""
