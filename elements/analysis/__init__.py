"""Trace and analysis elements: packet trace files (pcap, IP summary dumps), timestamps, aggregates."""
