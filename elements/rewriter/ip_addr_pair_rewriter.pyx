# cython: language_level=3
"""IPAddrPairRewriter: NAT per pair of source and destination addresses."""
from libc.stdint cimport int64_t, uint8_t, uint32_t

from clickpy.runtime.packet cimport Packet

from clickpy.elements.ip.ip_header cimport load_u32_raw
from clickpy.elements.rewriter.flow_table cimport (ANNO_REPLY, NOREF, RW_ADDMAP, FlowKey, RWFlow, flow_apply_ip,
                                                   flow_at, flow_refresh, key_set, map_find)
from clickpy.elements.rewriter.rewriter_base cimport IPRewriterBase
from clickpy.elements.rewriter.ip_addr_rewriter cimport addr_flow_transport_csum

from clickpy.runtime.args import Arg
from clickpy.runtime.handlers import Read

from clickpy.elements.rewriter.rewriter_base import REWRITER_HANDLERS, AnnoByte, ip_unparse_raw, rewriter_arguments


cdef class IPAddrPairRewriter(IPRewriterBase):
    """=c
    IPAddrPairRewriter(INPUTSPEC1, ..., INPUTSPECn [, I<keywords> TIMEOUT, GUARANTEE,
    REAP_INTERVAL, MAPPING_CAPACITY, REPLY_ANNO])

    =s nat
    rewrites IP packets' addresses by address pair

    =d
    Address translation per (source, destination) address pair: between
    Basic NAT (IPAddrRewriter) and NAPT (IPRewriter). Rewrites source and
    destination addresses with the IP checksum and the TCP or UDP checksum,
    for any IP protocol.

    A packet is looked up by its address pair. With a mapping it is
    rewritten and leaves on the mapping's output; without, its input's
    INPUTSPEC decides: 'drop', 'pass OUTPUT', 'keep FOUTPUT ROUTPUT' and
    'ELEMENTNAME' as in IPRewriter, or

    'pattern SADDR[-SADDR2] DADDR FOUTPUT ROUTPUT': rewrite the pair by the
    pattern ('-' keeps a field). SADDR may be a range or a prefix: the
    address chosen is one no mapping uses with this destination (random, or
    in order with '#'); the packet is dropped when none is free. The pair
    (SA, DA) becomes (SA', DA') and goes to FOUTPUT; replies (DA', SA')
    become (DA, SA) and go to ROUTPUT.

    'pattern NAME FOUTPUT ROUTPUT': a pattern named by IPRewriterPatterns.

    The destination address annotation is set to the new destination.

    Keyword arguments: TIMEOUT (default 2 hours), GUARANTEE (default 5
    seconds), REAP_INTERVAL (default 15 minutes), MAPPING_CAPACITY,
    REPLY_ANNO, as in IPRewriter.

    =h table, mappings read-only
    The mapping table: '(SA, DA) => (SA', DA') [FOUT ROUT] iINPUT expSECONDS' per direction.

    =h table_size, nmappings, mapping_failures, size, capacity, patterns, patternN, clear
    As in IPRewriter.

    =e
    rw :: IPAddrPairRewriter(pattern 3.0.0.1-3.0.0.254# - 0 1, drop);

    =a IPRewriter, IPAddrRewriter
    """
    arguments = rewriter_arguments((Arg("REPLY_ANNO", AnnoByte, None),), default_timeout=60 * 120)
    handlers = REWRITER_HANDLERS + (
        Read("table", lambda e: e.table_text(0), expensive=True),
        Read("mappings", lambda e: e.table_text(0), expensive=True),
    )

    cdef uint32_t add_flow(self, int ip_p, const FlowKey *flowid, const FlowKey *rewritten, int input,
                           int64_t now) noexcept:
        if rewritten.sport or rewritten.dport:
            return NOREF
        return self.new_flow(&self._owner, input, flowid, rewritten, 0, now)

    cdef uint32_t get_entry(self, int ip_p, const FlowKey *xflowid, int input) noexcept:
        cdef FlowKey flowid, rw
        cdef uint32_t ref
        if not self._registered:
            return NOREF
        key_set(&flowid, xflowid.saddr, 0, xflowid.daddr, 0)
        ref = map_find(&self._owner.map, &flowid)
        if ref == NOREF and 0 <= input < self._nspecs:
            if self.spec_rewrite(input, &flowid, &rw, &self._owner.map) == RW_ADDMAP:
                ref = self.add_flow(0, &flowid, &rw, input, self.now())
        return ref

    cdef int process(self, int port, Packet **pp, int64_t now) noexcept:
        cdef Packet *p = self.writable_ip(pp[0])
        cdef unsigned char *iph
        cdef int r = RW_ADDMAP
        cdef FlowKey flowid, rw
        cdef uint32_t ref
        cdef RWFlow *f
        if p == NULL:
            return -1
        pp[0] = p
        iph = p.buffer + p.network
        key_set(&flowid, load_u32_raw(iph + 12), 0, load_u32_raw(iph + 16), 0)
        ref = map_find(&self._owner.map, &flowid)
        if ref == NOREF:
            r = self.spec_rewrite(port, &flowid, &rw, &self._owner.map)
            if r == RW_ADDMAP:
                ref = self.add_flow(0, &flowid, &rw, port, now)
            if ref == NOREF:
                return self._result_output(r, p)
            if self._annos & ANNO_REPLY:
                flow_at(self._store, ref >> 1).reply_anno = p.anno[self._annos >> 2]
        f = flow_at(self._store, ref >> 1)
        flow_apply_ip(f, p, ref & 1, self._annos)
        addr_flow_transport_csum(f, p, ref & 1)
        flow_refresh(self._store, &self._owner, f, now)
        return f.output[ref & 1]

    def unparse_entry(self, uint32_t ref, int64_t now):
        cdef RWFlow *f = flow_at(self._store, ref >> 1)
        cdef int d = ref & 1
        return (f"({ip_unparse_raw(f.key[d].saddr)}, {ip_unparse_raw(f.key[d].daddr)}) => "
                f"({ip_unparse_raw(f.key[1 - d].daddr)}, {ip_unparse_raw(f.key[1 - d].saddr)})"
                f"{self.unparse_ports(ref, now)}")
