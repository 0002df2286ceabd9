# cython: language_level=3
"""ICMPPingRewriter: NAT for ICMP echo requests and replies (identifiers as ports)."""
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t

from clickpy.runtime.packet cimport Packet

from clickpy.elements.ip.ip_header cimport (IP_OFFMASK, IP_PROTO_ICMP, load_u16_raw, load_u32_raw, rd16,
                                            store_u16_raw)
from clickpy.elements.rewriter.flow_table cimport (ANNO_REPLY, NOREF, RW_ADDMAP, FlowKey, RWFlow, cksum_update,
                                                   csum_apply, flow_apply_ip, flow_at, flow_refresh, key_set,
                                                   map_find, transport_length)
from clickpy.elements.rewriter.rewriter_base cimport GET_ENTRY_REPLY, IPRewriterBase

from clickpy.runtime.args import Arg, Bool
from clickpy.runtime.handlers import Read

from clickpy.elements.ip.ip_header cimport ntohs
from clickpy.elements.rewriter.rewriter_base import REWRITER_HANDLERS, AnnoByte, ip_unparse_raw, rewriter_arguments

cdef enum:
    ICMP_ECHOREPLY = 0
    ICMP_ECHO = 8


cdef inline void zero_cksum_fix(unsigned char *csum, const unsigned char *x, int length) noexcept nogil:
    # Click's click_update_zero_in_cksum: all-zero data sums to 0xFFFF, not 0
    cdef int i
    if load_u16_raw(csum) != 0:
        return
    for i in range(length):
        if x[i]:
            return
    store_u16_raw(csum, 0xFFFF)


cdef class ICMPPingRewriter(IPRewriterBase):
    """=c
    ICMPPingRewriter(INPUTSPEC1, ..., INPUTSPECn [, I<keywords> TIMEOUT, GUARANTEE,
    REAP_INTERVAL, MAPPING_CAPACITY, DST_ANNO, REPLY_ANNO])

    =s nat
    rewrites ICMP echo requests and replies

    =d
    Rewrites ICMP echo requests' addresses and identifiers, and the replies
    to them, so that pings pass through a NAT gateway. An echo request
    without a mapping is rewritten by its input's INPUTSPEC (as IPRewriter's;
    the SPORT range of a pattern gives the identifiers, as in 'pattern
    1.0.0.1 - 0-65535 0 1'). A request (SRC, DST, ID) that becomes (SRC2,
    DST2, ID2) makes two mappings: one for later requests, one that turns
    replies (DST2, SRC2, ID2) back into (DST, SRC, ID). The ICMP checksum is
    updated.

    Echo replies without a mapping, other ICMP messages, other protocols and
    later fragments are dropped unless their input's spec is 'pass'.

    Keyword arguments: TIMEOUT (default 5 minutes), GUARANTEE (default 5
    seconds), REAP_INTERVAL (default 15 minutes), MAPPING_CAPACITY,
    DST_ANNO (default true), REPLY_ANNO, as in IPRewriter.

    =h table, mappings read-only
    The mapping table: '(SRC, DST, ID) => (SRC2, DST2, ID2) [FOUT ROUT] iINPUT expSECONDS'.

    =h table_size, nmappings, mapping_failures, size, capacity, patterns, patternN, clear
    As in IPRewriter.

    =e
    rw :: ICMPPingRewriter(pattern 1.0.0.1 - 0-65535# 0 1, drop);

    =a IPRewriter, ICMPPingResponder, ICMPRewriter
    """
    arguments = rewriter_arguments((
        Arg("DST_ANNO", Bool, True),
        Arg("REPLY_ANNO", AnnoByte, None),
    ))
    handlers = REWRITER_HANDLERS + (
        Read("table", lambda e: e.table_text(0), expensive=True),
        Read("mappings", lambda e: e.table_text(0), expensive=True),
    )

    cdef uint32_t add_flow(self, int ip_p, const FlowKey *flowid, const FlowKey *rewritten, int input,
                           int64_t now) noexcept:
        # identifiers are carried as (ID, ID + 1) in the port fields, as in Click
        cdef uint32_t ref
        cdef RWFlow *f
        if (<uint16_t> (flowid.sport + 1) != flowid.dport
                or <uint16_t> (rewritten.sport + 1) != rewritten.dport):
            return NOREF
        ref = self.new_flow(&self._owner, input, flowid, rewritten, IP_PROTO_ICMP, now)
        if ref != NOREF:
            f = flow_at(self._store, ref >> 1)
            f.udp_csum_delta = cksum_update(0, flowid.sport, rewritten.sport)
        return ref

    cdef uint32_t get_entry(self, int ip_p, const FlowKey *xflowid, int input) noexcept:
        cdef FlowKey flowid, rw
        cdef uint32_t ref
        cdef int echo = input != GET_ENTRY_REPLY
        if ip_p != IP_PROTO_ICMP or not self._registered:
            return NOREF
        key_set(&flowid, xflowid.saddr, <uint16_t> (xflowid.sport + (not echo)),
                xflowid.daddr, <uint16_t> (xflowid.sport + echo))
        ref = map_find(&self._owner.map, &flowid)
        if ref == NOREF and 0 <= input < self._nspecs:
            if self.spec_rewrite(input, &flowid, &rw, &self._owner.map) == RW_ADDMAP:
                rw.dport = <uint16_t> (rw.sport + 1)
                ref = self.add_flow(IP_PROTO_ICMP, &flowid, &rw, input, self.now())
        return ref

    cdef int process(self, int port, Packet **pp, int64_t now) noexcept:
        cdef Packet *p = self.writable_ip(pp[0])
        cdef unsigned char *iph
        cdef unsigned char *icmph
        cdef int r = RW_ADDMAP, d, echo, tlen
        cdef uint16_t ident
        cdef FlowKey flowid, rw
        cdef uint32_t ref
        cdef RWFlow *f
        if p == NULL:
            return -1
        pp[0] = p
        iph = p.buffer + p.network
        tlen = transport_length(p)
        if iph[9] != IP_PROTO_ICMP or (rd16(iph + 6) & IP_OFFMASK):
            return self.unmappable(port, p)
        if tlen < 6:
            return self.truncated(port, p)
        icmph = p.buffer + p.transport
        if icmph[0] != ICMP_ECHO and icmph[0] != ICMP_ECHOREPLY:
            return self.unmappable(port, p)
        echo = icmph[0] == ICMP_ECHO
        ident = load_u16_raw(icmph + 4)
        key_set(&flowid, load_u32_raw(iph + 12), <uint16_t> (ident + (not echo)),
                load_u32_raw(iph + 16), <uint16_t> (ident + echo))
        ref = map_find(&self._owner.map, &flowid)
        if ref == NOREF:
            if not echo:
                return self.unmappable(port, p)
            r = self.spec_rewrite(port, &flowid, &rw, &self._owner.map)
            if r == RW_ADDMAP:
                rw.dport = <uint16_t> (rw.sport + 1)
                ref = self.add_flow(IP_PROTO_ICMP, &flowid, &rw, port, now)
            if ref == NOREF:
                return self._result_output(r, p)
            if self._annos & ANNO_REPLY:
                flow_at(self._store, ref >> 1).reply_anno = p.anno[self._annos >> 2]
        f = flow_at(self._store, ref >> 1)
        d = ref & 1
        flow_apply_ip(f, p, d, self._annos)
        # the identifier: a request gets the new one, a reply the original
        store_u16_raw(icmph + 4, f.key[1 - d].sport if d else f.key[1 - d].dport)
        csum_apply(icmph + 2, d, f.udp_csum_delta)
        zero_cksum_fix(icmph + 2, icmph, tlen)
        flow_refresh(self._store, &self._owner, f, now)
        return f.output[d]

    def unparse_entry(self, uint32_t ref, int64_t now):
        cdef RWFlow *f = flow_at(self._store, ref >> 1)
        cdef int d = ref & 1
        cdef FlowKey *k = &f.key[d]
        cdef FlowKey *o = &f.key[1 - d]
        # the rewritten flow is the other entry's key reversed
        return (f"({ip_unparse_raw(k.saddr)}, {ip_unparse_raw(k.daddr)}, {ntohs(k.sport)}) => "
                f"({ip_unparse_raw(o.daddr)}, {ip_unparse_raw(o.saddr)}, {ntohs(o.dport)})"
                f"{self.unparse_ports(ref, now)}")
