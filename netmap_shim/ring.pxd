# cython: language_level=3
"""netmap-style rings in user space: the contract every backend follows.

A *port* has receive and transmit rings. A ring is an array of slots; each
slot always holds one buffer of the runtime's small pool (by index), its
data length, and the offset where the data starts in the buffer. Three
indices divide the ring, exactly as in netmap:

* ``head``: the first slot the user owns (the user advances it);
* ``cur``:  where the user wants to be woken (normally equal to head);
* ``tail``: the first slot the backend owns (the backend advances it).

Slots in [head, tail) belong to the user; slots in [tail, head) to the
backend. On a receive ring the user's slots hold received frames: the user
reads them and moves head past them, and ``rxsync`` lets the backend fill
the slots before head and advance tail. On a transmit ring the user's slots
are free to fill: the user writes frames and moves head past them, and
``txsync`` sends slots from the backend's position up to head and advances
tail over the ones completed. Swapping a slot's buffer for another one (to
hand a packet's buffer over without copying) sets ``NS_BUF_CHANGED``.

Ring memory is owned by the backend: private memory for kernel backends
(AF_PACKET, AF_XDP, tap, pcap), shared memory for pipes between processes.
``Port.fd`` is a descriptor to poll for readiness (readable: rxsync would
bring frames; writable: txsync would free slots).

Moving packets between slots and descriptors: ``ring_take_packet`` and
``ring_put_packet`` (one slot), ``ring_rx_batch`` and ``ring_tx_batch`` (from
head on, advancing head and cur). They pass buffers without copying when
they can, copy when they must, and follow the ownership rule of rings whose
slots are shared between processes (``NR_SHARED_BUFFERS``, pipes): device
elements use them for every backend. netmap_shim/README.md says it all in
users' words.
"""
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from clickpy.runtime.packet cimport (DEFAULT_HEADROOM, Packet, Pool, packet_kill, packet_make, packet_swap_in,
                                     packet_swap_out, pkt_data, small_pool_state)

# Slot flags (netmap's values).
cdef enum:
    NS_BUF_CHANGED = 0x0001     # the slot's buffer index was replaced
    NS_REPORT = 0x0002          # ask the backend to report this slot's completion
    NS_FORWARD = 0x0004
    NS_NO_LEARN = 0x0008
    NS_INDIRECT = 0x0010
    NS_MOREFRAG = 0x0020        # the frame continues in the next slot

cdef struct Slot:
    uint32_t buf_idx            # buffer index in the small pool
    uint32_t len                # bytes of data
    uint16_t offset             # data starts this many bytes into the buffer
    uint16_t flags              # NS_* flags
    uint32_t ptr                # backend-private (for example an AF_XDP address)

cdef struct RingHeader:
    uint32_t num_slots
    uint32_t head
    uint32_t cur
    uint32_t tail
    uint32_t flags
    uint32_t buf_size           # bytes per buffer
    uint64_t drops              # frames the backend had to drop (ring full)
    uint16_t foreign            # shared rings: how this process marks the buffers in the slots
    uint16_t _pad16
    uint32_t _pad32
    uint64_t _pad[4]            # keeps slots on their own cache line

# Ring flags (RingHeader.flags).
cdef enum:
    NR_TIMESTAMPS = 0x0002      # an int64 timestamp (ns) per slot follows the slots: ring_timestamps()
    NR_SHARED_BUFFERS = 0x1000  # slot buffers belong to no process (pipes): exchanges are checked,
                                # see ring_take_packet / ring_put_packet and the README

# Orderings for indices shared between processes or threads (pipes): a
# producer writes its slots, then publishes its index with a release store;
# the consumer loads the index with acquire, then reads the slots.
cdef extern from *:
    """
    #ifndef CLICKPY_NETMAP_SHIM_ATOMICS
    #define CLICKPY_NETMAP_SHIM_ATOMICS
    #include <stdint.h>
    static inline uint32_t nm_load_acquire(const volatile uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void nm_store_release(volatile uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    static inline void nm_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
    static inline int nm_cas_i32(volatile int32_t *p, int32_t expect, int32_t v) {
        return __atomic_compare_exchange_n(p, &expect, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    static inline uint32_t nm_xchg_u32(volatile uint32_t *p, uint32_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
    #endif
    """
    uint32_t nm_load_acquire(uint32_t *p) noexcept nogil
    void nm_store_release(uint32_t *p, uint32_t v) noexcept nogil
    void nm_fence() noexcept nogil
    bint nm_cas_i32(int32_t *p, int32_t expect, int32_t v) noexcept nogil
    uint32_t nm_xchg_u32(uint32_t *p, uint32_t v) noexcept nogil

cdef extern from *:
    """
    #ifndef CLICKPY_NETMAP_SHIM_PREFETCH
    #define CLICKPY_NETMAP_SHIM_PREFETCH
    #define nm_prefetch(p) __builtin_prefetch((p), 0, 3)
    #if defined(__x86_64__)
    #include <cpuid.h>
    /* A prefetch for writing takes the line from the other core in one step;
       a read prefetch leaves the write to ask for it again. Compilers emit
       PREFETCHW only when told the CPU has it, so ask the CPU once. */
    static int nm_has_prefetchw = -1;
    static inline int nm_prefetchw_supported(void) {
        unsigned a, b, c, d;
        if (nm_has_prefetchw < 0)
            nm_has_prefetchw = __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 8)) ? 1 : 0;
        return nm_has_prefetchw;
    }
    static inline void nm_prefetchw(const void *p) {
        if (nm_has_prefetchw > 0)
            __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
        else
            __builtin_prefetch(p, 1, 3);
    }
    #else
    static inline int nm_prefetchw_supported(void) { return 0; }
    #define nm_prefetchw(p) __builtin_prefetch((p), 1, 3)
    #endif
    #endif
    """
    void nm_prefetch(const void *p) noexcept nogil
    void nm_prefetchw(const void *p) noexcept nogil
    int nm_prefetchw_supported() noexcept nogil

# How many slots ahead a receive loop fetches frames into the cache: a slot's
# buffer may be anywhere in the pool (buffers are swapped, not copied) and,
# on a pipe, was just written by another core, so the hardware cannot guess it.
cdef enum:
    PREFETCH_AHEAD = 16

cdef inline uint32_t ring_next(RingHeader *r, uint32_t i) noexcept nogil:
    i += 1
    return 0 if i == r.num_slots else i

cdef inline uint32_t ring_space(RingHeader *r) noexcept nogil:
    """Slots the user owns: [head, tail)."""
    cdef int64_t n = <int64_t> r.tail - <int64_t> r.head
    if n < 0:
        n += r.num_slots
    return <uint32_t> n

cdef inline bint ring_empty(RingHeader *r) noexcept nogil:
    return r.head == r.tail

cdef inline Slot *ring_slot(RingHeader *r, uint32_t i) noexcept nogil:
    return <Slot *> (<char *> r + sizeof(RingHeader)) + i

cdef inline uint32_t ring_dist(RingHeader *r, uint32_t a, uint32_t b) noexcept nogil:
    """Slots from a forward to b (0 <= result < num_slots)."""
    return b - a if b >= a else b + r.num_slots - a

cdef inline uint32_t ring_space_cur(RingHeader *r) noexcept nogil:
    """Slots from cur to tail: what the user wants to be woken for."""
    return ring_dist(r, r.cur, r.tail)

cdef inline int64_t *ring_timestamps(RingHeader *r) noexcept nogil:
    """The per-slot timestamps (ns since the epoch, 0 = none), or NULL if the
    ring has none (no NR_TIMESTAMPS). Receive rings: when the frame arrived
    (pcap: when it was captured); transmit rings: the packet's timestamp."""
    if r.flags & NR_TIMESTAMPS:
        return <int64_t *> ring_slot(r, r.num_slots)
    return NULL

cdef inline void ring_prefetch(RingHeader *r, uint32_t i, Pool *pool) noexcept nogil:
    """Start fetching the frame PREFETCH_AHEAD slots after slot i, if the
    user owns that slot: two cache lines from its first byte (its headers
    straddle two when the frame does not start on a line)."""
    cdef uint32_t j = i + PREFETCH_AHEAD
    if j >= r.num_slots:
        j -= r.num_slots
    if ring_dist(r, r.head, j) >= ring_dist(r, r.head, r.tail):
        return
    cdef Slot *s = ring_slot(r, j)
    cdef const unsigned char *d
    if s.buf_idx >= pool.nbuffers:
        return
    d = pool.base + <size_t> s.buf_idx * pool.buffer_size + s.offset
    nm_prefetch(d)
    nm_prefetch(d + 63)

cdef inline uint16_t ring_mark(RingHeader *r) noexcept nogil:
    """How this process marks a buffer it puts into a slot of r: the ring's
    foreign mark on a shared ring; held (1) on a private one."""
    return r.foreign if r.flags & NR_SHARED_BUFFERS else 1

cdef inline bint ring_slot_buffer_ok(RingHeader *r, Slot *s, Pool *pool) noexcept nogil:
    """Whether the slot names a buffer this process may take out of it: a
    valid index and, on a shared ring, one marked foreign here with the
    ring's mark (lent to this ring's peer, not to another)."""
    if s.buf_idx >= pool.nbuffers:
        return False
    if r.flags & NR_SHARED_BUFFERS:
        return pool.refcount[s.buf_idx] == r.foreign
    return True

cdef inline Packet *ring_take_packet(RingHeader *r, uint32_t i, bint zero_copy) noexcept nogil:
    """The frame in receive slot i as a new packet (head does not move).

    zero_copy: the packet takes the slot's buffer and the slot gets a fresh
    buffer of this process (NS_BUF_CHANGED is set); when no buffer is free,
    or zero_copy is false, the bytes are copied into a new packet and the
    slot keeps its buffer. The packet's data start at the slot's offset
    (backends leave headroom there), its timestamp is the slot's if the ring
    has timestamps. NULL when memory ran out or the slot is bad (a buffer
    index out of range or not this process's to take, a length past the
    buffer): the caller drops the frame and counts it; the slot is unchanged.
    """
    cdef Pool *pool = small_pool_state()
    cdef Slot *s = ring_slot(r, i)
    cdef uint32_t old = s.buf_idx
    cdef int64_t *ts
    cdef Packet *p = NULL
    if not ring_slot_buffer_ok(r, s, pool) or <uint64_t> s.offset + s.len > r.buf_size:
        return NULL
    if zero_copy:
        p = packet_swap_in(&s.buf_idx, s.offset, s.len, ring_mark(r))
        if p != NULL:
            s.flags |= NS_BUF_CHANGED
    if p == NULL:
        p = packet_make(DEFAULT_HEADROOM, pool.base + <size_t> old * pool.buffer_size + s.offset, s.len, 0)
        if p == NULL:
            return NULL
    ts = ring_timestamps(r)
    if ts != NULL:
        p.timestamp = ts[i]
    return p

cdef inline int ring_put_packet(RingHeader *r, uint32_t i, Packet *p, bint zero_copy) noexcept nogil:
    """Put p into transmit slot i (head does not move). 0: done, p is
    consumed; -1: p is untouched and the caller drops it (longer than a
    buffer, or the slot is bad: see ring_take_packet).

    zero_copy: when p alone holds a small-pool buffer, that buffer goes into
    the slot (NS_BUF_CHANGED) and the slot's old buffer becomes this
    process's; otherwise (a clone, a large packet, or zero_copy false) the
    bytes are copied into the slot's buffer, DEFAULT_HEADROOM bytes in when
    they fit. A transmit ring with timestamps records p's timestamp.
    """
    cdef Pool *pool = small_pool_state()
    cdef Slot *s = ring_slot(r, i)
    cdef uint32_t old = s.buf_idx
    cdef uint32_t off = 0, length = 0
    cdef int64_t *ts
    if not ring_slot_buffer_ok(r, s, pool):
        return -1
    if not zero_copy and p.length > r.buf_size:
        return -1
    ts = ring_timestamps(r)
    if ts != NULL:
        ts[i] = p.timestamp
    if zero_copy:
        off = p.data
        length = p.length
        if packet_swap_out(p, &s.buf_idx, ring_mark(r)):
            s.offset = <uint16_t> off
            s.len = length
            s.flags = (s.flags & ~NS_MOREFRAG) | NS_BUF_CHANGED
            return 0
        if p.length > r.buf_size:
            return -1
    off = DEFAULT_HEADROOM if p.length + DEFAULT_HEADROOM <= r.buf_size else 0
    memcpy(pool.base + <size_t> old * pool.buffer_size + off, pkt_data(p), p.length)
    s.offset = <uint16_t> off
    s.len = p.length
    s.flags &= ~NS_MOREFRAG
    packet_kill(p)
    return 0

cdef inline int ring_rx_batch(RingHeader *r, Packet **out, int max, bint zero_copy, uint64_t *drops) noexcept nogil:
    """Take up to max frames from head on (call rxsync first): fills out[],
    moves head and cur past every slot used, returns how many packets were
    made. Frames that could not be taken are dropped and added to *drops."""
    cdef int n = 0
    cdef Packet *p
    cdef Pool *pool = small_pool_state()
    while n < max and r.head != r.tail:
        ring_prefetch(r, r.head, pool)
        p = ring_take_packet(r, r.head, zero_copy)
        if p != NULL:
            out[n] = p
            n += 1
        else:
            drops[0] += 1
        r.head = ring_next(r, r.head)
    r.cur = r.head
    return n

cdef inline int ring_tx_batch(RingHeader *r, Packet **pkts, int n, bint zero_copy, uint64_t *drops) noexcept nogil:
    """Put pkts[0..n) into the free slots from head on (call txsync after):
    moves head and cur, returns how many packets were consumed (sent or
    dropped); pkts[k..n) did not fit and are still the caller's. A packet
    longer than a buffer is killed and counted in *drops. A bad slot (shared
    ring) stops the batch there: its packets are killed and counted."""
    cdef int k = 0
    while k < n and r.head != r.tail:
        if ring_put_packet(r, r.head, pkts[k], zero_copy) == 0:
            r.head = ring_next(r, r.head)
        else:
            if not ring_slot_buffer_ok(r, ring_slot(r, r.head), small_pool_state()):
                while k < n:
                    packet_kill(pkts[k])
                    drops[0] += 1
                    k += 1
                break
            packet_kill(pkts[k])
            drops[0] += 1
        k += 1
    r.cur = r.head
    return k

cdef class Ring:
    """One ring of a port (a view; the port owns the memory)."""
    cdef RingHeader *hdr
    cdef readonly object port
    cdef readonly bint is_tx
    cdef readonly int index

cdef class Port:
    """The base of every backend: rings, a file descriptor, the two syncs."""
    cdef readonly str name          # the full port name, e.g. "afpacket:eth0"
    cdef readonly list rx_rings     # list of Ring
    cdef readonly list tx_rings
    cdef public int fd              # poll this; -1 if none
    cdef public bint closed

    cdef int rxsync(self, int ring) noexcept   # >= 0 frames now available, -1 on error
    cdef int txsync(self, int ring) noexcept   # >= 0 slots completed, -1 on error

cdef RingHeader *ring_alloc(uint32_t num_slots, bint fill_buffers) noexcept
cdef void ring_free(RingHeader *r, bint free_buffers) noexcept
# A private ring with flags (NR_TIMESTAMPS reserves the per-slot timestamps,
# zeroed); free it with ring_free. NULL on failure.
cdef RingHeader *ring_alloc_flags(uint32_t num_slots, bint fill_buffers, uint32_t flags) noexcept
# A Ring view for a backend: the port keeps the memory alive.
cdef Ring make_ring(RingHeader *hdr, object port, bint is_tx, int index)
