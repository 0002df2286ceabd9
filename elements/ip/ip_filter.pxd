# cython: language_level=3
"""IPFilter's compiled decision program, for cimport by IPClassifier.

The program is Click's compressed IPFilter program as a C array of steps.
Each step loads the 4 bytes at ``offset`` from the start of one region of
the packet, ANDs them with ``mask`` and looks the result up among its
values; a hit goes on to ``next[1]``, a miss to ``next[0]``, or ends the
walk at output ``out[1]`` or ``out[0]``. Steps only lead forward. The
walk is a chain of dependent loads (each step's successor is read from
it), so ``flow`` says when the successor is simply the next step in the
array: the CPU then predicts the branch and has the address at once.

Regions are Click's three offset ranges: 0 counts from 2 bytes before the
MAC header (``ether host``), 1 from the IP header, 2 from the transport
header (whatever the IP header's length). Masks and values are in memory
order, so a step costs one load, one AND and one compare.

A packet whose regions hold every word either program loads takes the
fast walk over the optimized program, which never checks a length. Others
take the checked walk over ``exact``, the unoptimized program: Click's
optimizer can change the answer for a packet that ends before some word it
tests (see ``ip_filter_language.exact_program``), the unoptimized program
gives the documented one. In the checked walk a step whose masked bytes are
not all in the packet takes the branch ``short_output`` without looking at
the data; one whose masked bytes are there compares them.
"""
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet

cdef enum:
    REGION_MAC = 0
    REGION_NET = 1
    REGION_TRANSP = 2
    FILTER_MIN_BINARY_SEARCH = 7    # value lists this long are sorted and bisected


cdef extern from *:
    """
    #define filter_keep_branch() __asm__ __volatile__("")
    #define filter_memory_barrier() __asm__ __volatile__("" ::: "memory")
    #define filter_likely(x) __builtin_expect(!!(x), 1)
    """
    bint filter_likely(bint) noexcept nogil
    void filter_keep_branch() noexcept nogil
    void filter_memory_barrier() noexcept nogil     # the compiler may not cache loads across it

cdef enum:
    FLOW_NEXT = 0           # go on to the step that follows in the array
    FLOW_JUMP = 1           # go on to next[k]
    FLOW_OUT = 2            # the walk ends at output out[k]

cdef struct FilterStep:
    FilterStep *next[2]     # the step after a miss / a hit (NULL when the walk ends)
    int32_t out[2]          # the output when the walk ends here
    uint8_t flow[2]         # FLOW_NEXT / FLOW_JUMP / FLOW_OUT, after a miss / a hit
    int32_t offset          # word offset from the region's origin
    uint32_t mask           # memory order
    uint32_t value          # the value when there is one (memory order, masked)
    uint32_t first_value    # index of the value list in FilterCode.values (nvalues > 1)
    uint16_t nvalues
    uint8_t region          # REGION_MAC / REGION_NET / REGION_TRANSP
    uint8_t short_output    # branch taken when the masked bytes are past the end
    uint8_t lead            # bytes of the word before the first masked byte
    uint8_t need            # bytes of the word up to the last masked byte (0 if no mask)


cdef struct FilterCode:
    FilterStep *steps
    uint32_t *values        # value lists of the steps that have several
    int nsteps
    int output_everything   # >= 0: every packet goes to this output (no steps)
    int32_t need[3]         # per region: the fast walk needs this many bytes (0: unused)
    FilterCode *exact       # the unoptimized program, walked for short packets (or NULL)
    # The fast walk as straight-line C made for this program by a
    # specialised module (clickpy.specialize), or NULL: it gets the regions'
    # bases once the length checks have passed, and returns the output.
    int (*fast)(const unsigned char **base) noexcept nogil


cdef int filter_checked_match(const FilterCode *c, const Packet *p) noexcept nogil


cdef inline bint filter_step_hit(const FilterCode *c, const FilterStep *s, uint32_t w) noexcept nogil:
    if filter_likely(s.nvalues == 1):
        return w == s.value
    return filter_values_hit(c, s, w)


cdef inline bint filter_values_hit(const FilterCode *c, const FilterStep *s, uint32_t w) noexcept nogil:
    cdef const uint32_t *v
    cdef int i, lo, hi, mid
    v = c.values + s.first_value
    if s.nvalues < FILTER_MIN_BINARY_SEARCH:
        for i in range(s.nvalues):
            if v[i] == w:
                return True
        return False
    lo = 0
    hi = s.nvalues
    while lo < hi:
        mid = (lo + hi) >> 1
        if v[mid] == w:
            return True
        elif v[mid] < w:
            lo = mid + 1
        else:
            hi = mid
    return False


cdef inline bint filter_bases(const FilterCode *c, const Packet *p, const unsigned char **base) noexcept nogil:
    """Whether p may take the fast walk (it holds every word the walk loads);
    if so, base gets the walk's three region pointers."""
    cdef int32_t end = <int32_t> (p.data + p.length)
    if p.network < 0 or p.transport < p.network:
        return False
    if (end - p.network < c.need[REGION_NET]
            or (c.need[REGION_TRANSP] and end - p.transport < c.need[REGION_TRANSP])):
        return False
    if c.need[REGION_MAC]:
        if p.mac < 2 or end - (p.mac - 2) < c.need[REGION_MAC]:
            return False
        base[REGION_MAC] = p.buffer + p.mac - 2
    base[REGION_NET] = p.buffer + p.network
    base[REGION_TRANSP] = p.buffer + p.transport
    return True


cdef inline int filter_match(const FilterCode *c, const Packet *p) noexcept nogil:
    """The output for packet p (a value >= the number of outputs means: drop)."""
    cdef const unsigned char *base[3]
    cdef const FilterStep *s
    cdef uint32_t w
    if c.output_everything >= 0:
        return c.output_everything
    if not filter_bases(c, p, base):
        return filter_checked_match(c.exact, p)
    if c.fast != NULL:
        return c.fast(base)
    s = c.steps
    while True:
        memcpy(&w, base[s.region] + s.offset, 4)
        # Branches, not loads indexed by the comparison's result: the CPU
        # predicts them and starts on the next step before the comparison is
        # done. (An empty asm statement in one arm keeps the C compiler from
        # merging the two arms back into one indexed load.)
        if filter_step_hit(c, s, w & s.mask):
            filter_keep_branch()
            if filter_likely(s.flow[1] == FLOW_NEXT):
                s += 1
            elif s.flow[1] == FLOW_JUMP:
                s = s.next[1]
            else:
                return s.out[1]
        else:
            if filter_likely(s.flow[0] == FLOW_NEXT):
                s += 1
            elif s.flow[0] == FLOW_JUMP:
                s = s.next[0]
            else:
                return s.out[0]


cdef class IPFilter(Element):
    cdef FilterCode _code
    cdef public object program          # Click's compressed program (the 'program' handler)
    cdef public object rules            # the parsed rules (expression trees)
    cdef public object extra_handlers

    cdef void _install(self, FilterCode *code) noexcept
