# cython: language_level=3
"""IPRewriterBase: what IPRewriter, TCPRewriter, UDPRewriter, IPAddrRewriter,
IPAddrPairRewriter and ICMPPingRewriter share (Click's IPRewriterBase).

A rewriter has one INPUTSPEC per input port; it says what happens to a
packet of a flow without mapping:

* ``drop`` / ``discard`` -- drop it;
* ``pass OUTPUT`` (``passthrough``, ``nochange``) -- send it to OUTPUT unchanged, no mapping;
* ``keep FOUTPUT ROUTPUT`` -- map the flow to itself;
* ``pattern ... FOUTPUT ROUTPUT`` (``xpattern``) -- map it by a pattern (rewriter_pattern.py);
* ``ELEMENTNAME`` -- ask an IPMapper element such as RoundRobinIPMapper.

Keyword arguments common to all: MAPPING_CAPACITY (a number, or another
rewriter whose capacity to share; CAPACITY is a synonym), TIMEOUT,
GUARANTEE, REAP_INTERVAL (REAP_TIME, deprecated). Each class adds its own
(see ``rewriter_arguments``): as in Click, a class's keywords are read before
its base's, so a keyword both know belongs to the class.

The data path of each class is its ``process`` method: the packet's flow
ID is looked up in a C hash table (flow_table.pxd) and rewritten with
precomputed checksum deltas; only packets of new flows take the slower
path through the input spec. ``push_batch`` sends consecutive packets
bound for the same output on together, so each output sees exactly the
one-at-a-time order.
"""
cimport cython

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from clickpy.runtime.element cimport Element, OutputRun, run_add, run_flush, run_start
from clickpy.runtime.packet cimport (MAX_BATCH, Batch, Packet, packet_kill, packet_shared, packet_uniqueify)
from clickpy.runtime.scheduler cimport Scheduler, Timer

from clickpy.elements.ip.ip_header cimport (IP_PROTO_TCP, IP_PROTO_UDP, htonl, htons, ip_header_ok, load_u16_raw,
                                            load_u32_raw, ntohl, ntohs)
from clickpy.elements.rewriter.flow_table cimport (
    NOREF, OWNER_PLAIN, RW_ADDMAP, RW_DROP, SPEC_DROP, SPEC_KEEP, SPEC_MAPPER, SPEC_NOCHANGE, SPEC_PATTERN,
    FlowKey, FlowMap, FlowSet, FlowStore, InputSpec, Pattern, RWFlow, RWOwner, entry_rewritten, flow_at,
    flow_best_effort_expiry, flow_destroy, flow_new, flow_store, key_hash, map_find, map_free, map_init,
    pattern_rewrite, transport_length,
    store_add_owner, store_owner, store_remove_owner, store_shrink, store_size)


from dataclasses import replace

from clickpy.lang.confstring import split_keyword, split_words
from clickpy.runtime.args import (
    AnyArg, Arg, ArgError, Bool, Int, IPAddress, Seconds, each_argument, parse_arguments, unparse_ip,
)
from clickpy.runtime.handlers import Handler, HandlerError, Read, ReadWrite, Write

from clickpy.elements.ip.ip_args import IPPort
from clickpy.runtime.args import Annotation
from clickpy.elements.rewriter import flow_table
from clickpy.elements.rewriter.rewriter_pattern import (PatternError, PatternSpec, parse_pattern_with_ports,
                                                        parse_ports)

NS = 1_000_000_000
HZ_NS = 1_000_000           # Click's jiffy (CLICK_HZ = 1000) in ns

DEFAULT_TIMEOUT = 300       # seconds (5 minutes)
DEFAULT_GUARANTEE = 5
DEFAULT_GC_INTERVAL = 60 * 15


# --- keyword arguments ------------------------------------------------------------------------

def SecondsArg(text, element=None):
    """Whole seconds, as Click's SecondsArg reads into an integer (rounded)."""
    v = Seconds(text, element)
    v = int(v + 0.5)
    if v >= 1 << 32:
        raise ArgError("out of range")
    return v


def AnnoByte(text, element=None):
    return Annotation(1)(text, element)


def rewriter_arguments(*stages, default_timeout=DEFAULT_TIMEOUT):
    """A rewriter class's argument declaration: its own keyword stages, most
    derived first, then the base's keywords, then one INPUTSPEC per input
    port (Click's Args::consume: a keyword both know belongs to the class)."""
    out = [replace(a, stage=n) for n, stage in enumerate(stages) for a in stage]
    n = len(stages)
    out += [
        Arg("CAPACITY", AnyArg, None, attr="capacity", stage=n,
            doc="a number, or a rewriter whose flow table to share"),
        Arg("MAPPING_CAPACITY", AnyArg, None, attr="capacity", stage=n),
        Arg("TIMEOUT", SecondsArg, default_timeout, stage=n),
        Arg("GUARANTEE", SecondsArg, DEFAULT_GUARANTEE, stage=n),
        Arg("REAP_INTERVAL", SecondsArg, DEFAULT_GC_INTERVAL, stage=n),
        Arg("REAP_TIME", SecondsArg, DEFAULT_GC_INTERVAL, attr="reap_interval", stage=n),
        Arg("INPUTSPEC", _input_specs, rest=True, doc="one per input port"),
    ]
    return tuple(out)


def _input_spec(text, int i, element):
    try:
        return element.parse_input_spec(text, i)
    except PatternError as err:
        raise ArgError(f"input spec {i}: {err}") from None


_each_input_spec = each_argument(_input_spec)


def _input_specs(texts, element):
    """One INPUTSPEC per input port -> [ParsedSpec]."""
    if len(texts) != element.ninputs:
        raise ArgError(f"need {element.ninputs} arguments, one per input port")
    return _each_input_spec(texts, element)


def ip_unparse_raw(uint32_t raw):
    """An address as stored in a flow key (network byte order) as text."""
    return unparse_ip(ntohl(raw))


cdef str key_unparse(const FlowKey *k):
    return f"({ip_unparse_raw(k.saddr)}, {ntohs(k.sport)}, {ip_unparse_raw(k.daddr)}, {ntohs(k.dport)})"


class ParsedSpec:
    """An input spec read from the configuration (slow-path form)."""

    def __init__(self, kind, foutput=-1, routput=-1, pattern=None, mapper=None):
        self.kind = kind
        self.foutput = foutput
        self.routput = routput
        self.pattern = pattern      # flow_table.Pattern
        self.mapper = mapper        # an IPMapper element


# --- IPMapper -------------------------------------------------------------------------------

cdef class IPMapper(Element):
    abstract = True

    cdef int map_flow(self, InputSpec *input, const FlowKey *flowid, FlowKey *out, FlowMap *reply_map) noexcept:
        return RW_DROP

    def notify_rewriter(self, rewriter, int input, errh):
        """A rewriter uses this mapper on its input (Click's IPMapper::notify_rewriter)."""
        pass


# --- handlers ---------------------------------------------------------------------------

def _h_nmappings(e):
    return e.nmappings()


def _h_failures(e):
    return e.mapping_failures()


def _h_patterns(e):
    return e.patterns_text(-1)


def _h_size(e):
    return e.flow_set_size()


def _h_capacity(e):
    return e.capacity()


def _w_capacity(e, value):
    words = split_words(value)
    if len(words) != 1:
        raise HandlerError("CAPACITY: required argument missing" if not words else "too many arguments")
    try:
        v = Int(words[0])
    except ArgError as err:
        raise HandlerError(f"CAPACITY: {err}") from None
    e.set_capacity(v)


def _w_clear(e, value):
    e.clear()


def _pattern_read(i):
    return lambda e: e.patterns_text(i)


def _pattern_write(i):
    def write(e, value):
        e.write_pattern(i, value)
    return write


def lookup_handler(e, param, int owner_index=0):
    """Click's tcp_lookup: 'SADDR SPORT DADDR DPORT' -> the rewritten flow, or nothing."""
    words = split_words(param or "")
    names = ("SADDR", "SPORT", "DADDR", "DPORT")
    if len(words) < 4:
        raise HandlerError(f"{names[len(words)]}: required argument missing")
    if len(words) > 4:
        raise HandlerError("too many arguments")
    try:
        saddr = IPAddress(words[0], e)
    except ArgError as err:
        raise HandlerError(f"SADDR: {err}") from None
    try:
        daddr = IPAddress(words[2], e)
    except ArgError as err:
        raise HandlerError(f"DADDR: {err}") from None
    try:
        sport = IPPort(6)(words[1], e)
    except ArgError as err:
        raise HandlerError(f"SPORT: {err}") from None
    try:
        dport = IPPort(6)(words[3], e)
    except ArgError as err:
        raise HandlerError(f"DPORT: {err}") from None
    return e.lookup_text(owner_index, saddr, sport, daddr, dport)


REWRITER_HANDLERS = (
    Read("table_size", _h_nmappings),
    Read("nmappings", _h_nmappings),
    Read("mapping_failures", _h_failures),
    Read("patterns", _h_patterns),
    Read("size", _h_size),
    ReadWrite("capacity", _h_capacity, _w_capacity),
    Write("clear", _w_clear, button=True),
)


# --- the base class -----------------------------------------------------------------------------

@cython.no_gc_clear
cdef class IPRewriterBase(Element):
    abstract = True
    port_count = "1-/1-"
    processing = "h"
    arguments = rewriter_arguments()
    handlers = REWRITER_HANDLERS
    configure_phase = 100               # Click's CONFIGURE_PHASE_REWRITER
    owner_kind = OWNER_PLAIN

    def __cinit__(self, *args, **kwargs):
        self._flows = FlowSet()
        self._store = &self._flows.s
        memset(&self._owner, 0, sizeof(RWOwner))
        self._owner.id = -1
        if map_init(&self._owner.map, self._store) < 0:
            raise MemoryError()
        self._specs = NULL
        self._nspecs = 0
        self._spec_objects = []
        self._annos = 0
        self._timeouts[0] = DEFAULT_TIMEOUT * NS
        self._timeouts[1] = DEFAULT_GUARANTEE * NS
        self._gc_interval = DEFAULT_GC_INTERVAL
        self._registered = False
        self.extra_handlers = ()

    def __dealloc__(self):
        if self._registered:
            self._unregister_owners(True)
        map_free(&self._owner.map)
        free(self._specs)
        self._specs = NULL

    # --- owners: this rewriter's tables in the flow set ------------------------------------

    def _owners(self):
        """Indexes of this rewriter's tables (0: _owner; subclasses add more)."""
        return (0,)

    cdef RWOwner *owner_for(self, int ip_p) noexcept:
        return &self._owner

    cdef RWOwner *_owner_at(self, int i) noexcept:
        return &self._owner if i == 0 else self._extra_owner(i)

    cdef RWOwner *_extra_owner(self, int i) noexcept:
        return NULL

    def _register_owners(self):
        cdef RWOwner *o
        for i in self._owners():
            o = self._owner_at(i)
            o.map.store = self._store
            o.specs = self._specs
            o.nspecs = self._nspecs
            o.noutputs = self.noutputs
            if store_add_owner(self._store, o) < 0:
                raise MemoryError()
        self._registered = True
        if self not in self._flows.users:
            self._flows.users.append(self)

    def _unregister_owners(self, bint destroy):
        """Take this rewriter's tables out of the flow set, destroying their flows."""
        cdef RWOwner *o
        cdef uint32_t i, which, idx
        cdef RWFlow *f
        cdef list doomed
        if not self._registered:
            return
        if destroy:
            ids = {self._owner_at(i).id for i in self._owners()}
            doomed = []
            for which in range(2):
                for i in range(self._store.heap_n[which]):
                    idx = self._store.heap[which][i].idx
                    if flow_at(self._store, idx).owner in ids:
                        doomed.append(idx)
            for idx in doomed:
                flow_destroy(self._store, idx)
        for i in self._owners():
            store_remove_owner(self._store, self._owner_at(i))
        self._registered = False

    # --- configuration ----------------------------------------------------------------

    def apply_keywords(self, values, errh):
        """Set the C state from the parsed arguments; False after an error."""
        cdef IPRewriterBase other
        self._timeouts[0] = values["timeout"] * NS
        self._timeouts[1] = values["guarantee"] * NS
        self._gc_interval = values["reap_interval"]
        self._annos = (1 if values.get("dst_anno", True) else 0)
        if values.get("reply_anno") is not None:
            self._annos |= 2 | (values["reply_anno"] << 2)
        cap = values["capacity"]
        if cap is not None:
            try:
                n = Int(cap)
            except ArgError:
                n = None
            if n is not None:
                self._flows.s.capacity = n
            else:
                e = self.router.find(cap, self) if self.router is not None else None
                if not isinstance(e, IPRewriterBase):
                    errh.error("bad MAPPING_CAPACITY")
                    return False
                other = <IPRewriterBase> e
                self._flows = other._flows
                self._store = &self._flows.s
        self._owner.kind = type(self).owner_kind
        self._owner.timeout = self._timeouts[0]
        self._owner.guarantee = self._timeouts[1]
        return True

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None or not self.apply_keywords(values, errh):
            return False
        self._install_specs(values["inputspec"])
        self.extra_handlers = tuple(
            Handler(f"pattern{i}", read=_pattern_read(i), write=_pattern_write(i))
            for i in range(self.ninputs))
        return True

    def parse_input_spec(self, text, int input):
        """One INPUTSPEC -> ParsedSpec; raises PatternError with Click's message."""
        words = split_words(text)
        if not words:
            raise PatternError("empty argument")
        word, rest = words[0], words[1:]
        if word in ("pass", "passthrough", "nochange"):
            out = 0
            if rest:
                try:
                    if len(rest) != 1:
                        raise ArgError("")
                    out = Int(rest[0])
                except ArgError:
                    raise PatternError("syntax error, expected 'nochange [OUTPUT]'") from None
            if not 0 <= out < self.noutputs:
                raise PatternError("output port out of range")
            return ParsedSpec(SPEC_NOCHANGE, out)
        if word == "keep":
            f, r = parse_ports(rest)
            if not 0 <= f < self.noutputs or not 0 <= r < self.noutputs:
                raise PatternError("output port out of range")
            return ParsedSpec(SPEC_KEEP, f, r)
        if word in ("drop", "discard"):
            if rest:
                raise PatternError(f"syntax error, expected '{word}'")
            return ParsedSpec(SPEC_DROP)
        if word in ("pattern", "xpattern"):
            pattern, f, r = parse_pattern_with_ports(rest, self)
            if not 0 <= f < self.noutputs or not 0 <= r < self.noutputs:
                raise PatternError("output port out of range")
            if isinstance(pattern, PatternSpec):
                pattern = flow_table.Pattern(pattern)
            return ParsedSpec(SPEC_PATTERN, f, r, pattern=pattern)
        e = self.router.find(word, self) if self.router is not None else None
        if e is not None:
            if rest:
                raise PatternError("syntax error, expected element name")
            if not isinstance(e, IPMapper):
                raise PatternError("element is not an IPMapper")
            return ParsedSpec(SPEC_MAPPER, mapper=e)
        raise PatternError("unknown specification")

    def _install_specs(self, specs):
        cdef InputSpec *c = <InputSpec *> calloc(max(len(specs), 1), sizeof(InputSpec))
        cdef Pattern pat
        if c == NULL:
            raise MemoryError()
        free(self._specs)
        self._specs = c
        self._nspecs = len(specs)
        self._spec_objects = [None] * len(specs)
        for i, s in enumerate(specs):
            self._set_spec(i, s)

    def _set_spec(self, int i, s):
        cdef InputSpec *c = &self._specs[i]
        cdef Pattern pat
        memset(c, 0, sizeof(InputSpec))
        c.kind = s.kind
        c.foutput = s.foutput
        c.routput = s.routput
        if s.pattern is not None:
            pat = <Pattern> s.pattern
            c.pattern = pat.c
            self._spec_objects[i] = pat
        elif s.mapper is not None:
            c.mapper = <void *> s.mapper
            self._spec_objects[i] = s.mapper

    def initialize(self, errh):
        self._sched = self.router.scheduler
        _seed_from_router(self.router)
        self._register_owners()
        for i in range(self._nspecs):
            if self._specs[i].kind == SPEC_MAPPER:
                mapper = self._spec_objects[i]
                sub = _PrefixErrors(errh, f"input spec {i}: ")
                mapper.notify_rewriter(self, i, sub)
        self._gc_timer = Timer(self)
        self._gc_timer.initialize(self._sched)
        if self._gc_interval:
            self._gc_timer.schedule_after(self._gc_interval)

    def cleanup(self, stage):
        # As Click: every flow of the flow set goes -- unless another rewriter
        # still uses the set (a reload kept it): then only this one's flows go.
        if self._registered:
            if self._shares_flows():
                self._unregister_owners(True)
            else:
                store_shrink(self._store, True, self.router.scheduler.now() if self.router is not None else 0)
                self._unregister_owners(False)
        if self._gc_timer is not None:
            self._gc_timer.unschedule()

    cdef bint _shares_flows(self):
        """True if another live rewriter uses this one's flow set."""
        cdef IPRewriterBase u
        for u in self._flows.users:
            if u is not self and u._registered:
                return True
        return False

    def take_state(self, old, errh):
        """Carry on old's mappings in a reload (old: a rewriter of this class).

        Every mapping stays as it was, with its expiry, TCP sequence changes
        and reply annotation, so established connections keep their
        addresses and ports; the port and address allocations come along in
        the tables, so new flows, made by this configuration's input specs,
        never reuse a value in use. Timeouts of this configuration apply from
        the flows' next packets; the reaping goes on in this element.

        The tables move by reference: the two elements swap flow sets (or, if
        they share one through MAPPING_CAPACITY, their places in it) and
        tables, so ``old.take_state(self)`` gives them back. Flows this
        configuration cannot serve (made by an input it lacks, or sent to an
        output it lacks) are dropped, and so are the oldest best-effort ones
        over its capacity; both are reported.
        """
        cdef IPRewriterBase o
        cdef FlowSet given
        cdef RWOwner *mine
        cdef RWOwner *theirs
        cdef FlowMap m
        cdef int i, k, id_
        cdef uint32_t u, size
        cdef int32_t cap
        if type(old) is not type(self):
            return None
        o = old
        if not (self._registered and o._registered):
            return None
        shared = o._flows is self._flows
        if not shared and (self._shares_flows() or o._shares_flows()):
            errh.warning("flow table shared with other rewriters (MAPPING_CAPACITY): mappings not carried")
            return None
        lost = o._drop_unservable(self._nspecs, self.noutputs)
        if lost:
            errh.warning(f"{lost} mappings dropped: their input or output is not in the new configuration")
        if not shared:
            given = o._flows
            o._flows = self._flows
            self._flows = given
            self._store = &self._flows.s
            o._store = &o._flows.s
            self._flows.users = [self]
            o._flows.users = [o]
            # Each capacity is its own configuration's.
            cap = self._store.capacity
            self._store.capacity = o._store.capacity
            o._store.capacity = cap
        for k in self._owners():
            mine = self._owner_at(k)
            theirs = o._owner_at(k)
            m = mine.map
            mine.map = theirs.map
            theirs.map = m
            id_ = mine.id
            mine.id = theirs.id
            theirs.id = id_
            self._store.owners[mine.id] = <void *> mine
            o._store.owners[theirs.id] = <void *> theirs
        for i in range(min(self._nspecs, o._nspecs)):
            u = self._specs[i].count
            self._specs[i].count = o._specs[i].count
            o._specs[i].count = u
            u = self._specs[i].failures
            self._specs[i].failures = o._specs[i].failures
            o._specs[i].failures = u
        size = store_size(self._store)
        if <int64_t> size > <int64_t> self._store.capacity:
            store_shrink(self._store, False, self.now())
            errh.warning(f"{size - store_size(self._store)} mappings dropped: over capacity {self._store.capacity}")
        n = self.nmappings()
        return {"mappings": n} if n else None

    def _drop_unservable(self, int nspecs, int noutputs):
        """Destroy this rewriter's flows made by an input >= nspecs or sent to an
        output >= noutputs (before a reload hands its flows to such a rewriter);
        returns how many went. Costs a pass over the flows only when needed."""
        cdef uint32_t i, idx, which
        cdef RWFlow *f
        if self._nspecs <= nspecs and self.noutputs <= noutputs:
            return 0
        ids = {self._owner_at(k).id for k in self._owners()}
        doomed = []
        for which in range(2):
            for i in range(self._store.heap_n[which]):
                idx = self._store.heap[which][i].idx
                f = flow_at(self._store, idx)
                if f.owner in ids and (f.input >= nspecs or <uint32_t> f.output[0] >= <uint32_t> noutputs
                                       or <uint32_t> f.output[1] >= <uint32_t> noutputs):
                    doomed.append(idx)
        for idx in doomed:
            flow_destroy(self._store, idx)
        return len(doomed)

    cdef void run_timer(self, object timer) noexcept:
        store_shrink(self._store, False, self.now())
        if self._gc_interval:
            self._gc_timer.schedule_after(self._gc_interval)

    # --- the data path ------------------------------------------------------------------

    cdef Packet *writable_ip(self, Packet *p) noexcept:
        if packet_shared(p):
            p = packet_uniqueify(p)
            if p == NULL:
                self.dropped += 1
                return NULL
        # Click trusts CheckIPHeader upstream; we still refuse headers that
        # would make the rewrite read or write the wrong bytes: not IPv4, or a
        # header length under 20 bytes. (Checksum and total length are left
        # alone, as Click's: the rewrite updates checksums incrementally and
        # never touches bytes past the data.)
        if not ip_header_ok(p) or (p.buffer[p.network] & 0xF0) != 0x40 or (p.buffer[p.network] & 0x0F) < 5:
            self.drop(p)
            return NULL
        return p

    cdef int unmappable(self, int port, Packet *p) noexcept:
        if self._specs[port].kind == SPEC_NOCHANGE:
            return self._specs[port].foutput
        packet_kill(p)
        return -1

    cdef int truncated(self, int port, Packet *p) noexcept:
        if self._specs[port].kind == SPEC_NOCHANGE:
            return self._specs[port].foutput
        self.drop(p)
        return -1

    cdef int spec_rewrite(self, int input, const FlowKey *flowid, FlowKey *out, FlowMap *reply_map) noexcept:
        cdef InputSpec *s = &self._specs[input]
        cdef int r
        if s.kind == SPEC_NOCHANGE:
            return s.foutput
        if s.kind == SPEC_KEEP:
            out[0] = flowid[0]
            return RW_ADDMAP
        if s.kind == SPEC_PATTERN:
            r = pattern_rewrite(s.pattern, flowid, out, reply_map)
        elif s.kind == SPEC_MAPPER:
            r = (<IPMapper> s.mapper).map_flow(s, flowid, out, reply_map)
        else:
            return RW_DROP
        if r == RW_DROP:
            s.failures += 1
        return r

    cdef uint32_t new_flow(self, RWOwner *o, int input, const FlowKey *flowid, const FlowKey *rewritten,
                           uint8_t ip_p, int64_t now) noexcept:
        cdef uint32_t idx
        if not self._registered:
            return NOREF
        idx = flow_new(self._store, o, input, flowid, rewritten, ip_p, now)
        if idx == NOREF:
            self._specs[input].failures += 1
            return NOREF
        return flow_store(self._store, idx, now)

    cdef uint32_t add_flow(self, int ip_p, const FlowKey *flowid, const FlowKey *rewritten, int input,
                           int64_t now) noexcept:
        return self.new_flow(&self._owner, input, flowid, rewritten, <uint8_t> ip_p, now)

    cdef uint32_t get_entry(self, int ip_p, const FlowKey *flowid, int input) noexcept:
        """The entry for flowid (Click's get_entry); with input >= 0, made by that
        input's spec when there is none. NOREF if none."""
        cdef uint32_t ref
        cdef RWFlow *f
        cdef FlowKey rw
        if not self._registered:
            return NOREF
        ref = map_find(&self._owner.map, flowid)
        if ref != NOREF:
            f = flow_at(self._store, ref >> 1)
            if ip_p and f.ip_p and f.ip_p != ip_p:
                return NOREF
        elif 0 <= input < self._nspecs:
            if self.spec_rewrite(input, flowid, &rw, &self._owner.map) == RW_ADDMAP:
                ref = self.add_flow(ip_p, flowid, &rw, input, self.now())
        return ref

    cdef int process(self, int port, Packet **pp, int64_t now) noexcept:
        packet_kill(pp[0])
        return -1

    cdef void prefetch_batch(self, Batch *b) noexcept:
        pass

    cdef int _result_output(self, int r, Packet *p) noexcept:
        # Click's checked_output_push(result, p) when no mapping was made
        if 0 <= r < self.noutputs:
            return r
        packet_kill(p)
        return -1

    cdef void push(self, int port, Packet *p) noexcept:
        cdef int o = self.process(port, &p, self.now())
        if o >= 0:
            self.checked_output_push(o, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef OutputRun run
        cdef int i, o, n = b.count
        cdef int64_t now = self.now()
        cdef Packet *p
        run_start(&run)
        if n > 1:
            self.prefetch_batch(b)
        b.count = 0
        for i in range(n):
            p = b.p[i]
            o = self.process(port, &p, now)
            if o >= 0:
                run_add(self, &run, o, p)
        run_flush(self, &run)

    # --- slow-path views (handlers, tests) ------------------------------------------------

    def nmappings(self):
        return sum(self._specs[i].count for i in range(self._nspecs))

    def mapping_failures(self):
        return sum(self._specs[i].failures for i in range(self._nspecs))

    def flow_set_size(self):
        return store_size(self._store)

    def capacity(self):
        return self._store.capacity

    def set_capacity(self, int n):
        self._store.capacity = n
        store_shrink(self._store, False, self.now())

    def clear(self):
        store_shrink(self._store, True, self.now())

    def patterns_text(self, int which):
        out = []
        for i in range(self._nspecs):
            if which >= 0 and i != which:
                continue
            kind = self._specs[i].kind
            if kind == SPEC_NOCHANGE:
                text = "<nochange>"
            elif kind == SPEC_KEEP:
                text = "<keep>"
            elif kind == SPEC_PATTERN:
                text = self._spec_objects[i].unparse()
            elif kind == SPEC_MAPPER:
                text = "<mapper>"
            else:
                text = "<drop>"
            if self._specs[i].count:
                text += f" [{self._specs[i].count}]"
            out.append(text + "\n")
        return "".join(out)

    def write_pattern(self, int which, value):
        """The patternN write handler: a new spec for input which; its flows go."""
        cdef uint32_t i, idx, w
        cdef RWFlow *f
        try:
            s = self.parse_input_spec(value, which)
        except PatternError as err:
            raise HandlerError(f"input spec {which}: {err}") from None
        if self._registered:
            ids = {self._owner_at(k).id for k in self._owners()}
            doomed = []
            for w in range(2):
                for i in range(self._store.heap_n[w]):
                    idx = self._store.heap[w][i].idx
                    f = flow_at(self._store, idx)
                    if f.owner in ids and f.input == which:
                        doomed.append(idx)
            for idx in doomed:
                flow_destroy(self._store, idx)
        self._set_spec(which, s)

    def table_text(self, int owner_index=0):
        """The mapping table as Click prints it: one line per entry."""
        cdef RWOwner *o = self._owner_at(owner_index)
        cdef uint32_t i, ref
        cdef uint64_t slot
        cdef int64_t now = self.now()
        if o == NULL or o.map.slots == NULL:
            return ""
        out = []
        for i in range(o.map.mask + 1):
            slot = o.map.slots[i]
            if slot:
                ref = <uint32_t> slot - 1
                out.append(self.unparse_entry(ref, now) + "\n")
        return "".join(out)

    def unparse_entry(self, uint32_t ref, int64_t now):
        """One entry (Click's IPRewriterFlow::unparse); classes change the flow part."""
        cdef FlowKey rw
        cdef RWFlow *f = flow_at(self._store, ref >> 1)
        entry_rewritten(self._store, ref, &rw)
        return f"{key_unparse(&f.key[ref & 1])} => {key_unparse(&rw)}{self.unparse_ports(ref, now)}"

    def unparse_ports(self, uint32_t ref, int64_t now):
        cdef RWFlow *f = flow_at(self._store, ref >> 1)
        cdef int d = ref & 1
        cdef int64_t expiry = f.expiry
        if f.guaranteed:
            expiry = flow_best_effort_expiry(self._store, f)
        # Click counts in jiffies (1 ms) and rounds to seconds
        secs = (expiry // HZ_NS + 500 - now // HZ_NS) // 1000
        return (f" [{'' if d else '*'}{f.output[0]} {'*' if d else ''}{f.output[1]}]"
                f" i{f.input} exp{max(secs, 0)}")

    def lookup_text(self, int owner_index, uint32_t saddr, int sport, uint32_t daddr, int dport):
        cdef RWOwner *o = self._owner_at(owner_index)
        cdef FlowKey k, rw
        cdef uint32_t ref
        if o == NULL or not self._registered:
            return ""
        k.saddr = htonl(saddr)
        k.daddr = htonl(daddr)
        k.sport = htons(sport)
        k.dport = htons(dport)
        ref = map_find(&o.map, &k)
        if ref == NOREF:
            return ""
        entry_rewritten(self._store, ref, &rw)
        return f"{ip_unparse_raw(rw.saddr)} {ntohs(rw.sport)} {ip_unparse_raw(rw.daddr)} {ntohs(rw.dport)}"

    # For tests and tools: find the entry for a flow ID given as Python values.
    def lookup(self, uint32_t saddr, int sport, uint32_t daddr, int dport, int owner_index=0):
        """The rewritten (saddr, sport, daddr, dport) and output for a flow, or None.

        Addresses are ints (clickpy.runtime.args' IPv4 form)."""
        cdef RWOwner *o = self._owner_at(owner_index)
        cdef FlowKey k, rw
        cdef uint32_t ref
        if o == NULL or not self._registered:
            return None
        k.saddr = htonl(saddr)
        k.daddr = htonl(daddr)
        k.sport = htons(sport)
        k.dport = htons(dport)
        ref = map_find(&o.map, &k)
        if ref == NOREF:
            return None
        entry_rewritten(self._store, ref, &rw)
        return ((ntohl(rw.saddr), ntohs(rw.sport), ntohl(rw.daddr), ntohs(rw.dport)),
                flow_at(self._store, ref >> 1).output[ref & 1])


# --- batch prefetch ----------------------------------------------------------------------------

cdef extern from *:
    """
    #define clickpy_rw_prefetch(p) __builtin_prefetch((const void *) (p))
    """
    void prefetch "clickpy_rw_prefetch"(const void *p) noexcept nogil


cdef void prefetch_port_flows(FlowStore *s, Batch *b, FlowMap *tcp_map, FlowMap *udp_map) noexcept:
    """Flows of a batch are usually all different (and, with many flows, out of
    cache): hash each packet's flow ID and prefetch its table slot, then read
    the slots and prefetch the flows they name, so the misses overlap. Packets
    are only read (a clone's shared data included); nothing changes."""
    cdef uint64_t *slot[MAX_BATCH]
    cdef int i, n = b.count
    cdef Packet *p
    cdef unsigned char *iph
    cdef unsigned char *th
    cdef FlowKey key
    cdef FlowMap *m
    cdef uint64_t v
    cdef RWFlow *f
    for i in range(n):
        p = b.p[i]
        slot[i] = NULL
        if not ip_header_ok(p) or transport_length(p) < 8:
            continue
        iph = p.buffer + p.network
        if iph[9] == IP_PROTO_UDP:
            m = udp_map
        elif iph[9] == IP_PROTO_TCP:
            m = tcp_map
        else:
            continue
        if m == NULL or m.slots == NULL:
            continue
        th = p.buffer + p.transport
        key.saddr = load_u32_raw(iph + 12)
        key.daddr = load_u32_raw(iph + 16)
        key.sport = load_u16_raw(th)
        key.dport = load_u16_raw(th + 2)
        slot[i] = &m.slots[key_hash(m, &key) & m.mask]
        prefetch(slot[i])
    for i in range(n):
        if slot[i] != NULL:
            v = slot[i][0]
            if v:
                f = flow_at(s, (<uint32_t> v - 1) >> 1)
                prefetch(f)
                prefetch((<char *> f) + 64)


class _PrefixErrors:
    """An error handler that puts a prefix before each message."""

    def __init__(self, errh, prefix):
        self.errh = errh
        self.prefix = prefix

    def error(self, msg):
        return self.errh.error(self.prefix + msg)

    def warning(self, msg):
        return self.errh.warning(self.prefix + msg)

    def message(self, msg):
        return self.errh.message(self.prefix + msg)


def _seed_from_router(router):
    """Rewriters draw from Click's random sequence; a RandomSeed seeds it as in Click."""
    if router is None or router.attachments.get("rewriter_random_seeded"):
        return
    router.attachments["rewriter_random_seeded"] = True
    for e in router.elements:
        if type(e).__name__ == "RandomSeed":
            seed = getattr(e, "seed", None)
            if seed is not None:
                flow_table.srandom(seed)
