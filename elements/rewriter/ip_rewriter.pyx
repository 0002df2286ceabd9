# cython: language_level=3
"""IPRewriter: network address and port translation for TCP and UDP."""
from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.string cimport memset

from clickpy.runtime.packet cimport Batch, Packet, packet_kill, packet_shared, packet_uniqueify

from clickpy.elements.ip.ip_header cimport (IP_OFFMASK, IP_PROTO_TCP, IP_PROTO_UDP, ip_header_ok, load_u16_raw,
                                            load_u32_raw, rd16)
from clickpy.elements.rewriter.flow_table cimport (ANNO_REPLY, NOREF, OWNER_UDP, RW_ADDMAP, FlowKey, FlowMap,
                                                   RWFlow, RWOwner, flow_at, flow_refresh, map_find, map_free,
                                                   map_init, tcp_flow_apply, transport_length, udp_flow_apply)
from clickpy.elements.rewriter.rewriter_base cimport IPRewriterBase, prefetch_port_flows
from clickpy.elements.rewriter.tcp_rewriter cimport TCPRewriter

from clickpy.runtime.args import Arg
from clickpy.runtime.handlers import Read

from clickpy.elements.rewriter.rewriter_base import (DEFAULT_GUARANTEE, NS, REWRITER_HANDLERS, SecondsArg, lookup_handler,
                                                        rewriter_arguments)
from clickpy.elements.rewriter.tcp_rewriter import TCP_KEYWORDS


cdef class IPRewriter(TCPRewriter):
    """=c
    IPRewriter(INPUTSPEC1, ..., INPUTSPECn [, I<keywords>])

    =s nat
    rewrites TCP/UDP packets' addresses and ports

    =d
    Rewrites the source address, source port, destination address and/or
    destination port of TCP and UDP packets, with their checksums: a network
    address and port translator (NAPT). IPAddrRewriter and
    IPAddrPairRewriter translate addresses only; TCPRewriter adds sequence
    number changes.

    IPRewriter keeps a mapping table indexed by flow ID (source address and
    port, destination address and port, protocol). A packet with a mapping
    is rewritten by it and leaves on the mapping's output, whatever input it
    came in on. A packet without one is handled by its input's INPUTSPEC (one
    per input port):

    'drop' or 'discard': drop it.

    'pass OUTPUT': send it to OUTPUT unchanged; no mapping is made.

    'keep FOUTPUT ROUTPUT': map the flow to itself: (SA, SP, DA, DP) to
    FOUTPUT, and its replies (DA, DP, SA, SP) to ROUTPUT, unchanged.

    'pattern SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT': rewrite the flow by
    the pattern; a field '-' keeps the packet's value. SPORT may be a range
    'L-H': IPRewriter picks a port of it no other mapping uses, the packet's
    own source port if it can, else a random one ('L-H#': the next one in
    order; 'L-H?': random without the preference); with none left the
    packet is dropped. The flow (SA, SP, DA, DP) becomes (SA', SP', DA',
    DP') and goes to FOUTPUT; replies (DA', DP', SA', SP') become (DA, DP,
    SA, SP) and go to ROUTPUT.

    'pattern NAME FOUTPUT ROUTPUT': a pattern named by IPRewriterPatterns.

    'ELEMENTNAME': an IPMapper element (RoundRobinIPMapper) decides.

    Input packets need their IP header annotation. Other protocols, later
    fragments and packets with fewer than 8 bytes of transport header are
    dropped unless their input's spec is 'pass' (the truncated ones count as
    errors); packets without a usable IP header (shorter than 20 bytes, not
    version 4, header length under 5 words) are dropped and counted.
    Batches are processed in order with the same results as single packets;
    the table slots and flows a batch needs are prefetched first.

    Keyword arguments:

    TCP_TIMEOUT (or TIMEOUT): time out TCP connections that carried data
    both ways this long after their last packet (default 24 hours).
    TCP_DONE_TIMEOUT: connections closed by FIN or RST (default 4 minutes).
    TCP_NODATA_TIMEOUT: connections without data both ways (default 5
    minutes). TCP_GUARANTEE (or GUARANTEE): keep each TCP mapping at least
    this long after each packet (default 5 seconds); new flows are dropped
    when the table is full of guaranteed flows. UDP_TIMEOUT: UDP flows
    (default 5 minutes). UDP_STREAMING_TIMEOUT: UDP flows with 3 packets
    and some each way (default UDP_TIMEOUT). UDP_GUARANTEE: as TCP_GUARANTEE
    for UDP (default 5 seconds). REAP_INTERVAL: how often expired mappings
    are removed (default 15 minutes). MAPPING_CAPACITY: the most flows the
    table holds, or another rewriter whose capacity to share. DST_ANNO
    (boolean, default true): set the destination IP address annotation to
    the new destination. REPLY_ANNO: a one-byte annotation that replies get
    from the flow's first packet.

    Times are router time (simulated under --simtime).

    =h table_size, nmappings read-only
    The number of mappings made by this IPRewriter's inputs.

    =h mapping_failures read-only
    How many new flows could not be mapped: no free port, or the table full.

    =h size read-only
    The number of flows in the flow set; more than table_size when several
    rewriters share one.

    =h capacity read/write
    The flow set's capacity. Writing it removes the flows over the new
    capacity, those that expire first.

    =h tcp_table, tcp_mappings read-only
    The TCP mapping table: one line per direction of each flow,
    '(SA, SP, DA, DP) => (SA', SP', DA', DP') [FOUT ROUT] iINPUT expSECONDS',
    the output of that direction starred.

    =h udp_table, udp_mappings read-only
    The UDP mapping table.

    =h tcp_lookup read-only
    Takes 'SADDR SPORT DADDR DPORT'; returns the TCP flow's rewritten form
    in the same format, or nothing if it has no mapping.

    =h patterns read-only
    Each input's spec, with its number of mappings in brackets.

    =h patternN read/write
    Input N's spec; writing replaces it and removes the mappings it made.

    =h clear write-only
    Removes every mapping.

    =e
    rw :: IPRewriter(pattern 203.0.113.1 1024-65535# - - 0 1, drop);
    from_inside -> [0]rw[0] -> to_outside;
    from_outside -> [1]rw[1] -> to_inside;

    =a TCPRewriter, UDPRewriter, IPAddrRewriter, IPAddrPairRewriter,
    IPRewriterPatterns, RoundRobinIPMapper, FTPPortMapper, ICMPRewriter,
    ICMPPingRewriter
    """
    arguments = rewriter_arguments((
        Arg("UDP_TIMEOUT", SecondsArg, 300),
        Arg("UDP_STREAMING_TIMEOUT", SecondsArg, None, doc="default: the UDP_TIMEOUT"),
        Arg("UDP_GUARANTEE", SecondsArg, DEFAULT_GUARANTEE),
    ), TCP_KEYWORDS)
    handlers = REWRITER_HANDLERS + (
        Read("tcp_table", lambda e: e.table_text(0), expensive=True),
        Read("udp_table", lambda e: e.table_text(1), expensive=True),
        Read("tcp_mappings", lambda e: e.table_text(0), expensive=True),
        Read("udp_mappings", lambda e: e.table_text(1), expensive=True),
        Read("tcp_lookup", lambda e, param: lookup_handler(e, param, 0), read_param=True),
    )

    cdef RWOwner _udp_owner         # the UDP mapping table

    def __cinit__(self, *args, **kwargs):
        memset(&self._udp_owner, 0, sizeof(RWOwner))
        self._udp_owner.id = -1
        self._udp_owner.kind = OWNER_UDP
        if map_init(&self._udp_owner.map, self._store) < 0:
            raise MemoryError()

    def __dealloc__(self):
        if self._registered:
            self._unregister_owners(True)
        map_free(&self._udp_owner.map)

    def _owners(self):
        return (0, 1)

    cdef RWOwner *_extra_owner(self, int i) noexcept:
        return &self._udp_owner if i == 1 else NULL

    cdef RWOwner *owner_for(self, int ip_p) noexcept:
        return &self._udp_owner if ip_p == IP_PROTO_UDP else &self._owner

    def apply_keywords(self, values, errh):
        if not TCPRewriter.apply_keywords(self, values, errh):
            return False
        udp_timeout = values["udp_timeout"]
        streaming = values["udp_streaming_timeout"]
        if streaming is None:
            streaming = udp_timeout
        self._udp_owner.timeout = udp_timeout * NS
        self._udp_owner.guarantee = values["udp_guarantee"] * NS
        self._udp_owner.udp_streaming_timeout = streaming * NS
        return True

    cdef uint32_t add_flow(self, int ip_p, const FlowKey *flowid, const FlowKey *rewritten, int input,
                           int64_t now) noexcept:
        if ip_p == IP_PROTO_TCP:
            return self.new_flow(&self._owner, input, flowid, rewritten, IP_PROTO_TCP, now)
        return self.new_flow(&self._udp_owner, input, flowid, rewritten, <uint8_t> ip_p, now)

    cdef uint32_t get_entry(self, int ip_p, const FlowKey *flowid, int input) noexcept:
        cdef uint32_t ref
        cdef FlowKey rw
        if ip_p == IP_PROTO_TCP:
            return TCPRewriter.get_entry(self, ip_p, flowid, input)
        if ip_p != IP_PROTO_UDP or not self._registered:
            return NOREF
        ref = map_find(&self._udp_owner.map, flowid)
        if ref == NOREF and 0 <= input < self._nspecs:
            if self.spec_rewrite(input, flowid, &rw, &self._udp_owner.map) == RW_ADDMAP:
                # as Click, a UDP flow made this way does not record its protocol
                ref = self.add_flow(0, flowid, &rw, input, self.now())
        return ref

    cdef void prefetch_batch(self, Batch *b) noexcept:
        if self._registered:
            prefetch_port_flows(self._store, b, &self._owner.map, &self._udp_owner.map)

    cdef int process(self, int port, Packet **pp, int64_t now) noexcept:
        cdef Packet *p = self.writable_ip(pp[0])
        cdef unsigned char *iph
        cdef unsigned char *th
        cdef int ip_p, r = RW_ADDMAP
        cdef FlowKey key, rw
        cdef uint32_t ref
        cdef RWFlow *f
        cdef RWOwner *o
        if p == NULL:
            return -1
        pp[0] = p
        iph = p.buffer + p.network
        ip_p = iph[9]
        if (ip_p != IP_PROTO_TCP and ip_p != IP_PROTO_UDP) or (rd16(iph + 6) & IP_OFFMASK):
            return self.unmappable(port, p)
        if transport_length(p) < 8:
            return self.truncated(port, p)
        th = p.buffer + p.transport
        key.saddr = load_u32_raw(iph + 12)
        key.daddr = load_u32_raw(iph + 16)
        key.sport = load_u16_raw(th)
        key.dport = load_u16_raw(th + 2)
        o = &self._udp_owner if ip_p == IP_PROTO_UDP else &self._owner
        ref = map_find(&o.map, &key)
        if ref == NOREF:
            r = self.spec_rewrite(port, &key, &rw, &o.map)
            if r == RW_ADDMAP:
                ref = self.add_flow(ip_p, &key, &rw, port, now)
            if ref == NOREF:
                return self._result_output(r, p)
            if self._annos & ANNO_REPLY:
                flow_at(self._store, ref >> 1).reply_anno = p.anno[self._annos >> 2]
        f = flow_at(self._store, ref >> 1)
        if ip_p == IP_PROTO_TCP:
            tcp_flow_apply(f, p, ref & 1, self._annos)
        else:
            udp_flow_apply(f, p, ref & 1, self._annos)
        flow_refresh(self._store, o, f, now)
        return f.output[ref & 1]
