"""ICMP elements: header checks and ICMP message handling."""
