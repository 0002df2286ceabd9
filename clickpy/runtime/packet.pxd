# cython: language_level=3
"""Packets: descriptors over a pool of fixed-size buffers addressed by index.

A packet is a small C struct (``Packet``) that points into a buffer of a
``BufferPool``. Buffers live in one shared-memory region, as netmap's do, so
that processes sharing the region can pass packets by buffer index. Several
descriptors may share one buffer (``clone``); writers call ``uniqueify``
first, which copies only when the buffer is shared (copy-on-write).

Every per-packet operation here is a ``cdef inline ... noexcept`` function on
a ``Packet*``: the data path never creates a Python object per packet. A
function that can run out of memory returns NULL; the caller drops the
packet and counts it.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memmove, memset

# Click's annotation area and the offsets its elements agree on. The default
# headroom is one cache line (Click's is 28 bytes): buffers are line-aligned,
# so a frame's first 64 bytes -- Ethernet, IP and TCP headers -- share one
# line, and a small frame crossing to another core moves one line, not two.

cdef enum:
    PACKET_ANNO_SIZE = 48
    DEFAULT_HEADROOM = 64
    DST_IP_ANNO_OFFSET = 0
    PAINT_ANNO_OFFSET = 16
    ICMP_PARAMPROB_ANNO_OFFSET = 17
    FIX_IP_SRC_ANNO_OFFSET = 19
    VLAN_TCI_ANNO_OFFSET = 20
    AGGREGATE_ANNO_OFFSET = 20
    MISC_IP_ANNO_OFFSET = 20
    EXTRA_PACKETS_ANNO_OFFSET = 24
    EXTRA_LENGTH_ANNO_OFFSET = 28
    FIRST_TIMESTAMP_ANNO_OFFSET = 32
    PACKET_NUMBER_ANNO_OFFSET = 32
    SEQUENCE_NUMBER_ANNO_OFFSET = 36

# Packet type annotation, as Linux's PACKET_* constants.
cdef enum PacketType:
    PACKET_HOST = 0
    PACKET_BROADCAST = 1
    PACKET_MULTICAST = 2
    PACKET_OTHERHOST = 3
    PACKET_OUTGOING = 4
    PACKET_LOOPBACK = 5
    PACKET_FASTROUTE = 6

cdef struct Packet:
    unsigned char *buffer   # start of the buffer (cached from pool and index)
    uint32_t buf            # buffer index within its pool
    uint32_t buffer_length  # capacity of the buffer
    uint32_t data           # offset of the first data byte (= headroom)
    uint32_t length         # bytes of data
    int32_t mac             # header offsets from buffer start; -1 = not set
    int32_t network
    int32_t transport
    int64_t timestamp       # nanoseconds since the epoch; 0 = not set
    uint8_t pool            # which pool the buffer belongs to
    uint8_t packet_type     # PacketType
    uint16_t device         # input device index (0 = none)
    Packet *next            # link for queues and free lists
    uint8_t anno[48]        # Click's user annotation area

# A batch: up to MAX_BATCH packets moved through the graph together.
cdef enum:
    MAX_BATCH = 256
    DEFAULT_BATCH = 32

cdef struct Batch:
    int count
    Packet *p[256]

cdef struct Pool:
    unsigned char *base
    uint32_t buffer_size        # bytes per buffer
    uint32_t nbuffers
    uint16_t *refcount          # per buffer: descriptors using it
    uint32_t *free_stack        # indices of free buffers
    uint32_t nfree
    uint64_t failures           # allocations refused because the pool was empty

cdef class BufferPool:
    """A region of equal-sized buffers, shareable between processes."""
    cdef Pool pool
    cdef readonly int fd                 # memfd backing the region, -1 if anonymous
    cdef size_t region_size

# --- The process-wide packet allocator -------------------------------------

cdef Packet *packet_make(uint32_t headroom, const unsigned char *data, uint32_t length, uint32_t tailroom) noexcept nogil
cdef Packet *packet_clone(Packet *p) noexcept nogil
cdef Packet *packet_uniqueify(Packet *p) noexcept nogil
cdef void packet_kill(Packet *p) noexcept nogil
cdef Packet *packet_push_slow(Packet *p, uint32_t n) noexcept nogil
cdef Packet *packet_put_slow(Packet *p, uint32_t n) noexcept nogil
cdef bint packet_shared(Packet *p) noexcept nogil
cdef void packet_copy_annotations(Packet *dst, Packet *src) noexcept nogil
cdef uint64_t packets_in_use() noexcept nogil
# Buffer-level access for rings (netmap_shim): buffers of the small pool by index.
cdef Pool *small_pool_state() noexcept nogil
cdef int64_t buffer_alloc() noexcept nogil                 # an unshared buffer index, or -1
cdef void buffer_free(uint32_t buf) noexcept nogil         # give back a buffer you own
# Buffer swaps with a ring slot in one step (the zero-copy data path). mark:
# what the buffer put into the slot is marked here, 1 for a private ring
# (this process still holds it), the ring's foreign mark for a shared one.
cdef Packet *packet_swap_in(uint32_t *slot_buf, uint32_t offset, uint32_t length, uint16_t mark) noexcept nogil
cdef bint packet_swap_out(Packet *p, uint32_t *slot_buf, uint16_t mark) noexcept nogil
# Sharing the small pool's buffers between processes (netmap_shim pipes).
# A buffer this process does not hold (it sits in a shared ring slot or in
# another process) is marked foreign in this process's refcount table: with
# BUFFER_FOREIGN, or, in a process that lends buffers to several peers (the
# switch), with its peer's domain mark BUFFER_DOMAIN | d (d in 1..MAX_DOMAIN),
# so that it knows which peer holds what and takes back all of a dead
# peer's buffers. See netmap_shim/README.md, "Who owns a buffer".
cdef enum:
    BUFFER_FOREIGN = 0xF000
    BUFFER_DOMAIN = 0xE000
    MAX_DOMAIN = 0x0FFF

cdef inline uint16_t domain_mark(int domain) noexcept nogil:
    """The mark of buffers lent to the peer of domain (1..MAX_DOMAIN); BUFFER_FOREIGN for 0."""
    return <uint16_t> (BUFFER_DOMAIN | domain) if domain else BUFFER_FOREIGN

cdef inline bint is_domain_mark(uint16_t mark) noexcept nogil:
    return (mark & 0xF000) == BUFFER_DOMAIN

cdef uint32_t small_pool_export(uint32_t *out, uint32_t n, uint16_t mark) noexcept nogil  # free buffers out, marked
cdef uint32_t small_pool_import(const uint32_t *bufs, uint32_t n, uint16_t mark) noexcept nogil  # marked ones in, free
cdef uint32_t small_pool_reclaim(uint16_t mark) noexcept nogil   # every buffer marked so comes back, free
cdef uint32_t small_pool_lent_count(uint16_t mark) noexcept nogil  # buffers out under a domain's mark
cdef uint32_t small_pool_separate(const uint32_t *bufs, uint32_t n) noexcept nogil  # own exactly these (forked child)

# --- Inline accessors (hot path) --------------------------------------------

cdef inline unsigned char *pkt_data(Packet *p) noexcept nogil:
    return p.buffer + p.data

cdef inline uint32_t pkt_headroom(Packet *p) noexcept nogil:
    return p.data

cdef inline uint32_t pkt_tailroom(Packet *p) noexcept nogil:
    return p.buffer_length - p.data - p.length

cdef inline void pkt_pull(Packet *p, uint32_t n) noexcept nogil:
    """Remove n bytes from the front (Click's pull; Strip)."""
    if n > p.length:
        n = p.length
    p.data += n
    p.length -= n

cdef inline void pkt_take(Packet *p, uint32_t n) noexcept nogil:
    """Remove n bytes from the end."""
    if n > p.length:
        n = p.length
    p.length -= n

cdef inline Packet *pkt_push(Packet *p, uint32_t n) noexcept nogil:
    """Add n bytes at the front; may move the data. NULL (and p freed) on failure."""
    if n <= p.data and not packet_shared(p):
        p.data -= n
        p.length += n
        return p
    return packet_push_slow(p, n)

cdef inline Packet *pkt_put(Packet *p, uint32_t n) noexcept nogil:
    """Add n bytes at the end; may move the data. NULL (and p freed) on failure."""
    if n <= pkt_tailroom(p) and not packet_shared(p):
        p.length += n
        return p
    return packet_put_slow(p, n)

cdef inline unsigned char *pkt_network_header(Packet *p) noexcept nogil:
    return p.buffer + p.network

cdef inline unsigned char *pkt_transport_header(Packet *p) noexcept nogil:
    return p.buffer + p.transport

cdef inline int pkt_network_offset(Packet *p) noexcept nogil:
    """Offset of the network header from the data start (negative if before it)."""
    return p.network - <int32_t> p.data

cdef inline void pkt_set_network_header(Packet *p, int offset_from_data, int length) noexcept nogil:
    p.network = <int32_t> p.data + offset_from_data
    p.transport = p.network + length

cdef inline uint32_t pkt_anno_u32(Packet *p, int offset) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, &p.anno[offset], 4)
    return v

cdef inline void pkt_set_anno_u32(Packet *p, int offset, uint32_t v) noexcept nogil:
    memcpy(&p.anno[offset], &v, 4)

cdef inline uint16_t pkt_anno_u16(Packet *p, int offset) noexcept nogil:
    cdef uint16_t v
    memcpy(&v, &p.anno[offset], 2)
    return v

cdef inline void pkt_set_anno_u16(Packet *p, int offset, uint16_t v) noexcept nogil:
    memcpy(&p.anno[offset], &v, 2)

# --- Python view of one packet (slow path: Python elements, tests, tools) ----

cdef class PacketObject:
    """A Python handle on one packet. It owns the packet until handed back."""
    cdef Packet *p

    @staticmethod
    cdef PacketObject wrap(Packet *p)
    cdef Packet *release(self) noexcept
    cdef Packet *_live(self) except NULL
