# cython: language_level=3
"""ICMPRewriter: rewrites ICMP errors about rewritten packets, as the rewriters' mappings say."""
from cpython.ref cimport PyObject
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport DST_IP_ANNO_OFFSET, Packet, packet_kill, packet_shared, packet_uniqueify

from clickpy.elements.ip.ip_header cimport (IP_OFFMASK, IP_PROTO_DCCP, IP_PROTO_ICMP, IP_PROTO_TCP,
                                            IP_PROTO_UDP, ip_header_ok, load_u16_raw, load_u32_raw, rd16,
                                            store_u16_raw, store_u32_raw)
from clickpy.elements.rewriter.flow_table cimport (NOREF, FlowKey, RWFlow, cksum_update, entry_rewritten,
                                                   flow_at, transport_length)
from clickpy.elements.rewriter.rewriter_base cimport GET_ENTRY_REPLY, IPRewriterBase

from clickpy.lang.confstring import split_words
from clickpy.runtime.args import AnyArg, Arg, Bool, Int

from clickpy.elements.rewriter.rewriter_base import AnnoByte

cdef enum:
    ICMP_ECHO = 8
    ICMP_UNREACH = 3
    ICMP_SOURCEQUENCH = 4
    ICMP_REDIRECT = 5
    ICMP_TIMXCEED = 11
    ICMP_PARAMPROB = 12
    UNMAPPED = -1


cdef inline uint16_t update_hws(uint16_t c, const uint16_t *old_hw, const uint16_t *new_hw, int n) noexcept nogil:
    cdef int i
    for i in range(n):
        c = cksum_update(c, old_hw[i], new_hw[i])
    return c


cdef inline void update_field(unsigned char *field, const uint16_t *old_hw, const uint16_t *new_hw, int n) noexcept nogil:
    store_u16_raw(field, update_hws(load_u16_raw(field), old_hw, new_hw, n))


cdef class ICMPRewriter(Element):
    """=c
    ICMPRewriter(MAPS [, I<keywords> DST_ANNO, REPLY_ANNO])

    =s nat
    rewrites ICMP error packets by existing mappings

    =d
    Rewrites ICMP errors (destination unreachable, time exceeded, parameter
    problem, source quench, redirect) about packets that went through a
    rewriter, so that they reach the host that sent the original packet.
    MAPS is a space-separated list of rewriter elements (IPRewriter,
    TCPRewriter, UDPRewriter, IPAddrRewriter, IPAddrPairRewriter,
    ICMPPingRewriter); the first whose mappings know the quoted packet's
    flow decides. The ICMP packet's destination, the quoted IP header's
    addresses, the quoted ports (or ping identifier) and every checksum
    touched are rewritten, and the packet leaves on output 0.

    A map written 'NAME:OFFSET' sends packets it rewrote to output OFFSET
    plus the output its mapping gives. Packets no map knows, ICMP packets
    that are not errors and non-ICMP packets are dropped.

    Keyword arguments:

    DST_ANNO (boolean, default true): set the destination address
    annotation when the destination changes. REPLY_ANNO: a one-byte
    annotation that errors about reply packets get from their flow (as the
    rewriter's REPLY_ANNO).

    =e
    rw :: IPRewriter(pattern 1.0.0.1 1024-65535# - - 0 1, drop);
    icmp_errors -> ICMPRewriter(rw) -> to_inside;

    =a IPRewriter, ICMPPingRewriter, IPAddrRewriter, TCPRewriter
    """
    port_count = "1/1-"
    processing = "h"
    arguments = (
        Arg("MAPS", AnyArg, None, positional=True, mandatory=True),
        Arg("DST_ANNO", Bool, True),
        Arg("REPLY_ANNO", AnnoByte, None),
    )

    cdef public object maps
    cdef public object dst_anno
    cdef public object reply_anno
    cdef list _map_list             # [(rewriter, port offset)] (keeps _elts alive)
    cdef PyObject **_elts
    cdef int *_offsets
    cdef int _nmaps
    cdef uint32_t _annos

    def __cinit__(self, *args, **kwargs):
        self._elts = NULL
        self._offsets = NULL
        self._nmaps = 0
        self._map_list = []

    def __dealloc__(self):
        free(self._elts)
        free(self._offsets)

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        self._annos = (1 if self.dst_anno else 0)
        if self.reply_anno is not None:
            self._annos |= 2 | (self.reply_anno << 2)
        maps = []
        for word in split_words(self.maps):
            name, offset = word, -1
            if ":" in word:
                name, _, off = word.partition(":")
                try:
                    offset = Int(off)
                except Exception:
                    errh.error(f"{word} not an IP rewriter")
                    continue
            e = self.router.find(name, self)
            if e is None:
                errh.error(f"{word} not an IP rewriter")
                continue
            if offset >= 0 and offset + e.noutputs > self.noutputs:
                n = self.noutputs
                errh.error(f"{word} port offset requires more than {n} {'output' if n == 1 else 'outputs'}")
                continue
            if not isinstance(e, IPRewriterBase):
                errh.error(f"{word} not an IP rewriter")
                continue
            maps.append((e, offset))
        if not maps:
            errh.error("no IP rewriters supplied")
            return False
        if errh.nerrors:
            return False
        free(self._elts)
        free(self._offsets)
        self._elts = <PyObject **> calloc(len(maps), sizeof(PyObject *))
        self._offsets = <int *> calloc(len(maps), sizeof(int))
        if self._elts == NULL or self._offsets == NULL:
            raise MemoryError()
        self._map_list = maps
        self._nmaps = len(maps)
        for i, (e, off) in enumerate(maps):
            self._elts[i] = <PyObject *> e
            self._offsets[i] = off
        return True

    cdef void push(self, int port, Packet *p) noexcept:
        cdef int out
        if packet_shared(p):
            p = packet_uniqueify(p)
            if p == NULL:
                self.dropped += 1
                return
        # bogus IP headers (not IPv4, header under 20 bytes) are errors
        if not ip_header_ok(p) or (p.buffer[p.network] & 0xF0) != 0x40 or (p.buffer[p.network] & 0x0F) < 5:
            self.drop(p)
            return
        if (p.buffer + p.network)[9] != IP_PROTO_ICMP:
            packet_kill(p)
            return
        out = self.handle(p)
        self.checked_output_push(out, p)

    cdef int handle(self, Packet *p) noexcept:
        cdef unsigned char *iph = p.buffer + p.network
        cdef unsigned char *icmph = p.buffer + p.transport
        cdef unsigned char *end = p.buffer + p.data + p.length
        cdef unsigned char *enc_iph
        cdef unsigned char *enc_transp
        cdef unsigned char *enc_csum
        cdef int tlen = transport_length(p)
        cdef int t, enc_p, mapid, nhw
        cdef bint use_enc_transp = False
        cdef FlowKey search, nf
        cdef uint32_t ref = NOREF
        cdef IPRewriterBase rw
        cdef RWFlow *f
        cdef uint16_t old_hw[8]
        cdef uint16_t new_hw[8]
        if tlen < 1:
            return UNMAPPED
        t = icmph[0]
        if (t != ICMP_UNREACH and t != ICMP_TIMXCEED and t != ICMP_PARAMPROB
                and t != ICMP_SOURCEQUENCH and t != ICMP_REDIRECT):
            return UNMAPPED
        # the quoted IP header: present, version 4, a sane length
        if tlen < 8 + 20:
            return UNMAPPED
        enc_iph = icmph + 8
        if (enc_iph[0] >> 4) != 4 or (enc_iph[0] & 0x0F) < 5:
            return UNMAPPED
        enc_transp = enc_iph + ((enc_iph[0] & 0x0F) << 2)
        # the flow the quoted packet belongs to, seen from the other side
        enc_p = enc_iph[9]
        search.saddr = load_u32_raw(enc_iph + 16)
        search.sport = 0
        search.daddr = load_u32_raw(enc_iph + 12)
        search.dport = 0
        if enc_p == IP_PROTO_TCP or enc_p == IP_PROTO_UDP or enc_p == IP_PROTO_DCCP:
            if enc_transp + 8 <= end and not (rd16(enc_iph + 6) & IP_OFFMASK):
                search.sport = load_u16_raw(enc_transp + 2)
                search.dport = load_u16_raw(enc_transp)
                use_enc_transp = True
        elif enc_p == IP_PROTO_ICMP:
            if enc_transp + 6 <= end and not (rd16(enc_iph + 6) & IP_OFFMASK) and enc_transp[0] == ICMP_ECHO:
                search.sport = load_u16_raw(enc_transp + 4)
                use_enc_transp = True
        for mapid in range(self._nmaps):
            rw = <IPRewriterBase> self._elts[mapid]
            ref = rw.get_entry(enc_p, &search, GET_ENTRY_REPLY)
            if ref != NOREF:
                break
        if ref == NOREF:
            return UNMAPPED
        entry_rewritten(rw._store, ref, &nf)
        f = flow_at(rw._store, ref >> 1)
        # the ICMP packet's own destination, if it was the rewritten host
        if load_u32_raw(iph + 16) == search.daddr:
            memcpy(old_hw, iph + 16, 4)
            store_u32_raw(iph + 16, nf.daddr)
            memcpy(new_hw, iph + 16, 4)
            update_field(iph + 10, old_hw, new_hw, 2)
            if self._annos & 1:
                memcpy(&p.anno[DST_IP_ANNO_OFFSET], &nf.daddr, 4)
        if (ref & 1) and (self._annos & 2):
            p.anno[self._annos >> 2] = f.reply_anno
        # the quoted IP header: halfwords 0 (checksum) and 1-4 (addresses)
        memcpy(&old_hw[1], enc_iph + 12, 8)
        old_hw[0] = load_u16_raw(enc_iph + 10)
        store_u32_raw(enc_iph + 12, nf.daddr)
        store_u32_raw(enc_iph + 16, nf.saddr)
        memcpy(&new_hw[1], enc_iph + 12, 8)
        update_field(enc_iph + 10, old_hw + 1, new_hw + 1, 4)
        new_hw[0] = load_u16_raw(enc_iph + 10)
        nhw = 5
        if use_enc_transp:
            if enc_p == IP_PROTO_TCP or enc_p == IP_PROTO_UDP or enc_p == IP_PROTO_DCCP:
                # ports (halfwords 5-6), then the quoted transport checksum if it is there
                memcpy(old_hw + 5, enc_transp, 4)
                store_u16_raw(enc_transp, nf.dport)
                store_u16_raw(enc_transp + 2, nf.sport)
                memcpy(new_hw + 5, enc_transp, 4)
                nhw = 7
                enc_csum = NULL
                if enc_p == IP_PROTO_TCP and enc_transp + 18 <= end:
                    enc_csum = enc_transp + 16
                elif enc_p == IP_PROTO_UDP and enc_transp + 8 <= end and load_u16_raw(enc_transp + 6) != 0:
                    enc_csum = enc_transp + 6
                if enc_csum != NULL:
                    old_hw[7] = load_u16_raw(enc_csum)
                    update_field(enc_csum, old_hw + 1, new_hw + 1, 6)
                    new_hw[7] = load_u16_raw(enc_csum)
                    nhw = 8
            else:
                # the ping identifier, then the quoted ICMP checksum
                old_hw[5] = load_u16_raw(enc_transp + 4)
                new_hw[5] = nf.dport
                store_u16_raw(enc_transp + 4, nf.dport)
                old_hw[6] = load_u16_raw(enc_transp + 2)
                update_field(enc_transp + 2, old_hw + 5, new_hw + 5, 1)
                if load_u16_raw(enc_transp + 2) == 0 and _all_zero(enc_transp, <int> (end - enc_transp)):
                    store_u16_raw(enc_transp + 2, 0xFFFF)
                new_hw[6] = load_u16_raw(enc_transp + 2)
                nhw = 7
        # the outer ICMP checksum covers all of it
        update_field(icmph + 2, old_hw, new_hw, nhw)
        if self._offsets[mapid] >= 0:
            return self._offsets[mapid] + f.output[ref & 1]
        return 0


cdef inline bint _all_zero(const unsigned char *x, int n) noexcept nogil:
    cdef int i
    for i in range(n):
        if x[i]:
            return False
    return True
