"""Trace and analysis elements: packet trace files (pcap, IP summary dumps), timestamps, aggregates."""
from clickpy.runtime.registry import import_family

import_family(__name__, __path__)
