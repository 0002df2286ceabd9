# cython: language_level=3
"""UDPRewriter: NAPT for UDP (and TCP, DCCP) flows, without TCP state."""
from libc.stdint cimport int64_t, uint8_t, uint32_t

from clickpy.runtime.packet cimport Batch, Packet

from clickpy.elements.ip.ip_header cimport (IP_OFFMASK, IP_PROTO_DCCP, IP_PROTO_TCP, IP_PROTO_UDP, load_u16_raw,
                                            load_u32_raw, rd16)
from clickpy.elements.rewriter.flow_table cimport (ANNO_REPLY, NOREF, OWNER_UDP, RW_ADDMAP, FlowKey, RWFlow,
                                                   flow_at, flow_refresh, map_find, transport_length,
                                                   udp_flow_apply)
from clickpy.elements.rewriter.rewriter_base cimport IPRewriterBase, prefetch_port_flows

from clickpy.runtime.args import Arg, Bool
from clickpy.runtime.handlers import Read

from clickpy.elements.rewriter.rewriter_base import NS, REWRITER_HANDLERS, AnnoByte, SecondsArg, rewriter_arguments


cdef class UDPRewriter(IPRewriterBase):
    """=c
    UDPRewriter(INPUTSPEC1, ..., INPUTSPECn [, I<keywords> TIMEOUT, STREAMING_TIMEOUT,
    GUARANTEE, REAP_INTERVAL, MAPPING_CAPACITY, DST_ANNO, REPLY_ANNO])

    =s nat
    rewrites UDP packets' addresses and ports

    =d
    Rewrites the source address, source port, destination address and/or
    destination port of UDP packets (and of TCP and DCCP packets, whose
    ports are in the same place), with their checksums: network address and
    port translation without TCP's sequence numbers or connection state.

    Each input has an INPUTSPEC saying what happens to a packet of a flow
    that has no mapping yet: 'drop', 'pass OUTPUT', 'keep FOUTPUT ROUTPUT',
    'pattern SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT', 'pattern NAME FOUTPUT
    ROUTPUT' or the name of an IPMapper element (see IPRewriter). A new
    mapping rewrites the flow (SA, SP, DA, DP) to (SA', SP', DA', DP') and
    sends its packets to FOUTPUT; a second mapping rewrites replies
    (DA', DP', SA', SP') back to (DA, DP, SA, SP) and sends them to ROUTPUT.
    Packets of mapped flows are rewritten whatever input they arrive on.

    Other protocols, later fragments and packets with fewer than 8 bytes of
    transport header are dropped unless their input's spec is 'pass'.

    Keyword arguments:

    TIMEOUT (or UDP_TIMEOUT): time out flows this long after their last
    packet (default 5 minutes). STREAMING_TIMEOUT (UDP_STREAMING_TIMEOUT):
    the timeout for streaming flows, with at least 3 packets and some in
    each direction (default TIMEOUT). GUARANTEE (UDP_GUARANTEE): keep a
    flow at least this long after each packet (default 5 seconds); new flows
    are dropped when the table is full of guaranteed flows. REAP_INTERVAL:
    how often expired flows are removed (default 15 minutes).
    MAPPING_CAPACITY: the most flows the table holds, or the name of another
    rewriter whose capacity to share. DST_ANNO (boolean, default true): set
    the destination address annotation to the new destination. REPLY_ANNO:
    a one-byte annotation that reply packets get from the flow's first
    packet.

    =h table, mappings read-only
    The mapping table, one line per direction of each flow:
    '(SA, SP, DA, DP) => (SA', SP', DA', DP') [FOUT ROUT] iINPUT expSECONDS',
    the output this direction uses starred.

    =h table_size, nmappings read-only
    The number of flows made by this rewriter's inputs.

    =h mapping_failures read-only
    How many new flows could not be mapped (no free port, or the table full).

    =h size read-only
    The number of flows in the flow set (more than table_size if it is shared).

    =h capacity read/write
    The flow set's capacity; writing it removes flows over the new capacity.

    =h patterns read-only
    Each input's spec, with the number of its flows in brackets.

    =h patternN read/write
    Input N's spec; writing replaces it and removes the flows it made.

    =h clear write-only
    Removes every flow.

    =e
    rw :: UDPRewriter(pattern 1.0.0.1 1024-65535# - - 0 1, drop);
    internal -> [0]rw[0] -> external;
    external_in -> [1]rw[1] -> internal_out;

    =a IPRewriter, TCPRewriter, IPAddrRewriter, IPRewriterPatterns
    """
    arguments = rewriter_arguments((
        Arg("DST_ANNO", Bool, True),
        Arg("REPLY_ANNO", AnnoByte, None),
        Arg("UDP_TIMEOUT", SecondsArg, None, attr="timeout"),
        Arg("TIMEOUT", SecondsArg, None),
        Arg("UDP_STREAMING_TIMEOUT", SecondsArg, None, attr="streaming_timeout",
            doc="default: the TIMEOUT"),
        Arg("STREAMING_TIMEOUT", SecondsArg, None),
        Arg("UDP_GUARANTEE", SecondsArg, None, attr="guarantee"),
    ))
    owner_kind = OWNER_UDP
    handlers = REWRITER_HANDLERS + (
        Read("table", lambda e: e.table_text(0), expensive=True),
        Read("mappings", lambda e: e.table_text(0), expensive=True),
    )

    def apply_keywords(self, values, errh):
        if not IPRewriterBase.apply_keywords(self, values, errh):
            return False
        streaming = values["streaming_timeout"]
        if streaming is None:
            streaming = values["timeout"]
        self._owner.udp_streaming_timeout = streaming * NS
        return True

    cdef void prefetch_batch(self, Batch *b) noexcept:
        if self._registered:
            prefetch_port_flows(self._store, b, &self._owner.map, &self._owner.map)

    cdef int process(self, int port, Packet **pp, int64_t now) noexcept:
        cdef Packet *p = self.writable_ip(pp[0])
        cdef unsigned char *iph
        cdef unsigned char *th
        cdef int ip_p, r = RW_ADDMAP
        cdef FlowKey key, rw
        cdef uint32_t ref
        cdef RWFlow *f
        if p == NULL:
            return -1
        pp[0] = p
        iph = p.buffer + p.network
        ip_p = iph[9]
        if ((ip_p != IP_PROTO_TCP and ip_p != IP_PROTO_UDP and ip_p != IP_PROTO_DCCP)
                or (rd16(iph + 6) & IP_OFFMASK)):
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
                ref = self.add_flow(ip_p, &key, &rw, port, now)
            if ref == NOREF:
                return self._result_output(r, p)
            if self._annos & ANNO_REPLY:
                flow_at(self._store, ref >> 1).reply_anno = p.anno[self._annos >> 2]
        f = flow_at(self._store, ref >> 1)
        udp_flow_apply(f, p, ref & 1, self._annos)
        flow_refresh(self._store, &self._owner, f, now)
        return f.output[ref & 1]
