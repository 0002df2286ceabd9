# cython: language_level=3
"""IPRewriterBase: what the rewriters share (see rewriter_base.pyx); IPMapper."""
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet
from clickpy.runtime.scheduler cimport Scheduler, Timer

from clickpy.elements.rewriter.flow_table cimport FlowKey, FlowMap, FlowSet, FlowStore, InputSpec, RWOwner


# Prefetch the table slots, then the flows, that a batch's TCP/UDP packets will
# look up (tcp_map/udp_map: the table for that protocol, or NULL to skip it).
cdef void prefetch_port_flows(FlowStore *s, Batch *b, FlowMap *tcp_map, FlowMap *udp_map) noexcept


cdef enum:
    # get_entry's input argument besides an input number (Click's)
    GET_ENTRY_CHECK = -1        # look up only
    GET_ENTRY_REPLY = -2        # look up only; ICMPPingRewriter reads it as a reply


cdef class IPMapper(Element):
    """An element that chooses new flows' rewriting for a rewriter input ('ELEMENTNAME' spec)."""

    # Rewrite flowid into out for a new flow arriving on input spec input;
    # may set input.foutput/routput. Returns RW_ADDMAP, RW_DROP or an output.
    cdef int map_flow(self, InputSpec *input, const FlowKey *flowid, FlowKey *out, FlowMap *reply_map) noexcept


cdef class IPRewriterBase(Element):
    cdef FlowSet _flows             # the flow set (MAPPING_CAPACITY may share another's)
    cdef FlowStore *_store          # &_flows.s
    cdef RWOwner _owner             # the mapping table (IPRewriter: the TCP one)
    cdef InputSpec *_specs          # one per input
    cdef int _nspecs
    cdef list _spec_objects         # per input: the Pattern or mapper its C spec points into
    cdef uint32_t _annos            # ANNO_DST | ANNO_REPLY | reply anno offset << 2
    cdef int64_t _timeouts[2]       # ns: [0] best-effort timeout, [1] guarantee
    cdef double _gc_interval        # seconds between reaps (0: never)
    cdef Scheduler _sched
    cdef Timer _gc_timer
    cdef bint _registered           # owners are in the flow set
    cdef public object extra_handlers

    cdef inline int64_t now(self) noexcept:
        return self._sched.now()

    # the input spec's decision for a flow without mapping (Click's IPRewriterInput::rewrite_flowid)
    cdef int spec_rewrite(self, int input, const FlowKey *flowid, FlowKey *out, FlowMap *reply_map) noexcept
    # make and store a flow; its forward ref, or NOREF
    cdef uint32_t new_flow(self, RWOwner *o, int input, const FlowKey *flowid, const FlowKey *rewritten,
                           uint8_t ip_p, int64_t now) noexcept
    # a packet no mapping can apply to: the 'pass' output, or -1 after killing it
    cdef int unmappable(self, int port, Packet *p) noexcept
    # the same for a packet whose transport header is cut short: 'pass' still
    # passes it (as Click); otherwise it is dropped and counted as an error
    cdef int truncated(self, int port, Packet *p) noexcept
    # the start of every push: a writable packet with a usable IP header, or NULL (dropped)
    cdef Packet *writable_ip(self, Packet *p) noexcept

    # Click's checked_output_push(result, p) after a flow could not be mapped:
    # the output, or -1 after killing the packet
    cdef int _result_output(self, int r, Packet *p) noexcept
    cdef RWOwner *_owner_at(self, int i) noexcept
    cdef bint _shares_flows(self)

    # --- per class (virtual) ---
    cdef uint32_t get_entry(self, int ip_p, const FlowKey *flowid, int input) noexcept
    cdef uint32_t add_flow(self, int ip_p, const FlowKey *flowid, const FlowKey *rewritten, int input,
                           int64_t now) noexcept
    cdef int process(self, int port, Packet **pp, int64_t now) noexcept
    # before a batch is processed: start loading the table slots and flows its
    # packets will touch, so their cache misses overlap (no effect on results)
    cdef void prefetch_batch(self, Batch *b) noexcept
    cdef RWOwner *owner_for(self, int ip_p) noexcept
    cdef RWOwner *_extra_owner(self, int i) noexcept     # tables besides _owner (IPRewriter's UDP)
