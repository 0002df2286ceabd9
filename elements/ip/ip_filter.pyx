# cython: language_level=3
"""IPFilter: sends IP packets where the first matching tcpdump-like rule says.

Configuration goes through ``ip_filter_language`` (tokens, expression trees,
a Classifier program optimized as Click optimizes it, then specialized per
path so no packet is asked twice what it already answered); the data path
walks the compiled programs (ip_filter.pxd) in C, a whole batch in one
loop, and splits the batch into one batch per output. Packets that end
before some word the programs test walk the unoptimized program instead,
which gives the documented answer where Click's optimizer may not.
"""
from libc.stdint cimport int32_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from cpython.pycapsule cimport PyCapsule_GetPointer

from clickpy.runtime.element cimport Element, OutputRun, run_add, run_flush, run_start
from clickpy.runtime.packet cimport Batch, Packet, PacketObject

from clickpy.runtime.args import Arg, language, parse_arguments
from clickpy.runtime.fast_walk import FAST_WALK_CAPSULE, walk_fingerprint
from clickpy.runtime.handlers import Read

from clickpy.elements.ip.ip_filter_language import OFFSET_NET, OFFSET_TRANSP, compile_rules


cdef int filter_checked_match(const FilterCode *c, const Packet *p) noexcept nogil:
    """The walk for packets that may end before a word the program loads."""
    cdef int32_t end = <int32_t> (p.data + p.length)
    cdef int32_t org[3]
    cdef int32_t lo[3]
    cdef const FilterStep *s = c.steps
    cdef int k
    cdef int32_t a, first, last
    cdef uint32_t w
    cdef unsigned char *wb = <unsigned char *> &w
    if c.nsteps == 0:
        return c.output_everything
    # Each region's origin and first valid byte, in buffer offsets; a region
    # the packet lacks gets lo = end, so every step on it is short.
    org[REGION_MAC] = p.mac - 2
    lo[REGION_MAC] = p.mac if p.mac >= 0 else end
    org[REGION_NET] = p.network
    lo[REGION_NET] = p.network if p.network >= 0 else end
    org[REGION_TRANSP] = p.transport
    lo[REGION_TRANSP] = p.transport if (p.network >= 0 and p.transport >= p.network) else end
    while True:
        a = org[s.region] + s.offset
        if a >= lo[s.region] and a + 4 <= end:
            memcpy(&w, p.buffer + a, 4)
            k = filter_step_hit(c, s, w & s.mask)
        elif s.need == 0:
            k = filter_step_hit(c, s, 0)
        elif a + s.lead >= lo[s.region] and a + s.need <= end:
            # the masked bytes are there; the rest of the word reads as zero
            w = 0
            first = a if a > lo[s.region] else lo[s.region]
            last = a + 4 if a + 4 < end else end
            memcpy(wb + (first - a), p.buffer + first, last - first)
            k = filter_step_hit(c, s, w & s.mask)
        else:
            k = s.short_output
        if s.next[k] == NULL:
            return s.out[k]
        s = s.next[k]


cdef uint32_t _memory_order(uint32_t big_endian):
    cdef unsigned char b[4]
    cdef uint32_t v
    b[0] = (big_endian >> 24) & 0xFF
    b[1] = (big_endian >> 16) & 0xFF
    b[2] = (big_endian >> 8) & 0xFF
    b[3] = big_endian & 0xFF
    memcpy(&v, b, 4)
    return v


cdef int _build_code(compiled, FilterCode *code) except -1:
    """Fill code from a CompiledRules: the specialized optimized program,
    and under code.exact the unoptimized one; the fast walk needs the words
    of both."""
    cdef FilterCode *exact
    cdef int r
    memset(code, 0, sizeof(FilterCode))
    try:
        _fill_code(compiled.fast, code)
        exact = <FilterCode *> malloc(sizeof(FilterCode))
        if exact == NULL:
            raise MemoryError()
        memset(exact, 0, sizeof(FilterCode))
        code.exact = exact
        _fill_code(compiled.exact, exact)
        if code.output_everything >= 0 and exact.nsteps > 0:
            # Every packet that holds all the words goes one way, but a short
            # one may not: one step that looks at nothing sends the first
            # kind there, and the length check sends the others to the exact walk.
            _one_way_step(code, code.output_everything)
        for r in range(3):
            if exact.need[r] > code.need[r]:
                code.need[r] = exact.need[r]
        return 0
    except BaseException:
        _free_code(code)
        raise


cdef int _fill_code(zprog, FilterCode *code) except -1:
    cdef list z = zprog.words
    cdef int i, k, n, nsteps = 0, nvalues = 0, step, nv
    cdef FilterStep *st
    cdef uint32_t m
    memset(code, 0, sizeof(FilterCode))
    code.output_everything = -1
    # step index of each test's first word
    index = {}
    i = 0
    while i < len(z):
        index[i] = nsteps
        nv = z[i] >> 17
        nsteps += 1
        if nv > 1:
            nvalues += nv
        i += 4 + nv
    if nsteps == 0:
        oe = zprog.output_everything
        code.output_everything = oe if 0 <= oe < 0x7FFFFFFF else 0x7FFFFFFF
        return 0
    code.steps = <FilterStep *> malloc(nsteps * sizeof(FilterStep))
    code.values = <uint32_t *> malloc(max(nvalues, 1) * sizeof(uint32_t))
    if code.steps == NULL or code.values == NULL:
        free(code.steps)
        free(code.values)
        code.steps = NULL
        code.values = NULL
        raise MemoryError()
    memset(code.steps, 0, nsteps * sizeof(FilterStep))
    code.nsteps = nsteps
    nvalues = 0
    i = 0
    while i < len(z):
        step = index[i]
        st = &code.steps[step]
        off = (z[i] & 0xFFFF) - zprog.align_offset
        nv = z[i] >> 17
        m = z[i + 3]
        if m == 0:
            # a step that looks at no byte ('true'): let it load the IP
            # header's first word, which every packet on the fast walk has
            st.region, st.offset = REGION_NET, 0
        elif off >= OFFSET_TRANSP:
            st.region, st.offset = REGION_TRANSP, off - OFFSET_TRANSP
        elif off >= OFFSET_NET:
            st.region, st.offset = REGION_NET, off - OFFSET_NET
        else:
            st.region, st.offset = REGION_MAC, off
        st.short_output = 1 if z[i] & 0x10000 else 0
        st.mask = _memory_order(m)
        st.need = 0 if m == 0 else (4 if m & 0xFF else (3 if m & 0xFF00 else (2 if m & 0xFF0000 else 1)))
        st.lead = 4 if m == 0 else (0 if m & 0xFF000000 else (1 if m & 0xFF0000 else (2 if m & 0xFF00 else 3)))
        for k in (0, 1):
            j = z[i + 1 + k]
            if j > 0:
                st.next[k] = &code.steps[index[i + j]]
                st.out[k] = 0
                st.flow[k] = FLOW_NEXT if index[i + j] == step + 1 else FLOW_JUMP
            else:
                st.next[k] = NULL
                st.out[k] = -j
                st.flow[k] = FLOW_OUT
        vals = sorted(_memory_order(v) for v in z[i + 4:i + 4 + nv])
        st.nvalues = nv
        st.value = vals[0] if nv else 0
        st.first_value = nvalues
        if nv > 1:
            for v in vals:
                code.values[nvalues] = v
                nvalues += 1
        if st.offset + 4 > code.need[st.region]:
            code.need[st.region] = st.offset + 4
        i += 4 + nv
    return 0


cdef int _one_way_step(FilterCode *code, int output) except -1:
    code.steps = <FilterStep *> malloc(sizeof(FilterStep))
    code.values = <uint32_t *> malloc(sizeof(uint32_t))
    if code.steps == NULL or code.values == NULL:
        raise MemoryError()
    memset(code.steps, 0, sizeof(FilterStep))
    code.nsteps = 1
    code.output_everything = -1
    st = &code.steps[0]
    st.region = REGION_NET
    st.nvalues = 1
    for k in range(2):
        st.next[k] = NULL
        st.out[k] = output
        st.flow[k] = FLOW_OUT
    code.need[REGION_NET] = 4
    return 0


cdef void _free_code(FilterCode *code) noexcept:
    if code.exact != NULL:
        _free_code(code.exact)
        free(code.exact)
        code.exact = NULL
    free(code.steps)
    free(code.values)
    code.steps = NULL
    code.values = NULL
    code.nsteps = 0


cdef const char *_FAST_WALK_CAPSULE = b"clickpy.fast_walk"
assert FAST_WALK_CAPSULE == "clickpy.fast_walk"


cdef tuple _branch(const FilterCode *code, const FilterStep *s, int i, int k):
    if s.flow[k] == FLOW_NEXT:
        return ("step", i + 1)
    if s.flow[k] == FLOW_JUMP:
        return ("step", <int> (s.next[k] - code.steps))
    return ("out", s.out[k])


def _rules(texts, element, errh):
    """IPFilter's arguments, 'ACTION PATTERN' rules -> the CompiledRules."""
    return compile_rules(texts, element.noutputs, element, errh)


cdef class IPFilter(Element):
    """=c
    IPFilter(ACTION_1 PATTERN_1, ..., ACTION_N PATTERN_N)

    =s ip
    filters IP packets by contents

    =d
    Filters IP packets with a list of rules, each an ACTION followed by a
    PATTERN in IPClassifier's tcpdump-like language (see IPClassifier for the
    primitives and operators). Rules are tried in order and the first one
    whose pattern matches decides: an ACTION that is an output number sends
    the packet there, 'allow' means output 0, and 'deny' or 'drop' drops the
    packet. A packet no rule matches is dropped. An ACTION alone, or followed
    by '-', 'any' or 'all', matches every packet.

    Input packets need their IP header annotation (CheckIPHeader and
    MarkIPHeader set it). Packets without one, and packets too short for a
    field a pattern looks at, do not crash anything: a test that cannot see
    its bytes is false (but 'not (TEST)' is then true, as in Click).

    The rules compile into one decision tree of 4-byte masked comparisons,
    optimized as Click optimizes it (the C<program> handler prints it),
    then copied per path where that lets a path skip a test its earlier
    steps decided (for instance 'is it UDP?' asked again by a later rule),
    and walked in C, a batch at a time. A packet too short for some word
    the tree tests walks the rules' unoptimized tree instead: Click's
    optimizer can change such a packet's answer, and we keep the documented
    one (a test whose bytes are missing is false, 'not' flips it).

    A configuration error names the rule (counted from 0), its text and the
    column of the offending word, for instance 'rule 3 "allow tcp port
    htp", column 16: unknown port name 'htp''. Unknown names (ports,
    protocols, ICMP types) are errors, never silent matches.

    =h specialized read-only
    "true" when the walk runs straight-line C made for this program by the
    configuration's specialised module (clickpy run --specialize), "false"
    on the generic walk.

    =h program read-only
    The decision program, in Click's format: per step, the offset (0-255
    from the MAC header minus 2, 256-511 from the IP header, 512 and up from
    the transport header), the value%mask of a 4-byte comparison, and where
    each answer leads ("[N]" is output N, "[X]" drops).

    =e
      IPFilter(allow src host 10.0.0.1 && tcp dst port www,
               1 icmp type echo,
               deny all);

    =a IPClassifier, Classifier, CheckIPHeader, MarkIPHeader, AddressInfo
    """
    port_count = "1/-"
    processing = "h"
    flags = ""
    arguments = (Arg("RULE", language(_rules), rest=True, doc="'ACTION PATTERN', one per output"),)
    live_reconfigure = True
    replace_on_reload = True  # compiles its patterns; stateless
    handlers = (Read("program", lambda e: e.program_text(), calm=True),
                Read("specialized", lambda e: "true" if e.specialized else "false", calm=True))

    def __cinit__(self):
        memset(&self._code, 0, sizeof(FilterCode))
        self._code.output_everything = 0x7FFFFFFF
        self.extra_handlers = ()

    def __dealloc__(self):
        _free_code(&self._code)

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        return self._finish_configure(values["rule"])

    def _finish_configure(self, compiled):
        cdef FilterCode code
        _build_code(compiled, &code)
        self._install(&code)
        self.program = compiled.program
        self.rules = compiled.rules
        return True

    cdef void _install(self, FilterCode *code) noexcept:
        _free_code(&self._code)
        self._code = code[0]

    def program_text(self):
        return self.program.unparse() if self.program is not None else ""

    def fast_walk(self):
        """The program the fast walk follows, as data (for clickpy.specialize):
        None when every packet that holds the words goes one way, else a
        tuple of steps (region, offset, mask, values, miss, hit). A step
        loads the 4 bytes at offset from its region's base, ANDs them with
        mask (memory order) and looks the result up in values (none: a
        miss); miss and hit are ("step", index) or ("out", output)."""
        cdef const FilterCode *c = &self._code
        cdef const FilterStep *s
        cdef int i
        if c.output_everything >= 0 or c.nsteps == 0:
            return None
        steps = []
        for i in range(c.nsteps):
            s = &c.steps[i]
            if s.nvalues == 1:
                values = (s.value,)
            else:
                values = tuple(c.values[s.first_value + k] for k in range(s.nvalues))
            steps.append((s.region, s.offset, s.mask, values, _branch(c, s, i, 0), _branch(c, s, i, 1)))
        return tuple(steps)

    def specialize(self, capsule, str fingerprint):
        """Walk with the straight-line C function in capsule, made for the
        program whose walk_fingerprint is given. False, and nothing changes,
        when this element's program is not that one (it was reconfigured)."""
        walk = self.fast_walk()
        if walk is None or walk_fingerprint(walk) != fingerprint:
            return False
        self._code.fast = <int (*)(const unsigned char **) noexcept nogil> PyCapsule_GetPointer(
            capsule, _FAST_WALK_CAPSULE)
        return True

    @property
    def specialized(self):
        """Whether the fast walk runs a specialised module's C function."""
        return self._code.fast != NULL

    def match_packet(self, PacketObject packet):
        """The output this element picks for packet (which stays the caller's);
        None when the packet would be dropped. For tests and tools."""
        cdef int o = filter_match(&self._code, packet._live())
        return o if 0 <= o < self.noutputs else None

    def match_loop(self, PacketObject packet, long n):
        """Classify packet n times in C (the data path's walk alone, for
        benchmarks); returns what match_packet would."""
        cdef Packet *p = packet._live()
        cdef int o = 0x7FFFFFFF
        cdef long i
        cdef const FilterCode *code = &self._code
        with nogil:
            for i in range(n):
                filter_memory_barrier()     # walk again each time
                o = filter_match(code, p)
        return o if 0 <= o < self.noutputs else None

    # --- the data path ----------------------------------------------------------

    cdef void push(self, int port, Packet *p) noexcept:
        self.checked_output_push(filter_match(&self._code, p), p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef OutputRun run
        cdef const FilterCode *code = &self._code
        cdef int i, n = b.count
        run_start(&run)
        b.count = 0
        for i in range(n):
            run_add(self, &run, filter_match(code, b.p[i]), b.p[i])
        run_flush(self, &run)
