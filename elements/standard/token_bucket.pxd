# cython: language_level=3
"""Token buckets as Click's userlevel TokenBucket computes them.

RatedUnqueue, BandwidthRatedUnqueue, RatedSplitter, BandwidthRatedSplitter
and RatedSource limit their rates with a token bucket. To produce the very
counts Click produces, the arithmetic here is Click's: 32-bit unsigned
fixed-point tokens (a full bucket holds 2^32 - 1 fractional tokens, one
token is ``token_scale`` of them), refilled once per tick, where a tick is a
"jiffy" of one millisecond (userlevel Click's CLICK_HZ is 1000) taken from
the scheduler's clock -- so simulated time gives the same results every run.

Everything is a C struct and ``cdef inline ... noexcept nogil`` functions:
no Python object on the data path. ``tb_jiffies(now_ns)`` turns the
scheduler's ``now()`` into the tick count the functions take.
"""
from libc.stdint cimport int64_t, uint32_t, uint64_t

cdef enum:
    TB_FREQUENCY = 1000         # ticks per second: one tick per millisecond


cdef struct TokenBucket:
    uint32_t tokens_per_tick    # fractional tokens added per tick; 0 = never refills
    uint32_t token_scale        # fractional tokens per whole token
    uint32_t time_until_full    # ticks to fill an empty bucket; 0 = unlimited
    uint32_t tokens             # current content, in fractional tokens
    uint32_t time_point         # tick of the last refill


cdef inline uint32_t tb_max() noexcept nogil:
    return <uint32_t> 0xFFFFFFFF


cdef inline uint32_t tb_jiffies(int64_t now_ns) noexcept nogil:
    """The millisecond tick of a time in nanoseconds, wrapping at 2^32 as Click's jiffies do."""
    cdef int64_t ms = now_ns // 1000000
    if now_ns < 0 and ms * 1000000 != now_ns:
        ms -= 1
    return <uint32_t> (<uint64_t> ms)


cdef inline void tb_init(TokenBucket *tb) noexcept nogil:
    """An idle bucket: empty, never refilled (Click's default-constructed TokenBucket)."""
    tb.token_scale = 1
    tb.tokens_per_tick = 0
    tb.time_until_full = tb_max()
    tb.tokens = 0
    tb.time_point = 0


cdef inline void tb_assign_unlimited(TokenBucket *tb, bint unlimited) noexcept nogil:
    """Make the rate unlimited (every refill fills the bucket) or idle (never refills)."""
    tb.token_scale = 1
    if unlimited:
        tb.tokens_per_tick = tb_max()
        tb.time_until_full = 0
    else:
        tb.tokens_per_tick = 0
        tb.time_until_full = tb_max()


cdef inline void tb_assign(TokenBucket *tb, uint32_t rate, uint32_t capacity) noexcept nogil:
    """Set the rate (tokens per second) and capacity (tokens); keeps the content as is."""
    cdef uint32_t min_capacity
    cdef uint64_t per_tick
    if capacity == 0:
        rate = 0
        capacity = tb_max()
    if rate != 0:
        # The bucket must hold at least one tick's worth of tokens.
        min_capacity = (rate - 1) // TB_FREQUENCY + 1
        if capacity < min_capacity:
            capacity = min_capacity
    tb.token_scale = tb_max() // capacity
    per_tick = (<uint64_t> rate * tb.token_scale) // TB_FREQUENCY
    if rate != 0:
        tb.tokens_per_tick = <uint32_t> per_tick if per_tick != 0 else 1
        tb.time_until_full = (tb_max() - 1) // tb.tokens_per_tick + 1
    else:
        tb.tokens_per_tick = 0
        tb.time_until_full = tb_max()


cdef inline void tb_assign_adjust(TokenBucket *tb, uint32_t rate, uint32_t capacity) noexcept nogil:
    """tb_assign, rescaling the current content to the new token size."""
    cdef uint32_t old_scale = tb.token_scale
    cdef uint64_t t
    tb_assign(tb, rate, capacity)
    if old_scale != tb.token_scale:
        t = (<uint64_t> tb.tokens * tb.token_scale) // old_scale
        tb.tokens = tb_max() if t > tb_max() else <uint32_t> t


cdef inline void tb_take_content(TokenBucket *tb, const TokenBucket *src) noexcept nogil:
    """Give tb the content and refill time of src (a hot reload's rule): the same
    number of tokens, rescaled to tb's token size and so at most tb's capacity.
    A reload that changes the rate then refills from there at the new rate:
    it grants no burst beyond what src held."""
    cdef uint64_t t = (<uint64_t> src.tokens * tb.token_scale) // src.token_scale
    tb.tokens = tb_max() if t > tb_max() else <uint32_t> t
    tb.time_point = src.time_point


cdef inline void tb_swap_content(TokenBucket *a, TokenBucket *b) noexcept nogil:
    """Exchange two buckets' contents and refill times by tb_take_content's rule
    (take_state's move, which a rollback undoes)."""
    cdef TokenBucket x = a[0]
    tb_take_content(a, b)
    tb_take_content(b, &x)


cdef inline uint32_t tb_rate(TokenBucket *tb) noexcept nogil:
    """The rate in tokens per second, as Click reports it (rounded from the tick rate)."""
    cdef uint64_t l = <uint64_t> tb.tokens_per_tick * TB_FREQUENCY + tb.tokens_per_tick // 2
    l //= tb.token_scale
    return tb_max() if l > tb_max() else <uint32_t> l


cdef inline uint32_t tb_capacity(TokenBucket *tb) noexcept nogil:
    return tb_max() // tb.token_scale


cdef inline uint32_t tb_size(TokenBucket *tb) noexcept nogil:
    """Whole tokens in the bucket."""
    return tb.tokens // tb.token_scale


cdef inline bint tb_convert(TokenBucket *tb, uint32_t *t) noexcept nogil:
    """Tokens to fractional tokens; saturates (and returns False) on overflow."""
    cdef uint64_t x = <uint64_t> t[0] * tb.token_scale
    if x > tb_max():
        t[0] = tb_max()
        return False
    t[0] = <uint32_t> x
    return True


cdef inline void tb_refill(TokenBucket *tb, uint32_t now) noexcept nogil:
    """Add the tokens earned since the last refill (now is a tick from tb_jiffies)."""
    cdef uint32_t diff = now - tb.time_point if tb.time_point <= now else 0
    cdef uint32_t t
    if diff >= tb.time_until_full:
        tb.tokens = tb_max()
    elif diff > 0:
        t = tb.tokens + diff * tb.tokens_per_tick
        tb.tokens = tb_max() if t < tb.tokens else t
    tb.time_point = now


cdef inline bint tb_contains(TokenBucket *tb, uint32_t t) noexcept nogil:
    return tb_convert(tb, &t) and t <= tb.tokens


cdef inline void tb_set(TokenBucket *tb, uint32_t t) noexcept nogil:
    tb_convert(tb, &t)
    tb.tokens = t


cdef inline void tb_remove(TokenBucket *tb, uint32_t t) noexcept nogil:
    """Take t tokens out (leaving the bucket empty if it holds fewer)."""
    tb_convert(tb, &t)
    tb.tokens = tb.tokens - t if t <= tb.tokens else 0


cdef inline bint tb_remove_if(TokenBucket *tb, uint32_t t) noexcept nogil:
    """Take t tokens out if the bucket holds that many."""
    if tb_convert(tb, &t) and t <= tb.tokens:
        tb.tokens -= t
        return True
    return False


cdef inline uint32_t tb_time_until_contains(TokenBucket *tb, uint32_t t) noexcept nogil:
    """Ticks until the bucket holds t tokens (0 now; 2^32 - 1 never)."""
    if not tb_convert(tb, &t):
        return tb_max()
    if t <= tb.tokens or tb.time_until_full == 0:
        return 0
    if tb.tokens_per_tick == 0:
        return tb_max()
    return (t - tb.tokens - 1) // tb.tokens_per_tick + 1
