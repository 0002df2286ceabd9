# cython: language_level=3
"""TCPRewriter: NAPT for TCP flows, with sequence number changes and connection state."""
from libc.stdint cimport int64_t, uint8_t, uint32_t

from clickpy.runtime.packet cimport Batch, Packet

from clickpy.elements.ip.ip_header cimport IP_OFFMASK, IP_PROTO_TCP, load_u16_raw, load_u32_raw, rd16
from clickpy.elements.rewriter.flow_table cimport (ANNO_REPLY, NOREF, OWNER_TCP, RW_ADDMAP, FlowKey, RWFlow,
                                                   flow_at, flow_refresh, map_find, tcp_flow_apply,
                                                   transport_length)
from clickpy.elements.rewriter.rewriter_base cimport IPRewriterBase, prefetch_port_flows

from clickpy.runtime.args import Arg, Bool
from clickpy.runtime.handlers import Read

from clickpy.elements.rewriter.rewriter_base import (NS, REWRITER_HANDLERS, AnnoByte, SecondsArg, lookup_handler,
                                                        rewriter_arguments)

TCP_KEYWORDS = (
    Arg("TCP_NODATA_TIMEOUT", SecondsArg, None, attr="timeout"),
    Arg("TCP_GUARANTEE", SecondsArg, None, attr="guarantee"),
    Arg("TIMEOUT", SecondsArg, 86400, attr="tcp_data_timeout"),
    Arg("TCP_TIMEOUT", SecondsArg, 86400, attr="tcp_data_timeout"),
    Arg("TCP_DONE_TIMEOUT", SecondsArg, 240),
    Arg("DST_ANNO", Bool, True),
    Arg("REPLY_ANNO", AnnoByte, None),
)


cdef class TCPRewriter(IPRewriterBase):
    """=c
    TCPRewriter(INPUTSPEC1, ..., INPUTSPECn [, I<keywords> TCP_TIMEOUT, TCP_DONE_TIMEOUT,
    TCP_NODATA_TIMEOUT, TCP_GUARANTEE, REAP_INTERVAL, MAPPING_CAPACITY, DST_ANNO, REPLY_ANNO])

    =s nat
    rewrites TCP packets' addresses, ports, and sequence numbers

    =d
    Rewrites TCP flows' source address, source port, destination address
    and/or destination port, with their checksums, as IPRewriter does (see
    there for the INPUTSPECs), and can also shift sequence and
    acknowledgement numbers, SACK blocks included. New mappings start with
    no shift; other elements ask for one (FTPPortMapper does when it
    changes the length of a PORT command). Packets that are not TCP, later
    fragments and packets with fewer than 8 bytes of TCP header are dropped
    unless their input's spec is 'pass'.

    Keyword arguments:

    TCP_TIMEOUT (or TIMEOUT): time out connections that have carried data
    both ways this long after their last packet (default 24 hours).
    TCP_DONE_TIMEOUT: the timeout of connections closed by FIN or RST
    (default 4 minutes). TCP_NODATA_TIMEOUT: the timeout of connections
    without data in both directions (default 5 minutes). TCP_GUARANTEE (or
    GUARANTEE): keep each mapping at least this long after each packet
    (default 5 seconds); new flows are dropped when the table is full of
    guaranteed flows. REAP_INTERVAL: how often expired flows are removed
    (default 15 minutes). MAPPING_CAPACITY: the most flows the table holds,
    or the name of another rewriter whose capacity to share. DST_ANNO
    (boolean, default true): set the destination address annotation.
    REPLY_ANNO: a one-byte annotation reply packets get from the flow's first
    packet.

    =h table, mappings read-only
    The mapping table, one line per direction of each flow; a direction
    whose sequence numbers move shows 'seq +N'.

    =h lookup read-only
    Takes 'SADDR SPORT DADDR DPORT'; returns that flow's rewritten form in
    the same format, or nothing if it has no mapping.

    =h table_size, nmappings, mapping_failures, size, capacity, patterns, patternN, clear
    As in UDPRewriter.

    =e
    IPRewriterPatterns(nat 1.0.0.1 1024-65535# - -);
    rw :: TCPRewriter(pattern nat 0 1, drop);

    =a IPRewriter, FTPPortMapper, UDPRewriter
    """
    arguments = rewriter_arguments(TCP_KEYWORDS)
    owner_kind = OWNER_TCP
    handlers = REWRITER_HANDLERS + (
        Read("table", lambda e: e.table_text(0), expensive=True),
        Read("mappings", lambda e: e.table_text(0), expensive=True),
        Read("lookup", lambda e, param: lookup_handler(e, param, 0), read_param=True),
    )

    def apply_keywords(self, values, errh):
        if not IPRewriterBase.apply_keywords(self, values, errh):
            return False
        self._owner.tcp_data_timeout = values["tcp_data_timeout"] * NS
        self._owner.tcp_done_timeout = values["tcp_done_timeout"] * NS
        return True

    cdef uint32_t add_flow(self, int ip_p, const FlowKey *flowid, const FlowKey *rewritten, int input,
                           int64_t now) noexcept:
        return self.new_flow(&self._owner, input, flowid, rewritten, IP_PROTO_TCP, now)

    cdef void prefetch_batch(self, Batch *b) noexcept:
        if self._registered:
            prefetch_port_flows(self._store, b, &self._owner.map, NULL)

    cdef int process(self, int port, Packet **pp, int64_t now) noexcept:
        cdef Packet *p = self.writable_ip(pp[0])
        cdef unsigned char *iph
        cdef unsigned char *th
        cdef int r = RW_ADDMAP
        cdef FlowKey key, rw
        cdef uint32_t ref
        cdef RWFlow *f
        if p == NULL:
            return -1
        pp[0] = p
        iph = p.buffer + p.network
        if iph[9] != IP_PROTO_TCP or (rd16(iph + 6) & IP_OFFMASK):
            return self.unmappable(port, p)
        if transport_length(p) < 8:
            return self.truncated(port, p)
        th = p.buffer + p.transport
        key.saddr = load_u32_raw(iph + 12)
        key.daddr = load_u32_raw(iph + 16)
        key.sport = load_u16_raw(th)
        key.dport = load_u16_raw(th + 2)
        ref = map_find(&self._owner.map, &key)
        if ref == NOREF:
            r = self.spec_rewrite(port, &key, &rw, &self._owner.map)
            if r == RW_ADDMAP:
                ref = self.add_flow(IP_PROTO_TCP, &key, &rw, port, now)
            if ref == NOREF:
                return self._result_output(r, p)
            if self._annos & ANNO_REPLY:
                flow_at(self._store, ref >> 1).reply_anno = p.anno[self._annos >> 2]
        f = flow_at(self._store, ref >> 1)
        tcp_flow_apply(f, p, ref & 1, self._annos)
        flow_refresh(self._store, &self._owner, f, now)
        return f.output[ref & 1]

    def unparse_entry(self, uint32_t ref, int64_t now):
        cdef RWFlow *f = flow_at(self._store, ref >> 1)
        text = IPRewriterBase.unparse_entry(self, ref, now)
        if f.dt != NULL and f.dt.delta[ref & 1] != 0:
            head, sep, ports = text.partition(" [")
            delta = f.dt.delta[ref & 1]
            text = f"{head} seq {'+' if delta > 0 else ''}{delta}{sep}{ports}"
        return text
