# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Packet buffers, descriptors and the process-wide allocator (see packet.pxd)."""
import os

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy, memmove, memset
from posix.mman cimport MAP_ANONYMOUS, MAP_FAILED, MAP_NORESERVE, MAP_SHARED, PROT_READ, PROT_WRITE, mmap, munmap
from posix.unistd cimport close, ftruncate

from clickpy.runtime.packet cimport *

# Small buffers hold any Ethernet frame with headroom; large ones hold an IP
# datagram of any size (reassembly, pcap files with big snap lengths).
SMALL_BUFFER_SIZE = 2048
LARGE_BUFFER_SIZE = 72 * 1024
# CLICKPY_BUFFERS sets the small pool's size before clickpy is imported (a
# switch with many guests wants more); 2 KiB of address space each, memory
# only when touched, but every guest keeps a private 2-byte count per buffer.
def _pool_size(text, int default):
    try:
        return min(max(int(text), 1 << 12), 1 << 22) if text else default
    except ValueError:
        return default


SMALL_BUFFERS = _pool_size(os.environ.get("CLICKPY_BUFFERS"), 1 << 17)
LARGE_BUFFERS = 1 << 10
cdef enum:
    DESCRIPTOR_CHUNK = 4096


class PoolError(MemoryError):
    pass


cdef class BufferPool:
    def __cinit__(self, uint32_t buffer_size, uint32_t nbuffers, bint shared=True):
        self.fd = -1
        self.pool.base = NULL
        self.pool.buffer_size = buffer_size
        self.pool.nbuffers = nbuffers
        self.pool.failures = 0
        self.region_size = <size_t> buffer_size * nbuffers
        cdef int flags = MAP_SHARED | MAP_NORESERVE
        cdef int fd = -1
        if shared:
            # A memfd lets another process map the same buffers (guests, switch).
            fd = os.memfd_create("clickpy-buffers", 0)
            if ftruncate(fd, self.region_size) != 0:
                close(fd)
                raise PoolError(f"cannot size a {self.region_size}-byte buffer region")
            self.fd = fd
        else:
            flags |= MAP_ANONYMOUS
        cdef void *region = mmap(NULL, self.region_size, PROT_READ | PROT_WRITE, flags, fd, 0)
        if region == MAP_FAILED:
            if fd >= 0:
                close(fd)
                self.fd = -1
            raise PoolError(f"cannot map a {self.region_size}-byte buffer region")
        self.pool.base = <unsigned char *> region
        self.pool.refcount = <uint16_t *> calloc(nbuffers, sizeof(uint16_t))
        self.pool.free_stack = <uint32_t *> malloc(nbuffers * sizeof(uint32_t))
        if self.pool.refcount == NULL or self.pool.free_stack == NULL:
            raise PoolError("cannot allocate buffer bookkeeping")
        # Hand out low indices first, so a light load touches few pages.
        cdef uint32_t i
        for i in range(nbuffers):
            self.pool.free_stack[i] = nbuffers - 1 - i
        self.pool.nfree = nbuffers

    def __dealloc__(self):
        if self.pool.base != NULL:
            munmap(self.pool.base, self.region_size)
        if self.fd >= 0:
            close(self.fd)
        free(self.pool.refcount)
        free(self.pool.free_stack)

    @property
    def buffer_size(self):
        return self.pool.buffer_size

    @property
    def nbuffers(self):
        return self.pool.nbuffers

    @property
    def free(self):
        return self.pool.nfree

    @property
    def in_use(self):
        return self.pool.nbuffers - self.pool.nfree

    @property
    def failures(self):
        return self.pool.failures


# --- the allocator ----------------------------------------------------------

cdef Packet **_free_desc = NULL
cdef uint32_t _nfree_desc = 0
cdef uint32_t _cap_desc = 0
cdef Packet **_chunks = NULL
cdef uint32_t _nchunks = 0
cdef uint64_t _in_use = 0
cdef uint64_t _failures = 0

cdef BufferPool _small = BufferPool(SMALL_BUFFER_SIZE, SMALL_BUFFERS)
cdef BufferPool _large = BufferPool(LARGE_BUFFER_SIZE, LARGE_BUFFERS)
# Packets a forked child inherited from its parent (small_pool_separate):
# each has an entry of its own here, so that its references are counted
# apart from the small pool's table, which then says only what this process
# holds. Nothing allocates from it.
cdef Pool _inherited
# The data path reaches the pools through these plain pointers, without the GIL.
cdef Pool *_pools[3]
_pools[0] = &_small.pool
_pools[1] = &_large.pool
_pools[2] = &_inherited


def small_pool():
    """The pool of small buffers (for tests and for sharing with other processes)."""
    return _small


def large_pool():
    return _large


cdef bint _grow_descriptors() noexcept nogil:
    global _free_desc, _cap_desc, _chunks, _nchunks, _nfree_desc
    cdef Packet *chunk = <Packet *> calloc(DESCRIPTOR_CHUNK, sizeof(Packet))
    if chunk == NULL:
        return False
    cdef Packet **chunks = <Packet **> malloc((_nchunks + 1) * sizeof(Packet *))
    cdef Packet **stack = <Packet **> malloc((_cap_desc + DESCRIPTOR_CHUNK) * sizeof(Packet *))
    if chunks == NULL or stack == NULL:
        free(chunk)
        free(chunks)
        free(stack)
        return False
    if _nchunks:
        memcpy(chunks, _chunks, _nchunks * sizeof(Packet *))
    if _nfree_desc:
        memcpy(stack, _free_desc, _nfree_desc * sizeof(Packet *))
    free(_chunks)
    free(_free_desc)
    chunks[_nchunks] = chunk
    _chunks = chunks
    _nchunks += 1
    _free_desc = stack
    _cap_desc += DESCRIPTOR_CHUNK
    cdef int i
    for i in range(DESCRIPTOR_CHUNK - 1, -1, -1):
        _free_desc[_nfree_desc] = &chunk[i]
        _nfree_desc += 1
    return True


cdef inline Packet *_new_descriptor() noexcept nogil:
    global _nfree_desc, _in_use
    if _nfree_desc == 0 and not _grow_descriptors():
        return NULL
    _nfree_desc -= 1
    _in_use += 1
    return _free_desc[_nfree_desc]


cdef inline void _free_descriptor(Packet *p) noexcept nogil:
    global _nfree_desc, _in_use
    _free_desc[_nfree_desc] = p
    _nfree_desc += 1
    _in_use -= 1


cdef inline bint _take_buffer(uint64_t size, Packet *d) noexcept nogil:
    """Give d a fresh, unshared buffer of at least size bytes. Sizes are summed
    in 64 bits by every caller, so a huge headroom or length cannot wrap
    around to a small buffer."""
    global _failures
    cdef uint8_t which = 0 if size <= _pools[0].buffer_size else 1
    cdef Pool *pool = _pools[which]
    if size > pool.buffer_size or pool.nfree == 0:
        pool.failures += 1
        _failures += 1
        return False
    pool.nfree -= 1
    d.buf = pool.free_stack[pool.nfree]
    pool.refcount[d.buf] = 1
    d.buffer = pool.base + <size_t> d.buf * pool.buffer_size
    d.buffer_length = pool.buffer_size
    d.pool = which
    return True


cdef inline void _unref_buffer(Pool *pool, uint32_t buf) noexcept nogil:
    pool.refcount[buf] -= 1
    if pool.refcount[buf] == 0:
        pool.free_stack[pool.nfree] = buf
        pool.nfree += 1


cdef inline void _push_free(Pool *pool, uint32_t buf) noexcept nogil:
    """A buffer this process holds (or takes back) goes on its free list."""
    pool.refcount[buf] = 0
    pool.free_stack[pool.nfree] = buf
    pool.nfree += 1


cdef inline void _release_buffer(Packet *p) noexcept nogil:
    _unref_buffer(_pools[p.pool], p.buf)


cdef inline void _fresh_packet(Packet *d, uint32_t offset, uint32_t length) noexcept nogil:
    """A new packet's fields: its data at offset, no headers marked, zero annotations."""
    d.data = offset
    d.length = length
    d.mac = -1
    d.network = -1
    d.transport = -1
    d.timestamp = 0
    d.packet_type = PACKET_HOST
    d.device = 0
    d.next = NULL
    memset(d.anno, 0, PACKET_ANNO_SIZE)


cdef Packet *packet_make(uint32_t headroom, const unsigned char *data, uint32_t length, uint32_t tailroom) noexcept nogil:
    cdef Packet *d = _new_descriptor()
    if d == NULL:
        return NULL
    if not _take_buffer(<uint64_t> headroom + length + tailroom, d):
        _free_descriptor(d)
        return NULL
    _fresh_packet(d, headroom, length)
    if data != NULL and length:
        memcpy(d.buffer + headroom, data, length)
    return d


cdef Packet *packet_clone(Packet *p) noexcept nogil:
    cdef Packet *d = _new_descriptor()
    if d == NULL:
        return NULL
    d[0] = p[0]
    d.next = NULL
    _pools[p.pool].refcount[p.buf] += 1
    return d


cdef bint packet_shared(Packet *p) noexcept nogil:
    return _pools[p.pool].refcount[p.buf] > 1


cdef void packet_kill(Packet *p) noexcept nogil:
    if p == NULL:
        return
    _release_buffer(p)
    _free_descriptor(p)


cdef Packet *_move_to_new_buffer(Packet *p, uint32_t headroom, uint32_t tailroom) noexcept nogil:
    """Copy p's data into a fresh buffer with the given room; p keeps its descriptor."""
    cdef Packet old = p[0]
    if not _take_buffer(<uint64_t> headroom + old.length + tailroom, p):
        p[0] = old
        packet_kill(p)
        return NULL
    p.data = headroom
    memcpy(p.buffer + headroom, old.buffer + old.data, old.length)
    # Header offsets move with the data; a header before the data start is
    # copied too when it fits.
    cdef int32_t shift = <int32_t> headroom - <int32_t> old.data
    if old.mac >= 0:
        p.mac = old.mac + shift
    if old.network >= 0:
        p.network = old.network + shift
    if old.transport >= 0:
        p.transport = old.transport + shift
    cdef int32_t lowest = <int32_t> old.data
    if old.mac >= 0 and old.mac < lowest:
        lowest = old.mac
    if old.network >= 0 and old.network < lowest:
        lowest = old.network
    if lowest < <int32_t> old.data and lowest + shift >= 0:
        memcpy(p.buffer + lowest + shift, old.buffer + lowest, old.data - lowest)
    _release_buffer(&old)
    return p


cdef Packet *packet_uniqueify(Packet *p) noexcept nogil:
    if not packet_shared(p):
        return p
    return _move_to_new_buffer(p, p.data, pkt_tailroom(p))


cdef Packet *packet_push_slow(Packet *p, uint32_t n) noexcept nogil:
    cdef uint32_t headroom = p.data
    if n > 0xFFFF0000U:  # no buffer is that large: fail as _take_buffer would
        packet_kill(p)
        return NULL
    if headroom < n:
        headroom = n + DEFAULT_HEADROOM
    p = _move_to_new_buffer(p, headroom, pkt_tailroom(p))
    if p != NULL:
        p.data -= n
        p.length += n
    return p


cdef Packet *packet_put_slow(Packet *p, uint32_t n) noexcept nogil:
    cdef uint32_t tailroom = pkt_tailroom(p)
    if tailroom < n:
        tailroom = n
    p = _move_to_new_buffer(p, p.data, tailroom)
    if p != NULL:
        p.length += n
    return p


cdef void packet_copy_annotations(Packet *dst, Packet *src) noexcept nogil:
    memcpy(dst.anno, src.anno, PACKET_ANNO_SIZE)
    dst.timestamp = src.timestamp
    dst.packet_type = src.packet_type
    dst.device = src.device


cdef uint64_t packets_in_use() noexcept nogil:
    return _in_use


# --- buffers by index (rings) ------------------------------------------------

cdef Pool *small_pool_state() noexcept nogil:
    return _pools[0]


cdef int64_t buffer_alloc() noexcept nogil:
    """Take a free buffer of the small pool for a ring slot; -1 if none is left."""
    cdef Pool *pool = _pools[0]
    if pool.nfree == 0:
        pool.failures += 1
        return -1
    pool.nfree -= 1
    cdef uint32_t buf = pool.free_stack[pool.nfree]
    pool.refcount[buf] = 1
    return buf


cdef void buffer_free(uint32_t buf) noexcept nogil:
    _unref_buffer(_pools[0], buf)


cdef Packet *packet_swap_in(uint32_t *slot_buf, uint32_t offset, uint32_t length, uint16_t mark) noexcept nogil:
    """A packet around the buffer *slot_buf names (the caller checked it is
    this process's to take), the slot getting a free buffer of this process
    instead, marked mark. NULL, the slot unchanged, when no buffer or no
    descriptor is left."""
    cdef Pool *pool = _pools[0]
    if pool.nfree == 0:
        pool.failures += 1
        return NULL
    cdef Packet *d = _new_descriptor()
    if d == NULL:
        return NULL
    cdef uint32_t buf = slot_buf[0]
    pool.nfree -= 1
    cdef uint32_t fresh = pool.free_stack[pool.nfree]
    pool.refcount[fresh] = mark
    slot_buf[0] = fresh
    pool.refcount[buf] = 1
    d.buf = buf
    d.buffer = pool.base + <size_t> buf * pool.buffer_size
    d.buffer_length = pool.buffer_size
    d.pool = 0
    _fresh_packet(d, offset, length)
    return d


cdef bint packet_swap_out(Packet *p, uint32_t *slot_buf, uint16_t mark) noexcept nogil:
    """Put p's buffer into the slot (its buffer marked mark) and take the
    slot's old buffer (the caller checked it is this process's) as a free
    one; p's descriptor is freed. False, p untouched, when p's buffer cannot
    go (shared with a clone, or a large buffer): the caller copies instead."""
    cdef Pool *pool = _pools[0]
    if p.pool != 0 or pool.refcount[p.buf] != 1:
        return False
    cdef uint32_t old = slot_buf[0]
    slot_buf[0] = p.buf
    pool.refcount[p.buf] = mark
    if pool.refcount[old] == mark or pool.refcount[old] <= 1:
        _push_free(pool, old)
    else:                           # a private slot's buffer some clone still reads
        pool.refcount[old] -= 1
    _free_descriptor(p)
    return True


def live_packets():
    """Descriptors currently in use (tests use it to find leaks)."""
    return _in_use


def allocation_failures():
    return _failures


# --- Python view ---------------------------------------------------------------

cdef class PacketObject:
    """One packet, seen from Python.

    Python elements receive these; tests make them with ``PacketObject.make``.
    The object owns its packet: if it is dropped without being handed back to
    the graph, the packet is freed.
    """

    def __cinit__(self):
        self.p = NULL

    def __dealloc__(self):
        if self.p != NULL:
            packet_kill(self.p)
            self.p = NULL

    @staticmethod
    cdef PacketObject wrap(Packet *p):
        cdef PacketObject o = PacketObject.__new__(PacketObject)
        o.p = p
        return o

    cdef Packet *release(self) noexcept:
        cdef Packet *p = self.p
        self.p = NULL
        return p

    cdef Packet *_live(self) except NULL:
        if self.p == NULL:
            raise ValueError("packet was already handed on or freed")
        return self.p

    @staticmethod
    def make(data=b"", uint32_t headroom=DEFAULT_HEADROOM, uint32_t tailroom=0):
        """A new packet holding data (bytes-like)."""
        cdef const unsigned char[:] view = memoryview(bytes(data)).cast("B")
        cdef uint32_t n = view.shape[0]
        cdef Packet *p = packet_make(headroom, &view[0] if n else NULL, n, tailroom)
        if p == NULL:
            raise MemoryError("no packet buffers left")
        return PacketObject.wrap(p)

    @property
    def length(self):
        return self._live().length

    def __len__(self):
        return self._live().length

    @property
    def data(self):
        """The packet's bytes (a copy)."""
        cdef Packet *p = self._live()
        return (<char *> pkt_data(p))[: p.length]

    def __bytes__(self):
        return self.data

    def set_data(self, data):
        """Replace the packet's bytes, keeping annotations."""
        cdef Packet *p = self._live()
        cdef bytes b = bytes(data)
        cdef uint32_t n = len(b)
        if n > p.length:
            p = pkt_put(p, n - p.length)
        else:
            p = packet_uniqueify(p)
            if p != NULL:
                pkt_take(p, p.length - n)
        self.p = p
        if p == NULL:
            raise MemoryError("no packet buffers left")
        if n:
            memcpy(pkt_data(p), <const char *> b, n)

    def write(self, uint32_t offset, data):
        """Overwrite bytes starting at offset (the packet is made unique first)."""
        cdef bytes b = bytes(data)
        cdef Packet *p = self._live()
        if offset + len(b) > p.length:
            raise IndexError(f"write of {len(b)} bytes at offset {offset} past the packet end ({p.length})")
        p = packet_uniqueify(p)
        self.p = p
        if p == NULL:
            raise MemoryError("no packet buffers left")
        memcpy(pkt_data(p) + offset, <const char *> b, len(b))

    def __getitem__(self, index):
        return self.data[index]

    @property
    def headroom(self):
        return pkt_headroom(self._live())

    @property
    def tailroom(self):
        return pkt_tailroom(self._live())

    @property
    def shared(self):
        return packet_shared(self._live())

    def pull(self, uint32_t n):
        """Remove n bytes from the front."""
        pkt_pull(self._live(), n)

    def take(self, uint32_t n):
        """Remove n bytes from the end."""
        pkt_take(self._live(), n)

    def push(self, uint32_t n):
        """Add n (uninitialised) bytes at the front."""
        self.p = pkt_push(self._live(), n)
        if self.p == NULL:
            raise MemoryError("no packet buffers left")

    def put(self, uint32_t n):
        """Add n (uninitialised) bytes at the end."""
        self.p = pkt_put(self._live(), n)
        if self.p == NULL:
            raise MemoryError("no packet buffers left")

    def clone(self):
        cdef Packet *c = packet_clone(self._live())
        if c == NULL:
            raise MemoryError("no packet descriptors left")
        return PacketObject.wrap(c)

    def uniqueify(self):
        self.p = packet_uniqueify(self._live())
        if self.p == NULL:
            raise MemoryError("no packet buffers left")

    def kill(self):
        packet_kill(self._live())
        self.p = NULL

    # annotations

    @property
    def anno(self):
        """The 48-byte annotation area (a copy)."""
        return bytes(self._live().anno[:PACKET_ANNO_SIZE])

    def set_anno(self, int offset, data):
        cdef bytes b = bytes(data)
        if offset < 0 or offset + len(b) > PACKET_ANNO_SIZE:
            raise IndexError("annotation write outside the 48-byte area")
        memcpy(&self._live().anno[offset], <const char *> b, len(b))

    @property
    def paint(self):
        return self._live().anno[PAINT_ANNO_OFFSET]

    @paint.setter
    def paint(self, int value):
        self._live().anno[PAINT_ANNO_OFFSET] = value & 0xFF

    @property
    def dst_ip(self):
        """The destination IP annotation, as dotted quad."""
        return ".".join(str(b) for b in self._live().anno[DST_IP_ANNO_OFFSET : DST_IP_ANNO_OFFSET + 4])

    @dst_ip.setter
    def dst_ip(self, value):
        from clickpy.runtime.args import IPAddress, ip_packed

        self.set_anno(DST_IP_ANNO_OFFSET, ip_packed(IPAddress(value)))

    @property
    def timestamp(self):
        """Timestamp annotation in nanoseconds since the epoch (0 = unset)."""
        return self._live().timestamp

    @timestamp.setter
    def timestamp(self, int64_t ns):
        self._live().timestamp = ns

    @property
    def network_offset(self):
        """Offset of the network header from the data start, or None."""
        cdef Packet *p = self._live()
        return None if p.network < 0 else p.network - <int32_t> p.data

    def set_network_header(self, int offset, int length):
        """Mark the network header at offset (from the data start), length bytes long."""
        pkt_set_network_header(self._live(), offset, length)

    @property
    def transport_offset(self):
        cdef Packet *p = self._live()
        return None if p.transport < 0 else p.transport - <int32_t> p.data

    @property
    def mac_offset(self):
        cdef Packet *p = self._live()
        return None if p.mac < 0 else p.mac - <int32_t> p.data

    @property
    def packet_type(self):
        return self._live().packet_type

    @packet_type.setter
    def packet_type(self, int t):
        self._live().packet_type = t

    def __repr__(self):
        if self.p == NULL:
            return "<Packet (released)>"
        return f"<Packet {self.p.length} bytes>"


# --- sharing the small pool between processes (netmap_shim pipes) -------------
#
# Every process keeps its own free list and refcount table over the one
# shared region. A buffer index is, at any moment, held by exactly one
# process or sits in a slot of a shared ring; a process marks every buffer it
# does not hold BUFFER_FOREIGN, so it can check a buffer handed to it and so
# freeing a stale reference never puts a foreign buffer on its free list.

from posix.mman cimport MAP_FIXED
from posix.unistd cimport getpid

# The process whose free lists these are: after fork() the child has a copy of
# the parent's free lists over the same shared region and must not allocate
# from it until it separates (small_pool_separate, share_small_pool).
cdef int _owner_pid = getpid()


def small_pool_is_own():
    """False in a child forked from the process that owns this pool, until
    the child takes its own buffers (a pipe's attach does)."""
    return _owner_pid == getpid()


# Buffers lent out per domain. Swaps with a ring are one for one, so only
# export, import and reclaim change these.
cdef uint32_t _lent[MAX_DOMAIN + 1]


cdef inline void _count_lent(uint16_t mark, int64_t n) noexcept nogil:
    if is_domain_mark(mark):
        _lent[mark & MAX_DOMAIN] = <uint32_t> (<int64_t> _lent[mark & MAX_DOMAIN] + n)


cdef uint32_t small_pool_lent_count(uint16_t mark) noexcept nogil:
    """Buffers this process has lent out under a domain's mark (0 for other marks)."""
    return _lent[mark & MAX_DOMAIN] if is_domain_mark(mark) else 0


cdef uint32_t small_pool_export(uint32_t *out, uint32_t n, uint16_t mark) noexcept nogil:
    """Take up to n free buffers out of this process (for a shared ring or
    another process); they are marked foreign here with mark (BUFFER_FOREIGN,
    or a peer's BUFFER_DOMAIN | d). Returns how many."""
    cdef Pool *pool = _pools[0]
    cdef uint32_t k = 0
    while k < n and pool.nfree > 0:
        pool.nfree -= 1
        out[k] = pool.free_stack[pool.nfree]
        pool.refcount[out[k]] = mark
        k += 1
    _count_lent(mark, k)
    return k


cdef uint32_t small_pool_import(const uint32_t *bufs, uint32_t n, uint16_t mark) noexcept nogil:
    """Accept buffers handed over by a shared ring or another process as free
    buffers of this one. Only buffers marked foreign here with mark are taken
    (anything else is a duplicate, another peer's or a corrupt index, and is
    ignored). Returns how many."""
    cdef Pool *pool = _pools[0]
    cdef uint32_t i, b, k = 0
    for i in range(n):
        b = bufs[i]
        if b < pool.nbuffers and pool.refcount[b] == mark and pool.nfree < pool.nbuffers:
            _push_free(pool, b)
            k += 1
    _count_lent(mark, -<int64_t> k)
    return k


cdef uint32_t small_pool_reclaim(uint16_t mark) noexcept nogil:
    """Take back, as free buffers, every buffer marked mark: all that a peer
    held (its grant, its packets, its rings' slots) once it is gone. Returns
    how many. With a domain's mark, the search stops once all it had lent are back."""
    cdef Pool *pool = _pools[0]
    cdef uint32_t b, k = 0
    cdef bint counted = is_domain_mark(mark)
    for b in range(pool.nbuffers):
        if counted and k >= _lent[mark & MAX_DOMAIN]:
            break
        if pool.refcount[b] == mark and pool.nfree < pool.nbuffers:
            _push_free(pool, b)
            k += 1
    if counted:
        _lent[mark & MAX_DOMAIN] = 0
    return k


cdef uint32_t small_pool_separate(const uint32_t *bufs, uint32_t n) noexcept nogil:
    """In a child forked from the process that owns the pool: from now on this
    process holds exactly the given buffers (all free), and nothing else.

    Packets inherited from the parent keep working for reading: they move to
    a table of their own (_inherited) where each counts as shared, so writers
    copy first and freeing them never frees a buffer, nor changes a mark,
    here. Every buffer this process does not hold is marked BUFFER_FOREIGN,
    and nothing else: the parent may free such a packet and lend its buffer
    to this process later, which then must see it as any foreign buffer.
    Returns how many buffers this process now owns."""
    cdef Pool *pool = _pools[0]
    cdef uint32_t i, c, k, n_inherited = 0
    cdef Packet *d
    cdef unsigned char *live
    global _owner_pid
    _owner_pid = getpid()
    memset(_lent, 0, sizeof(_lent))
    for i in range(pool.nbuffers):
        # (read first: a guest forked from a zygote that holds no buffer finds
        # them all foreign, and writing would copy the table's pages)
        if pool.refcount[i] != BUFFER_FOREIGN:
            pool.refcount[i] = BUFFER_FOREIGN
    # Inherited live descriptors: every descriptor of every chunk that is not
    # on the free stack.
    live = <unsigned char *> malloc(<size_t> _nchunks * DESCRIPTOR_CHUNK + 1)
    if live != NULL:
        memset(live, 1, <size_t> _nchunks * DESCRIPTOR_CHUNK)
        for i in range(_nfree_desc):
            d = _free_desc[i]
            for c in range(_nchunks):
                if d >= _chunks[c] and d < _chunks[c] + DESCRIPTOR_CHUNK:
                    live[<size_t> c * DESCRIPTOR_CHUNK + <size_t> (d - _chunks[c])] = 0
                    break
        for c in range(_nchunks):
            for k in range(DESCRIPTOR_CHUNK):
                d = &_chunks[c][k]
                live[<size_t> c * DESCRIPTOR_CHUNK + k] &= d.pool == 0 and d.buf < pool.nbuffers
                n_inherited += live[<size_t> c * DESCRIPTOR_CHUNK + k]
        if _inherit(n_inherited):
            for c in range(_nchunks):
                for k in range(DESCRIPTOR_CHUNK):
                    if live[<size_t> c * DESCRIPTOR_CHUNK + k]:
                        d = &_chunks[c][k]
                        d.pool = 2
                        d.buf = _inherited.nbuffers
                        _inherited.refcount[d.buf] = 2   # its own reference, and the parent's
                        _inherited.nbuffers += 1
        else:
            # (no memory for the table: the references go on the buffers'
            # marks, which then say shared; such a buffer lent here later is refused)
            for c in range(_nchunks):
                for k in range(DESCRIPTOR_CHUNK):
                    if live[<size_t> c * DESCRIPTOR_CHUNK + k]:
                        pool.refcount[_chunks[c][k].buf] += 1
        free(live)
    pool.nfree = 0
    return small_pool_import(bufs, n, BUFFER_FOREIGN)


cdef bint _inherit(uint32_t n) noexcept nogil:
    """Make room in _inherited for n more inherited packets (the earlier
    ones stay: a child of a child inherits them again)."""
    cdef uint32_t total = _inherited.nbuffers + n
    cdef uint16_t *refs = <uint16_t *> realloc(_inherited.refcount, max(total, 1) * sizeof(uint16_t))
    if refs == NULL:
        return False
    _inherited.refcount = refs
    # (an entry reaches 0 only if a packet is freed more often than it is held:
    # the free list has room for every entry all the same)
    cdef uint32_t *stack = <uint32_t *> realloc(_inherited.free_stack, max(total, 1) * sizeof(uint32_t))
    if stack == NULL:
        return False
    _inherited.free_stack = stack
    return True


def small_pool_mark(uint32_t buf):
    """The small pool's table entry for buffer buf in this process: 0 free,
    1.. references held here, BUFFER_FOREIGN or a domain's mark when another
    process holds it. For tests."""
    if buf >= _pools[0].nbuffers:
        raise IndexError(f"buffer {buf}: the small pool has {_pools[0].nbuffers}")
    return _pools[0].refcount[buf]


def disown_small_pool():
    """In a child forked from the process that owns the pool: hold no buffer
    of it at all (a guests' zygote), so that nothing here can hand out a
    buffer the owner uses; making a packet fails until a pipe's grant comes."""
    small_pool_separate(NULL, 0)


def share_small_pool(int fd):
    """Map this process's small-buffer region onto another process's (fd: the
    memfd of that process's small pool, received over a Unix socket).

    Only a process that holds no small buffers yet may do this (its buffers
    would change under it). Returns False when fd already is this process's
    region (a forked child), True after remapping. The process owns no
    buffer of the shared region afterwards: give it some with
    ``small_pool_import`` (pipes do, from their grant)."""
    cdef Pool *pool = _pools[0]
    st = os.fstat(fd)
    if _small.fd >= 0:
        mine = os.fstat(_small.fd)
        if (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
            return False
    if pool.nfree != pool.nbuffers:
        raise PoolError(f"cannot share another buffer region: {pool.nbuffers - pool.nfree} "
                        "small buffers are in use in this process (share before making packets)")
    if <size_t> st.st_size < _small.region_size:
        raise PoolError(f"buffer region of {st.st_size} bytes is smaller than this pool's {_small.region_size}")
    cdef int newfd = os.dup(fd)
    cdef void *region = mmap(pool.base, _small.region_size, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_FIXED | MAP_NORESERVE, newfd, 0)
    if region == MAP_FAILED:
        close(newfd)
        raise PoolError("cannot map the shared buffer region")
    if _small.fd >= 0:
        close(_small.fd)
    _small.fd = newfd
    cdef uint32_t i
    for i in range(pool.nbuffers):
        pool.refcount[i] = BUFFER_FOREIGN
    pool.nfree = 0
    global _owner_pid
    _owner_pid = getpid()
    return True


def privatize_large_pool():
    """In a forked child: move the large-buffer region to a private memfd
    (copying the buffers in use), so the child's large packets no longer
    alias the parent's. The small pool stays shared (see small_pool_separate)."""
    cdef Pool *pool = _pools[1]
    cdef size_t size = _large.region_size
    cdef int fd = os.memfd_create("clickpy-buffers", 0)
    if ftruncate(fd, size) != 0:
        close(fd)
        raise PoolError(f"cannot size a {size}-byte buffer region")
    cdef unsigned char *tmp = <unsigned char *> mmap(NULL, size, PROT_READ | PROT_WRITE,
                                                     MAP_SHARED | MAP_NORESERVE, fd, 0)
    if <void *> tmp == MAP_FAILED:
        close(fd)
        raise PoolError("cannot map a private large-buffer region")
    cdef uint32_t i
    for i in range(pool.nbuffers):
        if pool.refcount[i] != 0:
            memcpy(tmp + <size_t> i * pool.buffer_size, pool.base + <size_t> i * pool.buffer_size,
                   pool.buffer_size)
    munmap(tmp, size)
    if mmap(pool.base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
            fd, 0) == MAP_FAILED:
        close(fd)
        raise PoolError("cannot remap the large-buffer region")
    if _large.fd >= 0:
        close(_large.fd)
    _large.fd = fd


def small_pool_census():
    """(free, held, foreign) buffer counts of the small pool in this process:
    free on the free list, held in packets or private rings, foreign (in
    shared rings or other processes, under any mark). For tests that look for leaks."""
    cdef Pool *pool = _pools[0]
    cdef uint32_t i, foreign = 0
    for i in range(pool.nbuffers):
        if pool.refcount[i] == BUFFER_FOREIGN or is_domain_mark(pool.refcount[i]):
            foreign += 1
    return pool.nfree, pool.nbuffers - pool.nfree - foreign, foreign


def small_pool_lent(int domain=0):
    """Buffers of the small pool this process has lent out under a mark: to
    the peer of domain (1..MAX_DOMAIN), or, with 0, under the plain foreign mark."""
    if domain < 0 or domain > MAX_DOMAIN:
        raise ValueError(f"domain must be 0..{MAX_DOMAIN}")
    cdef uint16_t mark = domain_mark(domain)
    cdef Pool *pool = _pools[0]
    cdef uint32_t i, n = 0
    for i in range(pool.nbuffers):
        if pool.refcount[i] == mark:
            n += 1
    return n
