# cython: language_level=3
"""Rings, ports and port names (see ring.pxd for the ring rules)."""
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from clickpy.runtime.packet cimport (DEFAULT_HEADROOM, Packet, PacketObject, Pool, buffer_alloc, buffer_free,
                                     packet_kill, packet_make, pkt_data, small_pool_state)


cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    int poll(pollfd *fds, unsigned long nfds, int timeout)
    enum:
        POLLIN
        POLLOUT

# Backends register here: port names are "KIND:REST" ("afpacket:eth0",
# "pipe:name{0"); a bare interface name means the fastest backend available.
_BACKENDS = {}
# The order in which backends are tried for a bare device name.
DEVICE_PREFERENCE = ["afxdp", "afpacket"]


class PortError(OSError):
    """A port cannot be opened or used; the message says why, for the user."""


def _sync_failed(port, str what):
    """The PortError for a failed rxsync/txsync: the port's own reason if it has one."""
    reason = None
    try:
        reason = port.error_state()
    except Exception:
        pass
    return PortError(f"{port.name}: {what} failed" + (f": {reason}" if reason else ""))


def register_backend(kind: str, opener) -> None:
    """opener(rest_of_name, **options) -> Port; raises PortError."""
    _BACKENDS[kind] = opener


def backends():
    return dict(_BACKENDS)


def open_port(name: str, **options):
    """Open a port by netmap-style name.

    ``afxdp:veth0``, ``afpacket:eth1``, ``tap:clk0``, ``pipe:name{0`` (master
    end) / ``pipe:name}0`` (slave end), ``pcap:in.pcap`` ... A name without a
    ``KIND:`` is a network device, opened with the first backend that works
    (``DEVICE_PREFERENCE``); the errors of every backend tried are reported.
    Options go after a ``?`` in the name (``pcap:out.pcap?w&snaplen=96``, see
    ``split_port_options``) or as keyword arguments.
    """
    import importlib

    importlib.import_module("clickpy.netmap_shim.backends")
    kind, sep, rest = name.partition(":")
    if sep and kind in _BACKENDS:
        return _BACKENDS[kind](rest, **options)
    if sep:
        raise PortError(f"{name}: unknown port kind '{kind}' (known: {', '.join(sorted(_BACKENDS))})")
    errors = []
    for kind in DEVICE_PREFERENCE:
        if kind not in _BACKENDS:
            continue
        try:
            return _BACKENDS[kind](name, **options)
        except PortError as e:
            errors.append(f"{kind}: {e}")
    raise PortError(f"{name}: no backend could open it ({'; '.join(errors) or 'no device backends'})")


_TRUE = {"1", "true", "yes", "on", ""}
_FALSE = {"0", "false", "no", "off"}


def split_port_options(str full_name, str rest, dict options, dict known):
    """Split a port name's ``BASE?opt=value&flag`` and merge keyword options.

    The options start after the last ``?``; they are ``&``-separated (a
    comma would end the argument in a Click configuration). ``known`` maps
    each option to ``int``, ``bool`` or ``str``; a bool option may be given
    bare (``?w``). Keyword options win over the name's. Returns (BASE,
    {option: value}); raises PortError naming full_name for an unknown
    option or a bad value.
    """
    base, sep, text = rest.rpartition("?")
    if not sep:
        base, text = rest, ""
    given = {}
    for item in text.split("&") if text else ():
        key, eq, value = item.partition("=")
        given[key.strip()] = value.strip() if eq else None
    given.update(options)
    out = {}
    for key, value in given.items():
        kind = known.get(key)
        if kind is None:
            raise PortError(f"{full_name}: unknown option '{key}' (known: {', '.join(sorted(known)) or 'none'})")
        if kind is bool:
            if value is None or value is True or value is False:
                out[key] = True if value is None else value
            elif isinstance(value, int):
                out[key] = bool(value)
            elif str(value).lower() in _TRUE:
                out[key] = True
            elif str(value).lower() in _FALSE:
                out[key] = False
            else:
                raise PortError(f"{full_name}: option '{key}' takes a boolean, not '{value}'")
        elif kind is int:
            try:
                out[key] = value if isinstance(value, int) and not isinstance(value, bool) else int(str(value), 0)
            except ValueError:
                raise PortError(f"{full_name}: option '{key}' takes an integer, not '{value}'") from None
        else:
            if value is None:
                raise PortError(f"{full_name}: option '{key}' needs a value ({key}=...)")
            out[key] = str(value)
    return base, out


cdef RingHeader *ring_alloc(uint32_t num_slots, bint fill_buffers) noexcept:
    """A private ring; with fill_buffers every slot gets a pool buffer. NULL on failure."""
    return ring_alloc_flags(num_slots, fill_buffers, 0)


cdef RingHeader *ring_alloc_flags(uint32_t num_slots, bint fill_buffers, uint32_t flags) noexcept:
    cdef size_t size = sizeof(RingHeader) + num_slots * sizeof(Slot)
    if flags & NR_TIMESTAMPS:
        size += num_slots * sizeof(int64_t)
    cdef RingHeader *r = <RingHeader *> calloc(1, size)
    cdef uint32_t i
    cdef long long b
    if r == NULL or num_slots == 0:
        free(r)
        return NULL
    r.num_slots = num_slots
    r.flags = flags
    r.buf_size = small_pool_state().buffer_size
    if fill_buffers:
        for i in range(num_slots):
            b = buffer_alloc()
            if b < 0:
                while i > 0:  # give back the ones already taken
                    i -= 1
                    buffer_free(ring_slot(r, i).buf_idx)
                free(r)
                return NULL
            ring_slot(r, i).buf_idx = <uint32_t> b
    return r


cdef void ring_free(RingHeader *r, bint free_buffers) noexcept:
    cdef uint32_t i
    if r == NULL:
        return
    if free_buffers:
        for i in range(r.num_slots):
            buffer_free(ring_slot(r, i).buf_idx)
    free(r)


def _detach_rings(Port port):
    """Make a closing port's Ring objects unusable (they raise, never touch freed memory)."""
    for ring in port.rx_rings + port.tx_rings:
        (<Ring> ring).hdr = NULL


cdef Ring make_ring(RingHeader *hdr, object port, bint is_tx, int index):
    cdef Ring ring = Ring.__new__(Ring)
    ring.hdr = hdr
    ring.port = port
    ring.is_tx = is_tx
    ring.index = index
    return ring


cdef Slot *_slot_checked(RingHeader *r, uint32_t i) except NULL:
    if r == NULL:
        raise ValueError("ring is closed")
    cdef Slot *s = ring_slot(r, i % r.num_slots)
    if s.buf_idx >= small_pool_state().nbuffers:
        raise ValueError(f"slot {i} names buffer {s.buf_idx}, outside the pool")
    return s


cdef RingHeader *_hdr(Ring ring) except NULL:
    if ring.hdr == NULL:
        raise ValueError("the ring's port is closed")
    return ring.hdr


cdef class Ring:
    """A ring seen from Python (tests and tools): its indices, its slots."""

    def __cinit__(self):
        self.hdr = NULL

    @property
    def num_slots(self):
        return _hdr(self).num_slots

    @property
    def head(self):
        return _hdr(self).head

    @head.setter
    def head(self, uint32_t v):
        cdef RingHeader *r = _hdr(self)
        r.head = v % r.num_slots

    @property
    def cur(self):
        return _hdr(self).cur

    @cur.setter
    def cur(self, uint32_t v):
        cdef RingHeader *r = _hdr(self)
        r.cur = v % r.num_slots

    @property
    def tail(self):
        return _hdr(self).tail

    @property
    def space(self):
        return ring_space(_hdr(self))

    @property
    def drops(self):
        return _hdr(self).drops

    @property
    def flags(self):
        """NR_* flags: 0x2 per-slot timestamps, 0x1000 buffers shared between processes."""
        return _hdr(self).flags

    @property
    def buf_size(self):
        return _hdr(self).buf_size

    @property
    def has_timestamps(self):
        return bool(_hdr(self).flags & NR_TIMESTAMPS)

    def slot(self, uint32_t i):
        """(buf_idx, len, offset, flags) of slot i."""
        cdef RingHeader *r = _hdr(self)
        cdef Slot *s = ring_slot(r, i % r.num_slots)
        return s.buf_idx, s.len, s.offset, s.flags

    def set_slot(self, uint32_t i, buf_idx=None, length=None, offset=None, flags=None):
        """Change slot i's fields (tools and tests; no checks: the data path checks)."""
        cdef RingHeader *r = _hdr(self)
        cdef Slot *s = ring_slot(r, i % r.num_slots)
        if buf_idx is not None:
            s.buf_idx = buf_idx
        if length is not None:
            s.len = length
        if offset is not None:
            s.offset = offset
        if flags is not None:
            s.flags = flags

    def slot_ptr(self, uint32_t i):
        """The backend-private word of slot i (pcap receive: the frame's length on the wire)."""
        cdef RingHeader *r = _hdr(self)
        return ring_slot(r, i % r.num_slots).ptr

    def timestamp(self, uint32_t i):
        """Slot i's timestamp in ns since the epoch (0 = none), or None without timestamps."""
        cdef RingHeader *r = _hdr(self)
        cdef int64_t *ts = ring_timestamps(r)
        return None if ts == NULL else ts[i % r.num_slots]

    def set_timestamp(self, uint32_t i, int64_t ns):
        cdef RingHeader *r = _hdr(self)
        cdef int64_t *ts = ring_timestamps(r)
        if ts == NULL:
            raise ValueError("this ring has no timestamps")
        ts[i % r.num_slots] = ns

    def take_packet(self, uint32_t i, bint zero_copy=True):
        """ring_take_packet from Python: slot i's frame as a PacketObject, or
        None (no memory, or a bad slot). head does not move."""
        cdef RingHeader *r = _hdr(self)
        cdef Packet *p = ring_take_packet(r, i % r.num_slots, zero_copy)
        return None if p == NULL else PacketObject.wrap(p)

    def put_packet(self, uint32_t i, PacketObject packet, bint zero_copy=True):
        """ring_put_packet from Python: packet into slot i. True: the packet
        was consumed (the object is spent); False: it was not (too long, or
        a bad slot). head does not move."""
        cdef RingHeader *r = _hdr(self)
        cdef Packet *p = packet._live()
        if ring_put_packet(r, i % r.num_slots, p, zero_copy) != 0:
            return False
        packet.release()
        return True

    def read(self, uint32_t i):
        """The bytes held by slot i (a copy; for tests and tools)."""
        cdef Slot *s = _slot_checked(_hdr(self), i)
        if <uint64_t> s.offset + s.len > self.hdr.buf_size:
            raise ValueError(f"slot {i} holds {s.len} bytes at offset {s.offset}, past its buffer")
        cdef unsigned char *base = small_pool_state().base
        cdef size_t start = <size_t> s.buf_idx * self.hdr.buf_size + s.offset
        return (<char *> base)[start:start + s.len]

    def write(self, uint32_t i, data, uint32_t offset=0):
        """Put bytes into slot i's buffer (tests and tools)."""
        cdef bytes b = bytes(data)
        cdef Slot *s = _slot_checked(_hdr(self), i)
        if offset + len(b) > self.hdr.buf_size:
            raise ValueError(f"{len(b)} bytes do not fit a {self.hdr.buf_size}-byte buffer")
        cdef unsigned char *dst = small_pool_state().base + <size_t> s.buf_idx * self.hdr.buf_size + offset
        cdef const unsigned char *src = b
        memcpy(dst, src, len(b))
        s.len = len(b)
        s.offset = offset


cdef class Port:
    def __cinit__(self, *args, **kwargs):
        self.name = ""
        self.rx_rings = []
        self.tx_rings = []
        self.fd = -1
        self.closed = False

    cdef int rxsync(self, int ring) noexcept:
        return 0

    cdef int txsync(self, int ring) noexcept:
        return 0

    def rx_sync(self, int ring=0):
        """Python entry to rxsync (tools and tests): what rxsync returns,
        -1 on error (error_state() says why)."""
        return self.rxsync(ring)

    def tx_sync(self, int ring=0):
        """Python entry to txsync: what txsync returns, -1 on error."""
        return self.txsync(ring)

    def error_state(self):
        """None while the port works; otherwise why it does not (why the
        last sync failed), in words, without the port's name. Backends
        say more than this default."""
        return "port closed" if self.closed else None

    def stats(self):
        """The backend's counters by name (rx_drops, tx_errors, ...); those a
        backend does not keep are absent."""
        return {}

    # --- conveniences for tests and tools (copying; not the data path) ------

    def send(self, frames, int ring=0):
        """Copy frames (bytes-like) into the transmit ring, as many as fit,
        then txsync. Returns how many were queued. A frame longer than a
        buffer raises ValueError (nothing after it is queued)."""
        if self.closed:
            raise PortError(f"{self.name}: port is closed")
        cdef RingHeader *r = (<Ring> self.tx_rings[ring]).hdr
        cdef Pool *pool = small_pool_state()
        cdef Slot *s
        cdef const unsigned char[:] view
        cdef uint32_t n, off
        cdef int sent = 0
        for f in frames:
            data = bytes(f)
            n = len(data)
            if n > r.buf_size:
                r.cur = r.head
                self.txsync(ring)
                raise ValueError(f"a {n}-byte frame does not fit a {r.buf_size}-byte buffer")
            if r.head == r.tail:
                r.cur = r.head
                if self.txsync(ring) < 0:
                    raise _sync_failed(self, "txsync")
                if r.head == r.tail:
                    break
            s = ring_slot(r, r.head)
            if not ring_slot_buffer_ok(r, s, pool):
                raise PortError(f"{self.name}: transmit slot {r.head} names a buffer this process may not use")
            off = DEFAULT_HEADROOM if n + DEFAULT_HEADROOM <= r.buf_size else 0
            if n:
                view = data
                memcpy(pool.base + <size_t> s.buf_idx * pool.buffer_size + off, &view[0], n)
            s.offset = off
            s.len = n
            s.flags = 0
            r.head = ring_next(r, r.head)
            sent += 1
        r.cur = r.head
        if self.txsync(ring) < 0:
            raise _sync_failed(self, "txsync")
        return sent

    def recv(self, max=None, int ring=0, bint timestamps=False):
        """rxsync, then copy out the frames now in the receive ring (up to
        max) and release their slots. Returns a list of bytes, or of (bytes,
        timestamp ns) with timestamps=True. Bad slots are skipped."""
        if self.closed:
            raise PortError(f"{self.name}: port is closed")
        cdef RingHeader *r = (<Ring> self.rx_rings[ring]).hdr
        cdef Pool *pool = small_pool_state()
        cdef Slot *s
        cdef int64_t *ts
        cdef size_t start
        cdef long limit = -1 if max is None else max
        out = []
        if self.rxsync(ring) < 0:
            raise _sync_failed(self, "rxsync")
        ts = ring_timestamps(r)
        while r.head != r.tail and (limit < 0 or len(out) < limit):
            s = ring_slot(r, r.head)
            if s.buf_idx < pool.nbuffers and <uint64_t> s.offset + s.len <= r.buf_size:
                start = <size_t> s.buf_idx * pool.buffer_size + s.offset
                frame = (<char *> pool.base)[start:start + s.len]
                out.append((frame, ts[r.head] if ts != NULL else 0) if timestamps else frame)
            r.head = ring_next(r, r.head)
        r.cur = r.head
        self.rxsync(ring)  # hand the slots back now
        return out

    def wait(self, timeout=None, bint write=False):
        """Poll fd until readable (or writable with write=True); True if ready.
        A port without a descriptor is always ready."""
        import select

        if self.fd < 0:
            return True
        p = select.poll()
        p.register(self.fd, select.POLLOUT if write else select.POLLIN)
        return bool(p.poll(None if timeout is None else int(timeout * 1000)))

    def _close(self):
        """Release what the port holds: backends override this (close() and
        their __dealloc__ call it; it must be safe to call twice)."""

    def close(self):
        self._close()
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<{type(self).__name__} {self.name} rx={len(self.rx_rings)} tx={len(self.tx_rings)}>"


# --- packet pumps: traffic generator and sink for tests and benchmarks ----------

cdef enum:
    PUMP_SLOTS = 0          # index passing only: slots keep their buffers, no packets
    PUMP_ZEROCOPY = 1       # packets; buffers swapped with slots
    PUMP_COPY = 2           # packets; bytes copied into and out of slot buffers
    STAMP_OFFSET = 14       # a frame's sequence number sits after an Ethernet header

_PUMP_MODES = {"slots": PUMP_SLOTS, "zerocopy": PUMP_ZEROCOPY, "copy": PUMP_COPY}


cdef inline int64_t _now_ns() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return <int64_t> t.tv_sec * 1000000000 + t.tv_nsec


cdef inline void _stamp(unsigned char *data, uint64_t seq) noexcept nogil:
    cdef int k
    for k in range(12):
        data[k] = 0x02 if k == 0 or k == 6 else k
    data[12] = 0x88
    data[13] = 0xb5            # local experimental EtherType
    memcpy(data + STAMP_OFFSET, &seq, 8)


cdef bint _wait_fd(int fd, short events, int timeout_ms):
    """Sleep until fd is ready or timeout_ms passed; False on timeout."""
    cdef pollfd p
    if fd < 0:
        return True
    p.fd = fd
    p.events = events
    p.revents = 0
    with nogil:
        poll(&p, 1, timeout_ms)
    return p.revents != 0


def pump_tx(Port port, uint64_t count, uint32_t length=60, str mode="zerocopy", int ring=0,
            int batch=32, double timeout=5.0, long spin=20000, bint stamp=True):
    """Send count frames of length bytes on a transmit ring, as fast as it takes them.

    mode: "slots" (index passing: only the slot's length is set, its buffer
    reused), "zerocopy" (a packet per frame, handed over by buffer swap) or
    "copy" (a packet per frame, copied into the slot). stamp: frame k carries
    k (8 bytes, little endian) at offset 14, after an Ethernet header, so
    pump_rx(verify=True) can check order. batch: slots filled per txsync.
    spin: syncs tried before sleeping in poll. Stops when no slot frees up
    for timeout seconds, or when txsync fails. Returns {"sent", "ns",
    "sleeps", "timeouts", "error" (None, or why txsync failed: the peer is
    gone, ...)}.
    """
    if mode not in _PUMP_MODES:
        raise ValueError(f"mode must be one of {', '.join(_PUMP_MODES)}")
    cdef int m = _PUMP_MODES[mode]
    cdef RingHeader *r = (<Ring> port.tx_rings[ring]).hdr
    cdef Pool *pool = small_pool_state()
    if length > r.buf_size - DEFAULT_HEADROOM or (stamp and length < STAMP_OFFSET + 8):
        raise ValueError(f"length must be {STAMP_OFFSET + 8 if stamp else 0}..{r.buf_size - DEFAULT_HEADROOM}")
    if batch < 1:
        raise ValueError("batch must be at least 1")
    cdef uint64_t sent = 0, sleeps = 0, timeouts = 0
    cdef uint32_t n, k, space
    cdef long idle = 0
    cdef Slot *s
    cdef Packet *p
    cdef int64_t start = _now_ns(), last = start
    cdef int64_t limit = <int64_t> (timeout * 1e9)
    nm_prefetchw_supported()
    error = None
    while sent < count:
        space = ring_space(r)
        if space == 0:
            if port.txsync(ring) < 0:
                error = str(_sync_failed(port, "txsync"))
                break
            if ring_space(r) == 0:
                idle += 1
                if idle > spin:
                    sleeps += 1
                    if not _wait_fd(port.fd, POLLOUT, 50):
                        timeouts += 1
                    if _now_ns() - last > limit:
                        break
                continue
            space = ring_space(r)
        if idle > spin:
            last = _now_ns()
        idle = 0
        n = space
        if n > <uint32_t> batch:
            n = batch
        if n > count - sent:
            n = <uint32_t> (count - sent)
        for k in range(n):
            s = ring_slot(r, r.head)
            # The buffer written a few frames from now (the slot's own, or in
            # zerocopy mode the one its swap frees), last read by the receiver.
            if stamp and ring_dist(r, r.head, r.tail) > PREFETCH_AHEAD:
                nm_prefetchw(pool.base + <size_t> ring_slot(r, (r.head + PREFETCH_AHEAD) % r.num_slots).buf_idx
                             * pool.buffer_size + DEFAULT_HEADROOM)
            if m == PUMP_SLOTS:
                if not ring_slot_buffer_ok(r, s, pool):
                    raise PortError(f"{port.name}: transmit slot {r.head} names a buffer this process may not use")
                s.offset = DEFAULT_HEADROOM
                s.len = length
                if stamp:
                    _stamp(pool.base + <size_t> s.buf_idx * pool.buffer_size + DEFAULT_HEADROOM, sent)
            else:
                p = packet_make(DEFAULT_HEADROOM, NULL, length, 0)
                if p == NULL:
                    raise MemoryError("no packet buffers left")
                if stamp:
                    _stamp(pkt_data(p), sent)
                if ring_put_packet(r, r.head, p, m == PUMP_ZEROCOPY) != 0:
                    packet_kill(p)
                    raise PortError(f"{port.name}: transmit slot {r.head} names a buffer this process may not use")
            r.head = ring_next(r, r.head)
            sent += 1
        r.cur = r.head
        if port.txsync(ring) < 0:
            error = str(_sync_failed(port, "txsync"))
            break
    return {"sent": sent, "ns": _now_ns() - start, "sleeps": sleeps, "timeouts": timeouts, "error": error}


def pump_rx(Port port, uint64_t count, str mode="zerocopy", int ring=0, int batch=32,
            double timeout=5.0, long spin=20000, bint verify=False, uint64_t first=0):
    """Receive up to count frames from a receive ring and drop them.

    mode as for pump_tx ("slots": slots are only released; "zerocopy" and
    "copy": a packet is made of each frame, then freed). verify: check the
    sequence numbers pump_tx stamps, starting at first. Stops when nothing
    arrives for timeout seconds, or when rxsync fails with nothing left to
    read (a pipe whose peer is gone). Returns {"received", "ns" (first frame
    to last), "bytes", "drops" (frames no packet could be made of), "errors"
    (sequence numbers out of order), "last" (the last sequence number seen),
    "sleeps", "timeouts", "error" (None, or why rxsync failed)}.
    """
    if mode not in _PUMP_MODES:
        raise ValueError(f"mode must be one of {', '.join(_PUMP_MODES)}")
    cdef int m = _PUMP_MODES[mode]
    cdef RingHeader *r = (<Ring> port.rx_rings[ring]).hdr
    cdef Pool *pool = small_pool_state()
    if batch < 1:
        raise ValueError("batch must be at least 1")
    cdef uint64_t received = 0, nbytes = 0, drops = 0, errors = 0, expect = first, seq = 0
    cdef uint64_t sleeps = 0, timeouts = 0
    cdef uint32_t k, n
    cdef long idle = 0
    cdef Slot *s
    cdef Packet *p
    cdef const unsigned char *data
    cdef bint have_data
    cdef int64_t start = 0, end = 0, last = _now_ns()
    cdef int64_t limit = <int64_t> (timeout * 1e9)
    error = None
    while received < count:
        if r.head == r.tail:
            if port.rxsync(ring) < 0:
                error = str(_sync_failed(port, "rxsync"))
                break
            if r.head == r.tail:
                idle += 1
                if idle > spin:
                    sleeps += 1
                    if not _wait_fd(port.fd, POLLIN, 50):
                        timeouts += 1
                    if _now_ns() - last > limit:
                        break
                continue
        if idle > spin or start == 0:
            last = _now_ns()
            if start == 0:
                start = last
        idle = 0
        n = ring_space(r)
        if n > <uint32_t> batch:
            n = batch
        if n > count - received:
            n = <uint32_t> (count - received)
        for k in range(n):
            s = ring_slot(r, r.head)
            have_data = False
            data = NULL
            p = NULL
            if m == PUMP_SLOTS:
                if verify:
                    ring_prefetch(r, r.head, pool)
                if s.buf_idx < pool.nbuffers and <uint64_t> s.offset + s.len <= r.buf_size:
                    data = pool.base + <size_t> s.buf_idx * pool.buffer_size + s.offset
                    have_data = True
                    nbytes += s.len
                else:
                    drops += 1
            else:
                ring_prefetch(r, r.head, pool)
                p = ring_take_packet(r, r.head, m == PUMP_ZEROCOPY)
                if p == NULL:
                    drops += 1
                else:
                    data = pkt_data(p)
                    have_data = True
                    nbytes += p.length
            if verify and have_data:
                if (p.length if p != NULL else s.len) >= STAMP_OFFSET + 8:
                    memcpy(&seq, data + STAMP_OFFSET, 8)
                    if seq != expect:
                        errors += 1
                    expect = seq + 1
                else:
                    errors += 1
            if p != NULL:
                packet_kill(p)
            r.head = ring_next(r, r.head)
            received += 1
        r.cur = r.head
        end = _now_ns()
        if port.rxsync(ring) < 0 and r.head == r.tail:   # hand the slots back, see what came
            error = str(_sync_failed(port, "rxsync"))
            break
    port.rxsync(ring)
    return {"received": received, "ns": end - start, "bytes": nbytes, "drops": drops,
            "errors": errors, "last": expect - 1 if expect > first else None,
            "sleeps": sleeps, "timeouts": timeouts, "error": error}
