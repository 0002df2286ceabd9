# cython: language_level=3
"""AggregateIPFlows: numbers TCP and UDP flows in the aggregate annotation."""
import os
import sys

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport (AGGREGATE_ANNO_OFFSET, PAINT_ANNO_OFFSET, Packet, packet_kill,
                                     pkt_anno_u32, pkt_set_anno_u32)

from clickpy.runtime.args import Arg, ArgError, Bool, ElementRef, Filename, Seconds, unparse_timestamp
from clickpy.runtime.handlers import HandlerError, Write

from clickpy.elements.analysis.trace_file import report

cdef enum:
    IP_PROTO_ICMP = 1
    IP_PROTO_TCP = 6
    IP_PROTO_UDP = 17
    TH_FIN = 0x01
    TH_SYN = 0x02
    TH_RST = 0x04
    ACT_EMIT = 0
    ACT_DROP = 1
    ACT_NONE = 2


cdef struct FlowInfo:
    uint32_t ports              # the two ports as they sit in the packet (forward direction)
    uint32_t aggregate
    int64_t last_ts             # nanoseconds
    int64_t first_ts            # statistics (TRACEINFO)
    uint32_t filepos
    uint32_t packets[2]
    uint8_t flow_over           # bit 0/1: FIN seen in that direction; 3: over
    bint reverse                # the first packet went from the larger address
    FlowInfo *next


cdef struct HostPairInfo:
    uint32_t a                  # the smaller address (as the packet bytes read in host order)
    uint32_t b
    FlowInfo *flows
    Packet *frag_head           # fragments waiting for their flow's first fragment
    Packet *frag_tail


cdef struct HostMap:
    HostPairInfo **slots        # open addressing; entries are never removed (as in Click)
    uint32_t cap
    uint32_t n


cdef inline int64_t _sec(int64_t ns) noexcept nogil:
    cdef int64_t s = ns // 1000000000
    if ns < 0 and s * 1000000000 != ns:
        s -= 1
    return s


# Host pairs come from packets, which anyone may send: the table hashes them
# with a key drawn when the module loads, so pairs cannot be picked to
# collide (with a fixed hash, addresses differing only in their high bits
# would all probe one run of slots).
cdef uint64_t _key[3]
_words = os.urandom(24)
for _i in range(3):
    _key[_i] = int.from_bytes(_words[8 * _i:8 * _i + 8], "little") | (1 if _i < 2 else 0)


cdef inline uint32_t _hash(uint32_t a, uint32_t b) noexcept nogil:
    cdef uint64_t h = a * _key[0] + b * _key[1] + _key[2]
    h ^= h >> 31
    h *= 0x94D049BB133111EBULL
    h ^= h >> 29
    return <uint32_t> (h >> 32)


cdef HostPairInfo *_map_get(HostMap *m, uint32_t a, uint32_t b) noexcept nogil:
    """The entry for host pair (a, b), created if needed; NULL if out of memory."""
    cdef uint32_t i, j, ncap
    cdef HostPairInfo **ns
    cdef HostPairInfo *h
    if m.slots == NULL or (m.n + 1) * 2 > m.cap:
        ncap = 256 if m.cap == 0 else m.cap * 2
        ns = <HostPairInfo **> calloc(ncap, sizeof(HostPairInfo *))
        if ns == NULL:
            return NULL
        for i in range(m.cap):
            h = m.slots[i]
            if h != NULL:
                j = _hash(h.a, h.b) & (ncap - 1)
                while ns[j] != NULL:
                    j = (j + 1) & (ncap - 1)
                ns[j] = h
        free(m.slots)
        m.slots = ns
        m.cap = ncap
    j = _hash(a, b) & (m.cap - 1)
    while m.slots[j] != NULL:
        h = m.slots[j]
        if h.a == a and h.b == b:
            return h
        j = (j + 1) & (m.cap - 1)
    h = <HostPairInfo *> calloc(1, sizeof(HostPairInfo))
    if h == NULL:
        return NULL
    h.a = a
    h.b = b
    m.slots[j] = h
    m.n += 1
    return h


cdef inline bint _first_frag(const unsigned char *iph) noexcept nogil:
    return ((iph[6] << 8) | iph[7]) & 0x1FFF == 0


cdef inline bint _is_frag(const unsigned char *iph) noexcept nogil:
    return ((iph[6] << 8) | iph[7]) & 0x3FFF != 0


cdef inline uint32_t _flip_ports(uint32_t ports) noexcept nogil:
    return ((ports >> 16) & 0xFFFF) | (ports << 16)


cdef inline bint _ports_reverse_order(uint32_t ports) noexcept nogil:
    return <int32_t> ((ports << 16) - ports) < 0


cdef const unsigned char *_good_ip_header(Packet *p) noexcept nogil:
    """The header a stored packet was filed under: its own, or for an ICMP error the embedded one."""
    cdef const unsigned char *iph = p.buffer + p.network
    if iph[9] == IP_PROTO_ICMP:
        return p.buffer + p.transport + 8
    return iph


cdef void _count_map(HostMap *m, uint64_t *flows, uint64_t *held) noexcept nogil:
    """Add m's flows and held fragments to the counts."""
    cdef uint32_t i
    cdef HostPairInfo *h
    cdef FlowInfo *f
    cdef Packet *p
    for i in range(m.cap):
        h = m.slots[i]
        if h == NULL:
            continue
        f = h.flows
        while f != NULL:
            flows[0] += 1
            f = f.next
        p = h.frag_head
        while p != NULL:
            held[0] += 1
            p = p.next


def _timeout(text, element=None):
    return int(round(Seconds(text, element)))


cdef class AggregateIPFlows(Element):
    """=c
    AggregateIPFlows([I<keywords> TCP_TIMEOUT, TCP_DONE_TIMEOUT, UDP_TIMEOUT, FRAGMENT_TIMEOUT,
    REAP, ICMP, FRAGMENTS, TRACEINFO, SOURCE])

    =s ipmeasure
    sets aggregate annotation based on flow

    =d
    Sets the aggregate annotation of every TCP and UDP packet to a flow
    number (1, 2, ... in order of appearance; both directions of a
    connection share it) and the paint annotation to its direction (0 for
    the direction of the flow's first packet, 1 for replies). Other packets,
    and packets too short to hold ports, go to output 1 or are dropped.

    A flow ends after TCP_TIMEOUT seconds without packets (default 24
    hours), TCP_DONE_TIMEOUT once FINs went both ways or a RST was seen
    (default 30), or UDP_TIMEOUT (default 60) for UDP; later packets start
    a new flow, as does a SYN after a finished TCP flow. Time is packet
    time; REAP (default 20 minutes) is how often old flows are forgotten.

    ICMP true marks ICMP errors about a flow with its number and paint 2 or
    3. FRAGMENTS (default true in push context) holds later fragments until
    their first fragment gives their ports, up to FRAGMENT_TIMEOUT seconds
    (default 30); then they are emitted (or dropped if still unknown). Held
    fragments can reorder packets between different address pairs.

    TRACEINFO writes an XML record per flow to that file; SOURCE names the
    element whose 'filename' and 'packet_filepos' handlers it records.

    =h clear write-only: forget all flows (emitting held fragments)

    =e
    FromDump(trace.pcap, STOP true, FORCE_IP true) -> af :: AggregateIPFlows
        -> AggregateCounter -> Discard;
    DriverManager(wait, write af.clear);
    """
    port_count = "1/1-2"
    processing = "a/ah"
    arguments = (
        Arg("TCP_TIMEOUT", _timeout, 24 * 60 * 60),
        Arg("TCP_DONE_TIMEOUT", _timeout, 30),
        Arg("UDP_TIMEOUT", _timeout, 60),
        Arg("FRAGMENT_TIMEOUT", _timeout, 30),
        Arg("REAP", _timeout, 20 * 60),
        Arg("ICMP", Bool, False),
        Arg("TRACEINFO", Filename, None),
        Arg("SOURCE", ElementRef, None),
        Arg("FRAGMENTS", Bool, None),
    )
    handlers = (Write("clear", lambda e, v: e.clear()),)

    cdef public int64_t tcp_timeout, tcp_done_timeout, udp_timeout, fragment_timeout, reap
    cdef public bint icmp
    cdef public object traceinfo, source, fragments
    cdef public uint32_t next_aggregate
    cdef bint _fragments
    cdef int64_t _smallest_timeout
    cdef int64_t _active_sec
    cdef int64_t _gc_sec
    cdef bint _timestamp_warning
    cdef HostMap _tcp
    cdef HostMap _udp
    cdef object _trace                      # open TRACEINFO file, or None
    cdef object _filepos_call

    def __dealloc__(self):
        self._free_map(&self._tcp, False)
        self._free_map(&self._udp, False)

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        self._smallest_timeout = min(self.tcp_timeout, self.tcp_done_timeout, self.udp_timeout)
        return True

    def initialize(self, errh):
        self.next_aggregate = 1
        self._active_sec = self._gc_sec = 0
        self._timestamp_warning = False
        self._trace = None
        self._filepos_call = None
        if self.traceinfo is not None:
            try:
                self._trace = sys.stdout if self.traceinfo == "-" else open(self.traceinfo, "w")
            except OSError as e:
                return errh.error(f"{self.traceinfo}: {e.strerror}")
            head = "<?xml version='1.0' standalone='yes'?>\n<trace"
            if self.source is not None:
                h = self.router.handler(self.source, "filename")
                if h is not None and h.readable:
                    name = self.router.call_read(self.source, h).strip()
                    if name:
                        head += f" file='{name}'"
                h = self.router.handler(self.source, "packet_filepos")
                if h is not None and h.readable:
                    self._filepos_call = h
            self._trace.write(head + ">\n")
        if self.fragments is None:
            self._fragments = not self.input_is_pull(0)
        elif self.fragments and self.input_is_pull(0):
            return errh.error("'FRAGMENTS true' is incompatible with pull; run this element in a push context")
        else:
            self._fragments = self.fragments
        return True

    def cleanup(self, stage):
        self._free_map(&self._tcp, True)
        self._free_map(&self._udp, True)
        if self._trace is not None:
            if self._trace is not sys.stdout:
                self._trace.write("</trace>\n")
                self._trace.close()
            else:
                self._trace.flush()
            self._trace = None

    def take_state(self, old, errh):
        """Carry on old's flows, their numbering and held fragments in a reload.

        The flow tables are swapped (old gets this one's empty ones, so
        ``old.take_state(self)`` gives them back): a flow keeps its aggregate
        number and new flows go on from old's next one. This configuration's
        timeouts apply from now on.
        """
        cdef AggregateIPFlows o
        cdef HostMap m
        cdef uint64_t flows = 0, held = 0
        if not isinstance(old, AggregateIPFlows):
            return None
        o = old
        m = self._tcp
        self._tcp = o._tcp
        o._tcp = m
        m = self._udp
        self._udp = o._udp
        o._udp = m
        self.next_aggregate, o.next_aggregate = o.next_aggregate, self.next_aggregate
        self._active_sec, o._active_sec = o._active_sec, self._active_sec
        self._gc_sec, o._gc_sec = o._gc_sec, self._gc_sec
        self._timestamp_warning, o._timestamp_warning = o._timestamp_warning, self._timestamp_warning
        _count_map(&self._tcp, &flows, &held)
        _count_map(&self._udp, &flows, &held)
        carried = {}
        if flows:
            carried["flows"] = flows
        if held:
            carried["packets"] = held
        return carried or None

    cdef void _free_map(self, HostMap *m, bint record) noexcept:
        cdef uint32_t i
        cdef HostPairInfo *h
        cdef FlowInfo *f
        cdef Packet *p
        if m.slots == NULL:
            return
        for i in range(m.cap):
            h = m.slots[i]
            if h == NULL:
                continue
            while h.frag_head != NULL:
                p = h.frag_head
                h.frag_head = p.next
                packet_kill(p)
            while h.flows != NULL:
                f = h.flows
                h.flows = f.next
                if record:
                    self._record_flow(h, f)
                free(f)
            free(h)
        free(m.slots)
        m.slots = NULL
        m.cap = m.n = 0

    # --- statistics -------------------------------------------------------------------

    cdef void _record_flow(self, HostPairInfo *h, FlowInfo *f) noexcept:
        cdef uint32_t ports, src, dst
        cdef int sport, dport
        if self._trace is None:
            return
        ports = ((f.ports & 0xFF) << 24) | ((f.ports & 0xFF00) << 8) | ((f.ports >> 8) & 0xFF00) | (f.ports >> 24)
        src = h.b if f.reverse else h.a
        dst = h.a if f.reverse else h.b
        sport = (ports >> (0 if f.reverse else 16)) & 0xFFFF
        dport = (ports >> (16 if f.reverse else 0)) & 0xFFFF
        try:
            s = (f"<flow aggregate='{f.aggregate}' src='{_addr(src)}' sport='{sport}' dst='{_addr(dst)}' "
                 f"dport='{dport}' begin='{unparse_timestamp(f.first_ts)}' "
                 f"duration='{unparse_timestamp(f.last_ts - f.first_ts)}'")
            if f.filepos:
                s += f" filepos='{f.filepos}'"
            s += (f">\n  <stream dir='0' packets='{f.packets[0]}' /><stream dir='1' packets='{f.packets[1]}' />\n"
                  "</flow>\n")
            self._trace.write(s)
        except BaseException:
            pass

    cdef void _new_flow_stats(self, Packet *p, FlowInfo *f) noexcept:
        f.first_ts = p.timestamp
        f.filepos = 0
        f.packets[0] = f.packets[1] = 0
        if self._filepos_call is not None:
            try:
                v = int(self.router.call_read(self.source, self._filepos_call).strip())
                f.filepos = v & 0xFFFFFFFF
            except BaseException:
                pass

    # --- flows ----------------------------------------------------------------------------

    cdef inline int64_t _relevant_timeout(self, FlowInfo *f, bint udp) noexcept:
        if udp:
            return self.udp_timeout
        return self.tcp_done_timeout if f.flow_over == 3 else self.tcp_timeout

    cdef FlowInfo *_find_flow(self, HostPairInfo *h, uint32_t ports, bint flipped, Packet *p, bint udp) noexcept:
        cdef FlowInfo **pprev = &h.flows
        cdef FlowInfo *f = h.flows
        cdef int64_t age
        cdef const unsigned char *outer = p.buffer + p.network
        cdef bint syn
        while f != NULL:
            if f.ports == ports:
                age = _sec(p.timestamp) - _sec(f.last_ts)
                syn = (outer[9] == IP_PROTO_TCP and p.transport >= 0
                       and <int> (p.data + p.length) - p.transport >= 14
                       and (p.buffer[p.transport + 13] & TH_SYN) != 0)
                if (age > self._smallest_timeout and age > self._relevant_timeout(f, udp)) \
                        or (f.flow_over == 3 and syn):
                    # the old flow is over: this packet starts a new one
                    self._record_flow(h, f)
                    f.aggregate = self.next_aggregate
                    self.next_aggregate += 1
                    f.reverse = flipped
                    f.flow_over = 0
                    self._new_flow_stats(p, f)
                # move to the front of the list
                pprev[0] = f.next
                f.next = h.flows
                h.flows = f
                return f
            pprev = &f.next
            f = f.next
        f = <FlowInfo *> calloc(1, sizeof(FlowInfo))
        if f == NULL:
            return NULL
        f.ports = ports
        f.aggregate = self.next_aggregate
        f.reverse = flipped
        f.next = h.flows
        h.flows = f
        self.next_aggregate += 1
        self._new_flow_stats(p, f)
        return f

    cdef void _emit_hook(self, Packet *p, const unsigned char *iph, FlowInfo *f) noexcept:
        cdef uint8_t flags
        cdef uint8_t paint = p.anno[PAINT_ANNO_OFFSET]
        f.last_ts = p.timestamp
        if (iph[9] == IP_PROTO_TCP and _first_frag(iph) and p.transport >= 0
                and <int> (p.data + p.length) - p.transport >= 14 and paint < 2):
            flags = p.buffer[p.transport + 13]
            if flags & TH_RST:
                f.flow_over = 3
            elif flags & TH_FIN:
                f.flow_over |= 1 << paint
            elif flags & TH_SYN:
                f.flow_over = 0
        if paint < 2:
            f.packets[paint] += 1

    cdef const unsigned char *_icmp_embedded(self, Packet *p) noexcept:
        cdef const unsigned char *icmp
        cdef const unsigned char *inner
        cdef int tlen
        cdef uint32_t hlen
        if p.transport < 0:
            return NULL
        tlen = <int> (p.data + p.length) - p.transport
        if tlen < 8 + 20:
            return NULL
        icmp = p.buffer + p.transport
        if icmp[0] not in (3, 4, 5, 11, 12):
            return NULL
        inner = icmp + 8
        hlen = (inner[0] & 15) << 2
        if hlen < 20 or <uint32_t> tlen < 8 + hlen:
            return NULL
        return inner

    # --- fragments --------------------------------------------------------------------------

    cdef void _emit_fragment_head(self, HostPairInfo *h) noexcept:
        cdef Packet *head = h.frag_head
        cdef Packet *q
        cdef const unsigned char *iph
        cdef FlowInfo *f
        cdef FlowInfo **pprev
        cdef uint32_t agg
        cdef bint found = False
        h.frag_head = head.next
        head.next = NULL
        iph = _good_ip_header(head)
        agg = pkt_anno_u32(head, AGGREGATE_ANNO_OFFSET)
        if agg:
            q = h.frag_head
            while q != NULL:
                if _good_ip_header(q)[4] == iph[4] and _good_ip_header(q)[5] == iph[5]:
                    pkt_set_anno_u32(q, AGGREGATE_ANNO_OFFSET, agg)
                    q.anno[PAINT_ANNO_OFFSET] = head.anno[PAINT_ANNO_OFFSET]
                q = q.next
        else:
            q = h.frag_head
            while q != NULL:
                if (_good_ip_header(q)[4] == iph[4] and _good_ip_header(q)[5] == iph[5]
                        and pkt_anno_u32(q, AGGREGATE_ANNO_OFFSET)):
                    agg = pkt_anno_u32(q, AGGREGATE_ANNO_OFFSET)
                    pkt_set_anno_u32(head, AGGREGATE_ANNO_OFFSET, agg)
                    head.anno[PAINT_ANNO_OFFSET] = q.anno[PAINT_ANNO_OFFSET]
                    found = True
                    break
                q = q.next
            if not found:
                # no first fragment ever gave this datagram's ports
                self.checked_output_push(1, head)
                return
        pprev = &h.flows
        f = h.flows
        while f != NULL:
            if f.aggregate == agg:
                pprev[0] = f.next
                f.next = h.flows
                h.flows = f
                break
            pprev = &f.next
            f = f.next
        if f != NULL:
            self._emit_hook(head, iph, f)
        self.checked_output_push(0, head)

    cdef int _handle_fragment(self, Packet *p, HostPairInfo *h) noexcept:
        cdef Packet *head
        cdef int64_t frag_timeout
        if h.frag_head != NULL:
            h.frag_tail.next = p
        else:
            h.frag_head = p
        h.frag_tail = p
        p.next = NULL
        self._active_sec = _sec(p.timestamp)
        frag_timeout = self._active_sec - self.fragment_timeout
        while True:
            head = h.frag_head
            if head == NULL or not (_sec(head.timestamp) < frag_timeout or not _is_frag(_good_ip_header(head))):
                break
            self._emit_fragment_head(h)
        return ACT_NONE

    # --- packets ------------------------------------------------------------------------------

    cdef int _handle_packet(self, Packet *p) noexcept:
        cdef const unsigned char *iph
        cdef const unsigned char *ports_at
        cdef const unsigned char *end
        cdef int paint = 0
        cdef uint32_t src, dst, a, b, ports
        cdef HostPairInfo *h
        cdef FlowInfo *f
        cdef bint udp
        if p.network < 0:
            return ACT_DROP
        iph = p.buffer + p.network
        end = p.buffer + p.data + p.length
        if iph + 20 > end or (iph[0] >> 4) != 4:
            return ACT_DROP
        if p.timestamp == 0:
            if not self._timestamp_warning:
                self._timestamp_warning = True
                try:
                    report(f"{self.declaration()}: warning: packet received without timestamp")
                except BaseException:
                    pass
            p.timestamp = self.router.scheduler.now()
        if iph[9] == IP_PROTO_ICMP and _first_frag(iph) and self.icmp:
            iph = self._icmp_embedded(p)
            paint = 2
            if iph == NULL:
                return ACT_DROP
        if iph[9] != IP_PROTO_TCP and iph[9] != IP_PROTO_UDP:
            return ACT_DROP
        memcpy(&src, iph + 12, 4)
        memcpy(&dst, iph + 16, 4)
        if src == 0 and dst == 0:
            return ACT_DROP
        udp = iph[9] == IP_PROTO_UDP
        if src > dst:
            a, b = dst, src
            paint ^= 1
        else:
            a, b = src, dst
        h = _map_get(&self._udp if udp else &self._tcp, a, b)
        if h == NULL:
            return ACT_DROP
        if _first_frag(iph):
            ports_at = iph + ((iph[0] & 15) << 2)
            if ports_at + 4 > end:
                return ACT_DROP
            memcpy(&ports, ports_at, 4)
            if a == b and _ports_reverse_order(ports):
                paint ^= 1
            if paint & 1:
                ports = _flip_ports(ports)
            f = self._find_flow(h, ports, paint & 1, p, udp)
            if f == NULL:
                return ACT_DROP
            if f.reverse:
                paint ^= 1
            pkt_set_anno_u32(p, AGGREGATE_ANNO_OFFSET, f.aggregate)
            p.anno[PAINT_ANNO_OFFSET] = paint
        else:
            f = NULL
            pkt_set_anno_u32(p, AGGREGATE_ANNO_OFFSET, 0)
            p.anno[PAINT_ANNO_OFFSET] = paint
        if (self._fragments and _is_frag(iph)) or h.frag_head != NULL:
            return self._handle_fragment(p, h)
        if f == NULL:
            return ACT_DROP
        self._active_sec = _sec(p.timestamp)
        self._emit_hook(p, iph, f)
        return ACT_EMIT

    # --- forgetting old flows ---------------------------------------------------------------------

    cdef void _reap_map(self, HostMap *m, int64_t timeout, int64_t done_timeout) noexcept:
        cdef uint32_t i
        cdef HostPairInfo *h
        cdef FlowInfo **pprev
        cdef FlowInfo *f
        cdef Packet *head
        cdef int64_t frag_timeout = self._active_sec - self.fragment_timeout
        timeout = self._active_sec - timeout
        done_timeout = self._active_sec - done_timeout
        for i in range(m.cap):
            h = m.slots[i] if m.slots != NULL else NULL
            if h == NULL:
                continue
            while True:
                head = h.frag_head
                if head == NULL or not (_sec(head.timestamp) < frag_timeout or not _is_frag(_good_ip_header(head))):
                    break
                self._emit_fragment_head(h)
            if h.frag_head != NULL:
                continue            # flows with waiting fragments stay
            pprev = &h.flows
            f = h.flows
            while f != NULL:
                if _sec(f.last_ts) < (done_timeout if f.flow_over == 3 else timeout):
                    pprev[0] = f.next
                    self._record_flow(h, f)
                    free(f)
                else:
                    pprev = &f.next
                f = pprev[0]

    cdef void _reap(self) noexcept:
        if self._gc_sec:
            self._reap_map(&self._tcp, self.tcp_timeout, self.tcp_done_timeout)
            self._reap_map(&self._udp, self.udp_timeout, self.udp_timeout)
        self._gc_sec = self._active_sec + self.reap

    cdef void push(self, int port, Packet *p) noexcept:
        cdef int action = self._handle_packet(p)
        if self._active_sec >= self._gc_sec:
            self._reap()
        if action == ACT_EMIT:
            self.output_push(0, p)
        elif action == ACT_DROP:
            self.checked_output_push(1, p)

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p = self.input_pull(0)
        cdef int action = self._handle_packet(p) if p != NULL else ACT_NONE
        if self._active_sec >= self._gc_sec:
            self._reap()
        if action == ACT_EMIT:
            return p
        if action == ACT_DROP:
            self.checked_output_push(1, p)
        return NULL

    def clear(self):
        """Forget every flow (Click's 'clear'): reap as if far in the future."""
        cdef int64_t active = self._active_sec, gc = self._gc_sec
        self._active_sec = self._gc_sec = 0x7FFFFFFF
        self._reap()
        self._active_sec, self._gc_sec = active, gc

    def nflows(self):
        """Flows currently known (for tests)."""
        return _count_flows(&self._tcp) + _count_flows(&self._udp)


cdef uint32_t _count_flows(HostMap *m) noexcept:
    cdef uint32_t i, n = 0
    cdef FlowInfo *f
    for i in range(m.cap):
        if m.slots[i] != NULL:
            f = m.slots[i].flows
            while f != NULL:
                n += 1
                f = f.next
    return n


def _addr(uint32_t raw):
    b = raw.to_bytes(4, sys.byteorder)
    return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"
