# cython: language_level=3
"""A uniform rate as Click's GapRate computes it (Shaper, BandwidthShaper).

A GapRate follows an ideal process that makes ``rate`` events per second,
evenly spaced, and counts the events its user actually made this second.
``gr_need_update(now)`` says whether the user is behind the ideal process
(so should make an event and call ``gr_update``). The arithmetic is Click's,
in microseconds scaled by 2^12, so the counts match Click's; a user that
falls behind catches up within the second, and lag of more than a second is
forgotten.

C struct and ``cdef inline`` functions only: nothing here touches Python.
"""
from libc.stdint cimport int32_t, int64_t, uint32_t

cdef enum:
    GR_UGAP_SHIFT = 12


cdef struct GapRate:
    uint32_t ugap           # (10^6 << 12) / rate: the gap between events, scaled
    int32_t sec_count       # events made so far this second (may go negative)
    int64_t tv_sec          # the current second; -1 after a reset
    uint32_t rate           # events per second


cdef inline uint32_t gr_max_rate() noexcept nogil:
    return <uint32_t> 1000000 << GR_UGAP_SHIFT


cdef inline void gr_split(int64_t now_ns, int64_t *sec, uint32_t *usec) noexcept nogil:
    cdef int64_t s = now_ns // 1000000000
    cdef int64_t sub = now_ns - s * 1000000000
    if sub < 0:
        s -= 1
        sub += 1000000000
    sec[0] = s
    usec[0] = <uint32_t> (sub // 1000)


cdef inline void gr_reset(GapRate *g) noexcept nogil:
    """Forget the ideal process's state; the next check starts it afresh."""
    g.tv_sec = -1


cdef inline void gr_initialize_rate(GapRate *g, uint32_t r) noexcept nogil:
    g.rate = r
    g.ugap = gr_max_rate() + 1 if r == 0 else gr_max_rate() // r


cdef inline void gr_init(GapRate *g, uint32_t r) noexcept nogil:
    gr_initialize_rate(g, r)
    g.sec_count = 0
    gr_reset(g)


cdef inline void gr_set_rate(GapRate *g, uint32_t r, int64_t now_ns) noexcept nogil:
    """Change the rate (capped at the maximum); a running process keeps its place in the second."""
    cdef int64_t sec
    cdef uint32_t usec
    if r > gr_max_rate():
        r = gr_max_rate()
    if g.rate != r:
        gr_initialize_rate(g, r)
        if g.tv_sec >= 0 and r != 0:
            gr_split(now_ns, &sec, &usec)
            g.sec_count = <int32_t> ((usec << GR_UGAP_SHIFT) // g.ugap)


cdef inline void gr_take_place(GapRate *g, const GapRate *src, int64_t now_ns) noexcept nogil:
    """Give g src's place in the ideal process (a hot reload's rule): at the same
    rate, src's second and count as they are; at another rate, src's second
    with the count the new rate's process has reached by now (as a rate change
    does), so neither a lag nor a burst is granted."""
    cdef int64_t sec
    cdef uint32_t usec
    g.tv_sec = src.tv_sec
    if g.rate == src.rate:
        g.sec_count = src.sec_count
    elif g.tv_sec >= 0 and g.rate != 0:
        gr_split(now_ns, &sec, &usec)
        g.sec_count = <int32_t> ((usec << GR_UGAP_SHIFT) // g.ugap)
    else:
        g.sec_count = 0


cdef inline void gr_swap_place(GapRate *a, GapRate *b, int64_t now_ns) noexcept nogil:
    """Exchange two rates' places by gr_take_place's rule (take_state's move)."""
    cdef GapRate x = a[0]
    gr_take_place(a, b, now_ns)
    gr_take_place(b, &x, now_ns)


cdef inline bint gr_need_update(GapRate *g, int64_t now_ns) noexcept nogil:
    """True if the user is behind the ideal process at now_ns (so should make an event)."""
    cdef int64_t sec
    cdef uint32_t usec, scaled, need
    gr_split(now_ns, &sec, &usec)
    scaled = usec << GR_UGAP_SHIFT
    need = scaled // g.ugap
    if g.tv_sec < 0:
        # Just after a reset an event is usually allowed at once.
        g.tv_sec = sec
        g.sec_count = <int32_t> (need + (1 if scaled - need * g.ugap > g.ugap // 2 else 0))
    elif sec > g.tv_sec:
        g.tv_sec = sec
        if g.sec_count > 0:
            g.sec_count = <int32_t> (<uint32_t> g.sec_count - g.rate)
    return <int32_t> need >= g.sec_count


cdef inline void gr_update(GapRate *g) noexcept nogil:
    g.sec_count += 1


cdef inline void gr_update_with(GapRate *g, int32_t delta) noexcept nogil:
    g.sec_count += delta
