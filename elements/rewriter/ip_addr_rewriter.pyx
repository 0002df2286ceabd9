# cython: language_level=3
"""IPAddrRewriter: Basic NAT, a new source address per internal host."""
from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.string cimport memcpy

from clickpy.runtime.packet cimport DST_IP_ANNO_OFFSET, Packet

from clickpy.elements.ip.ip_header cimport (IP_OFFMASK, IP_PROTO_TCP, IP_PROTO_UDP, load_u16_raw, load_u32_raw,
                                            rd16, store_u32_raw)
from clickpy.elements.rewriter.flow_table cimport (ANNO_DST, ANNO_REPLY, NOREF, RW_ADDMAP, FlowKey, RWFlow,
                                                   csum_apply, flow_at, flow_refresh, key_set, map_find,
                                                   transport_length)
from clickpy.elements.rewriter.rewriter_base cimport IPRewriterBase

from clickpy.runtime.args import Arg
from clickpy.runtime.handlers import Read

from clickpy.elements.rewriter.rewriter_base import REWRITER_HANDLERS, AnnoByte, ip_unparse_raw, rewriter_arguments


cdef void addr_flow_transport_csum(RWFlow *f, Packet *p, int d) noexcept nogil:
    """The TCP or UDP checksum covers the addresses: apply the delta (first fragments)."""
    cdef unsigned char *iph = p.buffer + p.network
    cdef unsigned char *th
    cdef int tlen
    if rd16(iph + 6) & IP_OFFMASK:
        return
    tlen = transport_length(p)
    th = p.buffer + p.transport
    if iph[9] == IP_PROTO_TCP and tlen >= 18:
        csum_apply(th + 16, d, f.udp_csum_delta)
    elif iph[9] == IP_PROTO_UDP and tlen >= 8 and load_u16_raw(th + 6):
        csum_apply(th + 6, d, f.udp_csum_delta)


cdef class IPAddrRewriter(IPRewriterBase):
    """=c
    IPAddrRewriter(INPUTSPEC1, ..., INPUTSPECn [, I<keywords> TIMEOUT, GUARANTEE,
    REAP_INTERVAL, MAPPING_CAPACITY, REPLY_ANNO])

    =s nat
    rewrites IP packets' addresses

    =d
    Basic NAT: rewrites the source address of packets from internal hosts,
    and the destination address of the replies, with the IP checksum and
    the TCP or UDP checksum. Works for any IP protocol, but an internal host
    holds one external address while it has a mapping.

    A packet is looked up first by its source address, then by its
    destination address. A packet with a mapping is rewritten by it and
    leaves on the mapping's output; one without is handled by its input's
    INPUTSPEC: 'drop', 'pass OUTPUT', 'keep FOUTPUT ROUTPUT' and
    'ELEMENTNAME' as in IPRewriter, or

    'pattern SADDR[-SADDR2] - FOUTPUT ROUTPUT': map the source address to
    one of the range or prefix ('ADDR/LEN', without PREFIX.0 and the
    broadcast address) that no mapping uses yet, chosen at random ('#': in
    order); the packet is dropped when none is free. SADDR '-' keeps the
    address. The destination must be '-' (IPAddrPairRewriter rewrites
    destinations). Packets from the old source go to FOUTPUT, packets to the
    new one are rewritten back and go to ROUTPUT.

    'pattern NAME FOUTPUT ROUTPUT': a pattern named by IPRewriterPatterns.

    The destination address annotation of replies is set to the rewritten
    destination.

    Keyword arguments: TIMEOUT (default 2 hours), GUARANTEE (default 5
    seconds), REAP_INTERVAL (default 15 minutes), MAPPING_CAPACITY,
    REPLY_ANNO, as in IPRewriter.

    =h table, mappings read-only
    The mapping table: 'SADDR => SADDR2 [FOUT ROUT] iINPUT expSECONDS' per direction.

    =h table_size, nmappings, mapping_failures, size, capacity, patterns, patternN, clear
    As in IPRewriter.

    =e
    rw :: IPAddrRewriter(pattern 18.26.4.1-18.26.4.254# - 0 1, drop);

    =a IPRewriter, IPAddrPairRewriter, StoreIPAddress
    """
    arguments = rewriter_arguments((Arg("REPLY_ANNO", AnnoByte, None),), default_timeout=60 * 120)
    handlers = REWRITER_HANDLERS + (
        Read("table", lambda e: e.table_text(0), expensive=True),
        Read("mappings", lambda e: e.table_text(0), expensive=True),
    )

    cdef uint32_t add_flow(self, int ip_p, const FlowKey *flowid, const FlowKey *rewritten, int input,
                           int64_t now) noexcept:
        if rewritten.sport or rewritten.dport or rewritten.daddr:
            return NOREF
        return self.new_flow(&self._owner, input, flowid, rewritten, 0, now)

    cdef uint32_t get_entry(self, int ip_p, const FlowKey *xflowid, int input) noexcept:
        cdef FlowKey flowid, rflowid, rw
        cdef uint32_t ref
        if not self._registered:
            return NOREF
        key_set(&flowid, xflowid.saddr, 0, 0, 0)
        ref = map_find(&self._owner.map, &flowid)
        if ref == NOREF:
            key_set(&rflowid, 0, 0, xflowid.daddr, 0)
            ref = map_find(&self._owner.map, &rflowid)
        if ref == NOREF and 0 <= input < self._nspecs:
            if self.spec_rewrite(input, &flowid, &rw, &self._owner.map) == RW_ADDMAP:
                ref = self.add_flow(0, &flowid, &rw, input, self.now())
        return ref

    cdef int process(self, int port, Packet **pp, int64_t now) noexcept:
        cdef Packet *p = self.writable_ip(pp[0])
        cdef unsigned char *iph
        cdef int r = RW_ADDMAP, d
        cdef FlowKey flowid, rflowid, rw
        cdef uint32_t ref
        cdef RWFlow *f
        if p == NULL:
            return -1
        pp[0] = p
        iph = p.buffer + p.network
        key_set(&flowid, load_u32_raw(iph + 12), 0, 0, 0)
        ref = map_find(&self._owner.map, &flowid)
        if ref == NOREF:
            key_set(&rflowid, 0, 0, load_u32_raw(iph + 16), 0)
            ref = map_find(&self._owner.map, &rflowid)
        if ref == NOREF:
            r = self.spec_rewrite(port, &flowid, &rw, &self._owner.map)
            if r == RW_ADDMAP:
                ref = self.add_flow(0, &flowid, &rw, port, now)
            if ref == NOREF:
                return self._result_output(r, p)
            if self._annos & ANNO_REPLY:
                flow_at(self._store, ref >> 1).reply_anno = p.anno[self._annos >> 2]
        f = flow_at(self._store, ref >> 1)
        d = ref & 1
        # only the host's own address changes: the source going out, the destination coming back
        if not d:
            store_u32_raw(iph + 12, f.key[1].daddr)
        else:
            store_u32_raw(iph + 16, f.key[0].saddr)
            if self._annos & ANNO_DST:
                memcpy(&p.anno[DST_IP_ANNO_OFFSET], &f.key[0].saddr, 4)
            if self._annos & ANNO_REPLY:
                p.anno[self._annos >> 2] = f.reply_anno
        csum_apply(iph + 10, d, f.ip_csum_delta)
        addr_flow_transport_csum(f, p, d)
        flow_refresh(self._store, &self._owner, f, now)
        return f.output[d]

    def unparse_entry(self, uint32_t ref, int64_t now):
        cdef RWFlow *f = flow_at(self._store, ref >> 1)
        cdef int d = ref & 1
        return (f"{ip_unparse_raw(f.key[d].saddr)} => {ip_unparse_raw(f.key[1 - d].daddr)}"
                f"{self.unparse_ports(ref, now)}")
