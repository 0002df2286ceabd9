# cython: language_level=3
"""IPReassembler: rebuilds IP datagrams from their fragments.

Fragments of one datagram (same ID, protocol, source and destination)
collect in one packet, the datagram under construction, kept in a hash
bucket by IP ID. Which byte ranges of its payload have arrived is a chain
of (off, lastoff) ranges: the first lives in the packet's IPREASSEMBLER
annotation, and each following one is stored in the payload itself, in the
gap just after the previous range (fragment boundaries are multiples of 8,
so a gap always has room). A new fragment merges the ranges it touches and
its bytes are copied in (a later fragment's bytes win where they overlap).
The datagram is complete when one range covers the whole payload and the
last fragment (no MF) has arrived.

Time comes from packet timestamps (a fragment without one is stamped with
the current time): every 10 seconds, datagrams whose newest first fragment
is over 30 seconds old are given up. Memory is bounded by HIMEM: above it,
the oldest datagrams are given up until usage falls to 3/4 HIMEM. Given-up
datagrams leave on output 1 if it exists (holes unfilled), else are dropped.
"""
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport (Packet, packet_copy_annotations, packet_kill, packet_make,
                                     packet_uniqueify, pkt_anno_u16, pkt_data, pkt_pull, pkt_push,
                                     pkt_put, pkt_set_anno_u16, pkt_set_network_header, pkt_take)
from clickpy.runtime.scheduler cimport Scheduler
from clickpy.elements.ip.ip_header cimport (IP_HEADER_LEN, IP_MF, IP_OFFMASK, IPREASSEMBLER_ANNO_OFFSET,
                                            ip_frag_byte_offset, ip_header_ok, ip_hl, ip_id, ip_is_frag,
                                            ip_len, ip_off, ip_set_checksum, ip_unparse,
                                            load_u16_raw, load_u32_raw, pkt_ip_header_length,
                                            pkt_network_length, pkt_transport_length, rd16,
                                            store_u16_raw, wr16)

import sys

from clickpy.runtime.args import Annotation, Arg, Unsigned
from clickpy.runtime.handlers import Read

cdef enum:
    NMAP = 256
    REAP_TIMEOUT = 30       # seconds
    REAP_INTERVAL = 10      # seconds
    IPH_MEM_USED = 40       # bytes charged per datagram besides its payload


cdef struct ChunkLink:
    uint16_t off
    uint16_t lastoff


cdef inline ChunkLink read_chunk(const unsigned char *at) noexcept nogil:
    cdef ChunkLink c
    memcpy(&c, at, 4)
    return c

cdef inline void write_chunk(unsigned char *at, ChunkLink c) noexcept nogil:
    memcpy(at, &c, 4)

cdef inline unsigned char *first_chunk(Packet *q) noexcept nogil:
    return &q.anno[IPREASSEMBLER_ANNO_OFFSET]

cdef inline unsigned char *next_chunk(Packet *q, ChunkLink c) noexcept nogil:
    """Where the range after c is stored, or NULL if c ends the payload."""
    if c.lastoff >= pkt_transport_length(q):
        return NULL
    return q.buffer + q.transport + c.lastoff

cdef inline bint same_datagram(const unsigned char *a, const unsigned char *b) noexcept nogil:
    return (load_u16_raw(a + 4) == load_u16_raw(b + 4) and a[9] == b[9]
            and load_u32_raw(a + 12) == load_u32_raw(b + 12)
            and load_u32_raw(a + 16) == load_u32_raw(b + 16))

cdef inline int64_t seconds(int64_t ns) noexcept nogil:
    return ns // 1000000000 if ns >= 0 else -((-ns + 999999999) // 1000000000)


def _chatter(msg):
    try:
        sys.stderr.write(msg + "\n")
    except BaseException:
        pass


cdef class IPReassembler(BranchElement):
    """=c
    IPReassembler([keywords HIMEM, MAX_MTU_ANNO])

    =s ip
    Reassembles fragmented IP packets

    =d
    Expects IP packets (with the IP header annotation) on its input.
    Non-fragments pass straight through. Fragments are held until the whole
    datagram has arrived, which then leaves on output 0 with the MAC header,
    IP header and annotations of the first fragment, the timestamp of the
    last one, and a fresh length and checksum. Overlapping fragments are
    merged, later bytes winning.

    A datagram that stays incomplete for 30 seconds (by packet timestamps)
    is given up: pushed to output 1, holes and all, if it exists, else
    dropped. Memory is bounded: above HIMEM bytes (default 256K) the oldest
    datagrams are given up until usage falls to 3/4 HIMEM.

    Fragments with impossible lengths or offsets, and packets without an IP
    header, are dropped and counted. MAX_MTU_ANNO names a 2-byte annotation
    set on reassembled packets to the largest fragment's size.

    =h dump read-only
    Counters, and the byte ranges held for each incomplete datagram.

    =a IPFragmenter
    """
    port_count = "1/1-2"
    emits = True                # classify sends ICMP errors (emit)
    processing = "a/ah"
    arguments = (
        Arg("HIMEM", Unsigned, 256 * 1024),
        Arg("MAX_MTU_ANNO", Annotation(2), -1),
    )
    handlers = (Read("dump", lambda e: e.dump()),)

    cdef Packet *_map[256]
    cdef int64_t _reap_time
    cdef public uint64_t frags_seen
    cdef public uint64_t good_assem
    cdef public uint64_t failed_assem
    cdef public uint64_t bad_pkts
    cdef public uint64_t mem_used
    cdef public unsigned himem
    cdef public int max_mtu_anno
    cdef uint64_t _mem_low
    cdef Scheduler _sched

    def __cinit__(self):
        cdef int i
        for i in range(NMAP):
            self._map[i] = NULL

    def __dealloc__(self):
        self._free_all()

    cdef void _free_all(self) noexcept:
        cdef int i
        cdef Packet *q
        cdef Packet *nxt
        for i in range(NMAP):
            q = self._map[i]
            while q != NULL:
                nxt = q.next
                q.next = NULL
                packet_kill(q)
                q = nxt
            self._map[i] = NULL
        self.mem_used = 0

    def configure(self, conf, errh):
        if not BranchElement.configure(self, conf, errh):
            return False
        self._mem_low = (self.himem >> 2) * 3
        return True

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self._reap_time = 0

    def cleanup(self, stage):
        self._free_all()

    # --- the data path -------------------------------------------------------------

    cdef void _give_up(self, Packet *q) noexcept:
        q.next = NULL
        self.mem_used -= IPH_MEM_USED + pkt_transport_length(q)
        self.emit(1, q)     # after the packets that came before the one being handled

    cdef void reap(self, int64_t now) noexcept:
        cdef int64_t kill_time = now - REAP_TIMEOUT
        cdef int i
        cdef Packet **pprev
        cdef Packet *q
        for i in range(NMAP):
            pprev = &self._map[i]
            q = pprev[0]
            while q != NULL:
                if seconds(q.timestamp) < kill_time:
                    pprev[0] = q.next
                    self._give_up(q)
                else:
                    pprev = &q.next
                q = pprev[0]
        self._reap_time = now + REAP_INTERVAL

    cdef void reap_overfull(self, int64_t now) noexcept:
        # Datagrams at least 10 seconds old first, then 5, then any.
        cdef int delta, i
        cdef Packet **pprev
        cdef Packet *q
        for delta in (10, 5, 0):
            for i in range(NMAP):
                pprev = &self._map[i]
                q = pprev[0]
                while q != NULL:
                    if delta == 0 or seconds(q.timestamp) < now - delta:
                        pprev[0] = q.next
                        self._give_up(q)
                        self.failed_assem += 1
                        if self.mem_used <= self._mem_low:
                            return
                    else:
                        pprev = &q.next
                    q = pprev[0]
        _chatter("IPReassembler: cannot free enough memory!")

    cdef void make_queue(self, Packet *p, Packet **pprev, int p_off, int p_lastoff) noexcept:
        cdef Packet *q
        cdef ChunkLink c
        cdef unsigned char *qip
        # the fragment's own size (Click records the datagram buffer's here
        # when the first fragment to arrive is not the first one)
        cdef int frag_size = pkt_network_length(p)
        if p_off == 0:
            q = packet_uniqueify(p)
            if q == NULL:
                _chatter("out of memory")
                return
        else:
            q = packet_make(<uint32_t> p.network, NULL, IP_HEADER_LEN + p_lastoff, 0)
            if q == NULL:
                packet_kill(p)
                _chatter("out of memory")
                return
            pkt_set_network_header(q, 0, IP_HEADER_LEN)
            qip = pkt_data(q)
            memcpy(qip, p.buffer + p.network, IP_HEADER_LEN)
            qip[0] = (qip[0] & 0xF0) | (IP_HEADER_LEN >> 2)
            memset(qip + IP_HEADER_LEN, 0, p_off)
            memcpy(qip + IP_HEADER_LEN + p_off, p.buffer + p.transport, p_lastoff - p_off)
            q.timestamp = p.timestamp
            packet_kill(p)
        self.mem_used += IPH_MEM_USED + p_lastoff
        qip = q.buffer + q.network
        wr16(qip + 6, ip_off(qip) & ~IP_OFFMASK)      # keep MF, DF, RF
        if self.max_mtu_anno >= 0:
            pkt_set_anno_u16(q, self.max_mtu_anno, <uint16_t> frag_size)
        c.off = p_off
        c.lastoff = p_lastoff
        write_chunk(first_chunk(q), c)
        q.next = pprev[0]
        pprev[0] = q

    cdef Packet *complete(self, Packet *q, Packet **pprev, Packet *p) noexcept:
        cdef unsigned char *qip = q.buffer + q.network
        cdef ChunkLink zero
        self.good_assem += 1
        pprev[0] = q.next
        q.next = NULL
        wr16(qip + 2, <uint16_t> pkt_network_length(q))
        ip_set_checksum(qip, ip_hl(qip))
        zero.off = zero.lastoff = 0
        write_chunk(first_chunk(q), zero)
        q.timestamp = p.timestamp
        packet_kill(p)
        self.mem_used -= IPH_MEM_USED + pkt_transport_length(q)
        return q

    cdef Packet *bad(self, Packet *p) noexcept:
        self.bad_pkts += 1
        packet_kill(p)
        return NULL

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        cdef const unsigned char *iph
        cdef unsigned char *qip
        cdef int64_t now
        cdef int p_off, p_lastoff, dlen, old_tlen, want, bucket, delta
        cdef int p_ipoff, p_hlen, q_ipoff, q_hlen
        cdef Packet **pprev
        cdef Packet *q
        cdef Packet *q2
        cdef Packet *bucket_next
        cdef unsigned char *chunk_at
        cdef unsigned char *last_at
        cdef ChunkLink chunk, last
        cdef uint16_t old_ip_off, old_mtu
        cdef unsigned char saved_chunk[4]
        out[0] = 0

        if not ip_header_ok(p):
            return self.bad(p)
        iph = p.buffer + p.network
        if not ip_is_frag(iph):
            return p
        self.frags_seen += 1

        if p.timestamp == 0:
            p.timestamp = self._sched.now()
        now = seconds(p.timestamp)
        if now >= self._reap_time:
            self.reap(now)

        p_off = ip_frag_byte_offset(iph)
        p_lastoff = p_off + <int> ip_len(iph) - <int> ip_hl(iph)
        dlen = pkt_transport_length(p)
        if (ip_hl(iph) < IP_HEADER_LEN or pkt_ip_header_length(p) != <int> ip_hl(iph)
                or p_lastoff > 0xFFFF or p_lastoff <= p_off
                or ((p_lastoff & 7) != 0 and (ip_off(iph) & IP_MF) != 0)
                or dlen < p_lastoff - p_off):
            return self.bad(p)
        pkt_take(p, dlen - (p_lastoff - p_off))

        if self.mem_used > self.himem:
            self.reap_overfull(now)

        # find this datagram's queue
        # Click hashes the ID as it lies in memory; so do we (same dump order).
        bucket = load_u16_raw(iph + 4) % NMAP
        pprev = &self._map[bucket]
        q = pprev[0]
        while q != NULL and not same_datagram(iph, q.buffer + q.network):
            pprev = &q.next
            q = pprev[0]
        if q == NULL:
            self.make_queue(p, &self._map[bucket], p_off, p_lastoff)
            return NULL
        bucket_next = q.next

        if self.max_mtu_anno >= 0 and pkt_anno_u16(q, self.max_mtu_anno) < pkt_network_length(p):
            pkt_set_anno_u16(q, self.max_mtu_anno, <uint16_t> pkt_network_length(p))

        # grow the datagram if this fragment reaches past its end
        old_tlen = pkt_transport_length(q)
        if p_lastoff > old_tlen:
            if not (ip_off(q.buffer + q.network) & IP_MF):
                packet_kill(p)          # the last fragment came already
                return NULL
            want = p_lastoff - old_tlen + 8
            if ip_off(iph) & IP_MF:
                want += p_lastoff - p_off
            q2 = pkt_put(q, want)
            if q2 == NULL:
                _chatter("out of memory")
                pprev[0] = bucket_next
                self.mem_used -= IPH_MEM_USED + old_tlen
                packet_kill(p)
                return NULL
            q = q2
            pkt_take(q, pkt_transport_length(q) - p_lastoff)
            pprev[0] = q
            last.off = last.lastoff = p_lastoff
            write_chunk(q.buffer + q.transport + old_tlen, last)
            self.mem_used += p_lastoff - old_tlen

        # find the ranges this fragment touches: chunk (the first ending at or
        # after p_off) through last (the first ending at or after p_lastoff)
        chunk_at = first_chunk(q)
        chunk = read_chunk(chunk_at)
        while chunk.lastoff < p_off:
            last_at = next_chunk(q, chunk)
            if last_at == NULL or not self._sane(q, chunk, read_chunk(last_at)):
                return self._corrupt(q, pprev, p)
            chunk_at = last_at
            chunk = read_chunk(chunk_at)
        last = chunk
        while last.lastoff < p_lastoff:
            last_at = next_chunk(q, last)
            if last_at == NULL or not self._sane(q, last, read_chunk(last_at)):
                return self._corrupt(q, pprev, p)
            last = read_chunk(last_at)

        if p_lastoff < last.off:
            if p_lastoff + 4 > last.off:
                # a final fragment ending inside the data: no room for a range link
                packet_kill(p)
                self.bad_pkts += 1
                return NULL
            write_chunk(q.buffer + q.transport + p_lastoff, last)
            chunk.lastoff = p_lastoff
        else:
            chunk.lastoff = last.lastoff
        if p_off < chunk.off:
            chunk.off = p_off
        write_chunk(chunk_at, chunk)
        memcpy(q.buffer + q.transport + p_off, p.buffer + p.transport, p_lastoff - p_off)

        # the first fragment brings the real headers and annotations
        if p_off == 0:
            qip = q.buffer + q.network
            old_ip_off = load_u16_raw(qip + 6)
            p_ipoff = p.network - <int> p.data
            p_hlen = pkt_ip_header_length(p)
            q_ipoff = q.network - <int> q.data
            q_hlen = pkt_ip_header_length(q)
            delta = (p_ipoff + p_hlen) - (q_ipoff + q_hlen)
            if delta > 0:
                old_tlen = pkt_transport_length(q)
                q2 = pkt_push(q, delta)
                if q2 == NULL:
                    pprev[0] = bucket_next
                    self.mem_used -= IPH_MEM_USED + old_tlen
                    packet_kill(p)
                    return NULL
                q = q2
                pprev[0] = q
            elif delta < 0:
                pkt_pull(q, -delta)
            pkt_set_network_header(q, p_ipoff, p_hlen)
            q.mac = <int> q.data + (p.mac - <int> p.data) if p.mac >= 0 else -1
            if q.mac < 0:
                q.mac = -1
            if p_ipoff + p_hlen > 0:
                memcpy(pkt_data(q), pkt_data(p), p_ipoff + p_hlen)
            qip = q.buffer + q.network
            store_u16_raw(qip + 6, old_ip_off)
            memcpy(saved_chunk, first_chunk(q), 4)
            if self.max_mtu_anno >= 0:
                old_mtu = pkt_anno_u16(q, self.max_mtu_anno)
                packet_copy_annotations(q, p)
                pkt_set_anno_u16(q, self.max_mtu_anno, old_mtu)
            else:
                packet_copy_annotations(q, p)
            memcpy(first_chunk(q), saved_chunk, 4)

        qip = q.buffer + q.network
        if not (ip_off(iph) & IP_MF):
            wr16(qip + 6, ip_off(qip) & ~IP_MF)

        chunk = read_chunk(first_chunk(q))
        if not (ip_off(qip) & IP_MF) and chunk.off == 0 and chunk.lastoff == pkt_transport_length(q):
            return self.complete(q, pprev, p)
        packet_kill(p)
        return NULL

    cdef bint _sane(self, Packet *q, ChunkLink prev, ChunkLink c) noexcept:
        return c.off >= prev.lastoff and c.lastoff > prev.lastoff and c.lastoff <= pkt_transport_length(q)

    cdef Packet *_corrupt(self, Packet *q, Packet **pprev, Packet *p) noexcept:
        # Cannot happen with well-formed state; give the datagram up rather than loop.
        pprev[0] = q.next
        self._give_up(q)
        self.failed_assem += 1
        return self.bad(p)

    # --- the dump handler ----------------------------------------------------------

    def dump(self):
        lines = [
            f"frags seen total:    {self.frags_seen}\n",
            f"good reassemblies:   {self.good_assem}\n",
            f"failed reassemblies: {self.failed_assem}\n",
            f"bad fragments seen:  {self.bad_pkts}\n",
            "cached chunk data:\n",
        ]
        cdef int b
        cdef Packet *q
        cdef const unsigned char *qip
        cdef const unsigned char *t
        cdef unsigned char *at
        cdef ChunkLink c
        for b in range(NMAP):
            q = self._map[b]
            while q != NULL:
                qip = q.buffer + q.network
                t = q.buffer + q.transport
                sport = rd16(t) if pkt_transport_length(q) >= 4 else 0
                dport = rd16(t + 2) if pkt_transport_length(q) >= 4 else 0
                text = f" ({ip_unparse(qip + 12)}, {sport}, {ip_unparse(qip + 16)}, {dport}) {ip_id(qip)}"
                at = first_chunk(q)
                while at != NULL:
                    c = read_chunk(at)
                    if not (c.lastoff > c.off and c.lastoff <= pkt_transport_length(q)):
                        break
                    text += f" ({c.off},{c.lastoff})"
                    at = next_chunk(q, c)
                lines.append(text + "\n")
                q = q.next
        return "".join(lines)

    def check(self):
        """Consistency problems in the held datagrams (tests); [] when sound."""
        problems = []
        cdef int b
        cdef Packet *q
        cdef unsigned char *at
        cdef ChunkLink c
        cdef int off
        cdef uint64_t mem = 0
        for b in range(NMAP):
            q = self._map[b]
            while q != NULL:
                if load_u16_raw(q.buffer + q.network + 4) % NMAP != b:
                    problems.append(f"bucket {b}: datagram in wrong bucket")
                mem += IPH_MEM_USED + pkt_transport_length(q)
                at = first_chunk(q)
                off = 0
                while at != NULL:
                    c = read_chunk(at)
                    if c.off >= c.lastoff or c.lastoff > pkt_transport_length(q) or (off != 0 and c.off < off + 8):
                        problems.append(f"bucket {b}: bad chunk ({c.off}, {c.lastoff}) at {off}")
                        break
                    off = c.lastoff
                    at = next_chunk(q, c)
                q = q.next
        if mem != self.mem_used:
            problems.append(f"bad mem_used: have {mem}, claim {self.mem_used}")
        return problems
