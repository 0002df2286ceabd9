# cython: language_level=3
"""The pcap backend: a capture file as a port, for tests and replay.

``pcap:FILE`` reads: one receive ring, filled from the file by rxsync, with
a timestamp per slot (the capture time) and the frame's length on the wire
in the slot's ``ptr``. Classic pcap (microsecond or nanosecond, either byte
order, and the "modified" variant) and pcapng (enhanced, simple and
obsolete packet blocks, any number of sections and interfaces) are read.
``pcap:FILE?w`` writes: one transmit ring whose slots txsync appends to a
classic pcap file. Options (after ``?``, ``&``-separated, or keyword
arguments to open_port):

- reading: ``loop=N`` (play the file N times; 0 = forever; default 1),
  ``timing`` (release frames at their recorded pace), ``slots=N``;
- writing: ``w`` (or ``mode=w``), ``snaplen=N`` (default 65535),
  ``linktype=N`` (default 1, Ethernet), ``ns`` (nanosecond timestamps),
  ``slots=N``.
"""
import os

from libc.errno cimport errno
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdio cimport FILE, fclose, fflush, fopen, fwrite, setvbuf, _IOFBF
from libc.string cimport memcpy, strerror
from posix.mman cimport MAP_FAILED, MAP_PRIVATE, PROT_READ, mmap, munmap
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME, clock_gettime, timespec
from posix.unistd cimport close, read

from clickpy.netmap_shim.ring cimport (NR_TIMESTAMPS, Port, RingHeader, Slot, make_ring, ring_alloc_flags,
                                       ring_dist, ring_free, ring_next, ring_slot, ring_space,
                                       ring_timestamps)
from clickpy.runtime.packet cimport DEFAULT_HEADROOM, Pool, small_pool_state

from clickpy.netmap_shim.ring import PortError, _detach_rings, register_backend, split_port_options


cdef extern from "<sys/timerfd.h>" nogil:
    struct itimerspec:
        timespec it_interval
        timespec it_value
    int timerfd_create(int clockid, int flags)
    int timerfd_settime(int fd, int flags, const itimerspec *new_value, itimerspec *old_value)
    enum:
        TFD_NONBLOCK
        TFD_CLOEXEC
        TFD_TIMER_ABSTIME

DEFAULT_SLOTS = 256
MAX_SLOTS = 1 << 16
# A record longer than this is taken as corruption, not a frame.
cdef enum:
    MAX_RECORD = 1 << 18
    MAX_INTERFACES = 256
    FMT_PCAP = 1
    FMT_PCAPNG = 2
    # Why reading stopped before the end of the file (PcapPort.error_state).
    BAD_NONE = 0
    BAD_RECORD_HEADER = 1     # fewer bytes left than a record header
    BAD_CAPLEN = 2            # a captured length larger than MAX_RECORD
    BAD_RECORD_DATA = 3       # a record's data runs past the end of the file
    BAD_BLOCK = 4             # a pcapng block whose length is impossible
    BAD_PACKET_BLOCK = 5      # a pcapng packet block too short for its fields
    BAD_SECTION = 6           # a pcapng section header that cannot be read

cdef uint32_t MAGIC_US = 0xa1b2c3d4
cdef uint32_t MAGIC_NS = 0xa1b23c4d
cdef uint32_t MAGIC_MODIFIED = 0xa1b2cd34
cdef uint32_t NG_SHB = 0x0A0D0D0A
cdef uint32_t NG_BOM = 0x1A2B3C4D


cdef inline uint32_t _bswap32(uint32_t v) noexcept nogil:
    return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24)


cdef inline uint16_t _bswap16(uint16_t v) noexcept nogil:
    return <uint16_t> (((v & 0xff) << 8) | (v >> 8))


cdef inline uint32_t _u32(const unsigned char *p, bint swap) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return _bswap32(v) if swap else v


cdef inline uint16_t _u16(const unsigned char *p, bint swap) noexcept nogil:
    cdef uint16_t v
    memcpy(&v, p, 2)
    return _bswap16(v) if swap else v


cdef inline int64_t _now(int clock) noexcept nogil:
    cdef timespec t
    clock_gettime(clock, &t)
    return <int64_t> t.tv_sec * 1000000000 + t.tv_nsec


cdef int64_t _ng_to_ns(uint64_t t, uint8_t res, int64_t offset_s) noexcept nogil:
    """A pcapng timestamp in units of its interface's if_tsresol, as ns."""
    cdef int e = res & 0x7f
    cdef int64_t ns
    cdef uint64_t p10 = 1
    cdef int k
    if res & 0x80:
        if e >= 64:
            ns = 0
        else:
            ns = <int64_t> (t >> e) * 1000000000 + <int64_t> (<double> (t & ((<uint64_t> 1 << e) - 1)) * 1e9 / (<double> (<uint64_t> 1 << e)))
    elif e <= 9:
        for k in range(9 - e):
            p10 *= 10
        ns = <int64_t> (t * p10)
    else:
        for k in range(e - 9):
            p10 *= 10
            if p10 > t:
                break
        ns = <int64_t> (t // p10)
    return ns + offset_s * 1000000000


cdef class PcapPort(Port):
    """A pcap file read through a receive ring, or written through a transmit ring."""
    cdef readonly str path
    cdef readonly bint writing
    cdef readonly uint32_t linktype
    cdef readonly uint32_t snaplen
    cdef readonly bint nanosecond
    cdef readonly str format                # "pcap", "pcap-modified" or "pcapng"
    cdef readonly uint64_t frames           # frames read into the ring / written
    cdef readonly uint64_t oversize         # frames dropped: longer than a buffer
    cdef readonly uint64_t bad_records      # a corrupt or truncated record ended the file
    cdef readonly uint64_t loops_done
    cdef readonly bint eof
    cdef readonly int last_errno
    cdef RingHeader *ring
    # reading
    cdef const unsigned char *data
    cdef size_t size
    cdef size_t pos
    cdef size_t start_pos                   # where records start (after the file header)
    cdef int fmt
    cdef bint swap
    cdef uint32_t rec_extra                 # extra record-header bytes (modified pcap)
    cdef long loop                          # passes wanted (0 = forever)
    cdef bint timing
    cdef int64_t t0_file                    # timing: the first frame's time, and when it was released
    cdef int64_t t0_clock
    cdef bint armed_future                  # timing: the timer is set for a frame not due yet
    cdef uint32_t rx_head                   # head at the last rxsync
    cdef int nifaces
    cdef uint8_t ifres[256]                 # pcapng: if_tsresol per interface
    cdef int64_t ifoff[256]                 # pcapng: if_tsoffset per interface (seconds)
    cdef uint32_t ifsnap[256]
    cdef uint64_t pass_records              # records read in this pass over the file
    cdef int bad_code                       # BAD_*: why reading stopped early
    cdef uint64_t bad_pos                   # the offset of the record or block at fault
    cdef uint64_t bad_value                 # its length field
    cdef bint bad_index                     # the last sync found head or cur out of place
    cdef bint disarmed                      # fd made unreadable for good (end of file)
    cdef bint pending                       # a record read but not yet placed (timing)
    cdef const unsigned char *p_data
    cdef uint32_t p_caplen
    cdef uint32_t p_origlen
    cdef int64_t p_ts
    # writing
    cdef FILE *out
    cdef uint32_t tx_next                   # first slot not yet written

    def __cinit__(self, *args, **kwargs):
        self.ring = NULL
        self.data = NULL
        self.out = NULL
        self.format = ""
        self.bad_code = BAD_NONE

    cdef int _bad(self, int code, size_t pos, uint64_t value) noexcept nogil:
        """Remember the first corruption met (where, what); returns -1."""
        if self.bad_code == BAD_NONE:
            self.bad_code = code
            self.bad_pos = pos
            self.bad_value = value
        return -1

    @property
    def error_offset(self):
        """The file offset of the corrupt or truncated record that ended
        reading, or None (the file was read to its end, or not yet)."""
        return None if self.bad_code == BAD_NONE else self.bad_pos

    def error_state(self):
        """None while reading goes well; after a corrupt or truncated
        record, what is wrong and where (the file and the byte offset);
        after a write error, the system's message."""
        if self.bad_index:
            return "head or cur was moved outside the slots the user owns (head <= cur <= tail)"
        if self.bad_code != BAD_NONE:
            left = self.size - self.bad_pos
            what = {
                BAD_RECORD_HEADER: f"truncated record header ({left} bytes left, a header takes {16 + self.rec_extra})",
                BAD_CAPLEN: f"record claims {self.bad_value} captured bytes (more than {MAX_RECORD}: corrupt)",
                BAD_RECORD_DATA: f"truncated record: {self.bad_value} captured bytes claimed, "
                                 f"{max(<int64_t> left - 16 - <int64_t> self.rec_extra, 0)} left in the file",
                BAD_BLOCK: f"pcapng block with impossible length {self.bad_value} ({left} bytes left)",
                BAD_PACKET_BLOCK: f"pcapng packet block too short or inconsistent (length {self.bad_value})",
                BAD_SECTION: "pcapng section header damaged",
            }[self.bad_code]
            return f"{self.path}: {what} at offset {self.bad_pos}"
        if self.last_errno:
            return f"{self.path}: {strerror(self.last_errno).decode()}"
        return "port closed" if self.closed else None

    def __dealloc__(self):
        self._release()

    cdef void _release(self) noexcept:
        if self.data != NULL:
            munmap(<void *> self.data, self.size)
            self.data = NULL
        if self.out != NULL:
            fclose(self.out)
            self.out = NULL
        if self.ring != NULL:
            ring_free(self.ring, True)
            self.ring = NULL
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1

    # --- reading -----------------------------------------------------------

    cdef int _parse_header(self) except -1:
        cdef uint32_t magic
        if self.size < 4:
            raise PortError(f"{self.name}: not a pcap file (only {self.size} bytes)")
        memcpy(&magic, self.data, 4)
        if magic == NG_SHB:
            self.fmt = FMT_PCAPNG
            self.format = "pcapng"
            self.pos = 0
            self.nifaces = 0
            if self._ng_section() != 1:
                raise PortError(f"{self.name}: a pcapng file whose section header is damaged (offset 0)")
            self.start_pos = 0
            # linktype: the first interface, when it comes before any packet
            self._ng_peek_linktype()
            self.pos = 0
            self.nifaces = 0
            return 0
        self.fmt = FMT_PCAP
        self.swap = magic in (_bswap32(MAGIC_US), _bswap32(MAGIC_NS), _bswap32(MAGIC_MODIFIED))
        if self.swap:
            magic = _bswap32(magic)
        if magic not in (MAGIC_US, MAGIC_NS, MAGIC_MODIFIED):
            raise PortError(f"{self.name}: not a pcap or pcapng file (magic 0x{magic:08x} at offset 0)")
        if self.size < 24:
            raise PortError(f"{self.name}: the pcap file header is truncated ({self.size} of 24 bytes, offset 0)")
        self.nanosecond = magic == MAGIC_NS
        self.rec_extra = 8 if magic == MAGIC_MODIFIED else 0
        self.format = "pcap-modified" if self.rec_extra else "pcap"
        self.snaplen = _u32(self.data + 16, self.swap)
        self.linktype = _u32(self.data + 20, self.swap) & 0xffff
        self.start_pos = self.pos = 24
        return 0

    cdef int _ng_section(self) noexcept nogil:
        """At an SHB: learn the byte order, skip it. 1 ok, 0 end, -1 corrupt."""
        cdef uint32_t bom, total
        if self.pos + 12 > self.size:
            return 0 if self.pos == self.size else self._bad(BAD_SECTION, self.pos, 0)
        memcpy(&bom, self.data + self.pos + 8, 4)
        if bom == NG_BOM:
            self.swap = False
        elif bom == _bswap32(NG_BOM):
            self.swap = True
        else:
            return self._bad(BAD_SECTION, self.pos, 0)
        total = _u32(self.data + self.pos + 4, self.swap)
        if total < 28 or total % 4 or self.pos + total > self.size:
            return self._bad(BAD_BLOCK, self.pos, total)
        self.pos += total
        self.nifaces = 0
        return 1

    cdef void _ng_interface(self, const unsigned char *body, uint32_t blen) noexcept nogil:
        cdef int i = self.nifaces
        cdef uint32_t off = 8
        cdef uint16_t code, olen
        cdef int64_t tsoff
        if i >= MAX_INTERFACES:
            self.nifaces += 1
            return
        self.ifres[i] = 6
        self.ifoff[i] = 0
        self.ifsnap[i] = _u32(body + 4, self.swap) if blen >= 8 else 0
        if i == 0 and self.frames == 0 and self.loops_done == 0:
            self.linktype = _u16(body, self.swap) if blen >= 2 else 0
            self.snaplen = self.ifsnap[0]
        while off + 4 <= blen:
            code = _u16(body + off, self.swap)
            olen = _u16(body + off + 2, self.swap)
            if code == 0 or off + 4 + olen > blen:
                break
            if code == 9 and olen >= 1:
                self.ifres[i] = body[off + 4]
            elif code == 14 and olen >= 8:
                memcpy(&tsoff, body + off + 4, 8)
                if self.swap:
                    tsoff = <int64_t> ((<uint64_t> _bswap32(<uint32_t> tsoff) << 32) | _bswap32(<uint32_t> (<uint64_t> tsoff >> 32)))
                self.ifoff[i] = tsoff
            off += 4 + ((olen + 3) & ~3)
        self.nifaces += 1

    cdef void _ng_peek_linktype(self) noexcept nogil:
        """Read blocks up to the first packet to learn the first interface's linktype."""
        cdef uint32_t btype, total
        while self.pos + 12 <= self.size:
            btype = _u32(self.data + self.pos, self.swap)
            total = _u32(self.data + self.pos + 4, self.swap)
            if total < 12 or total % 4 or self.pos + total > self.size:
                return
            if btype == 1:
                self._ng_interface(self.data + self.pos + 8, total - 12)
                return
            if btype in (2, 3, 6):
                return
            self.pos += total

    cdef int _next_record(self) noexcept nogil:
        """Read the next frame into p_*. 1: a frame, 0: end of file, -1: corrupt."""
        cdef const unsigned char *rec
        cdef uint32_t caplen, origlen, btype, total, blen, ifc, hi, lo
        cdef const unsigned char *body
        cdef int r
        if self.fmt == FMT_PCAP:
            if self.pos == self.size:
                return 0
            if self.pos + 16 + self.rec_extra > self.size:
                return self._bad(BAD_RECORD_HEADER, self.pos, 0)
            rec = self.data + self.pos
            caplen = _u32(rec + 8, self.swap)
            origlen = _u32(rec + 12, self.swap)
            if caplen > MAX_RECORD:
                return self._bad(BAD_CAPLEN, self.pos, caplen)
            if self.pos + 16 + self.rec_extra + caplen > self.size:
                return self._bad(BAD_RECORD_DATA, self.pos, caplen)
            self.p_ts = <int64_t> _u32(rec, self.swap) * 1000000000 + \
                <int64_t> _u32(rec + 4, self.swap) * (1 if self.nanosecond else 1000)
            self.p_data = rec + 16 + self.rec_extra
            self.p_caplen = caplen
            self.p_origlen = origlen
            self.pos += 16 + self.rec_extra + caplen
            return 1
        while True:                 # pcapng: skip to the next packet block
            if self.pos + 12 > self.size:
                return 0 if self.pos == self.size else self._bad(BAD_BLOCK, self.pos, 0)
            btype = _u32(self.data + self.pos, self.swap)
            if btype == NG_SHB:
                r = self._ng_section()
                if r != 1:
                    return r
                continue
            total = _u32(self.data + self.pos + 4, self.swap)
            if total < 12 or total % 4 or self.pos + total > self.size:
                return self._bad(BAD_BLOCK, self.pos, total)
            body = self.data + self.pos + 8
            blen = total - 12
            self.pos += total
            if btype == 1:
                self._ng_interface(body, blen)
            elif btype == 6 or btype == 2:          # enhanced / obsolete packet block
                if blen < 20:
                    return self._bad(BAD_PACKET_BLOCK, self.pos - total, total)
                if btype == 6:
                    ifc = _u32(body, self.swap)
                else:
                    ifc = _u16(body, self.swap)
                hi = _u32(body + 4, self.swap)
                lo = _u32(body + 8, self.swap)
                caplen = _u32(body + 12, self.swap)
                origlen = _u32(body + 16, self.swap)
                if caplen > blen - 20:
                    return self._bad(BAD_PACKET_BLOCK, self.pos - total, total)
                if ifc < <uint32_t> MAX_INTERFACES and <int> ifc < self.nifaces:
                    self.p_ts = _ng_to_ns((<uint64_t> hi << 32) | lo, self.ifres[ifc], self.ifoff[ifc])
                else:
                    self.p_ts = _ng_to_ns((<uint64_t> hi << 32) | lo, 6, 0)
                self.p_data = body + 20
                self.p_caplen = caplen
                self.p_origlen = origlen
                return 1
            elif btype == 3:                        # simple packet block
                if blen < 4:
                    return self._bad(BAD_PACKET_BLOCK, self.pos - total, total)
                origlen = _u32(body, self.swap)
                caplen = origlen
                if caplen > blen - 4:
                    caplen = blen - 4
                if self.nifaces > 0 and self.ifsnap[0] and caplen > self.ifsnap[0]:
                    caplen = self.ifsnap[0]
                self.p_ts = 0
                self.p_data = body + 4
                self.p_caplen = caplen
                self.p_origlen = origlen
                return 1
            # any other block: skipped

    cdef void _set_timer(self, int64_t when_mono) noexcept nogil:
        """fd readable at when_mono (ns, CLOCK_MONOTONIC); 0 = now; -1 = never."""
        cdef itimerspec its
        cdef uint64_t junk
        its.it_interval.tv_sec = 0
        its.it_interval.tv_nsec = 0
        read(self.fd, &junk, 8)       # clear an expiry already counted
        if when_mono < 0:
            its.it_value.tv_sec = 0
            its.it_value.tv_nsec = 0
            timerfd_settime(self.fd, TFD_TIMER_ABSTIME, &its, NULL)
            return
        if when_mono == 0:
            when_mono = 1             # long past: readable at once
        its.it_value.tv_sec = when_mono // 1000000000
        its.it_value.tv_nsec = when_mono % 1000000000
        timerfd_settime(self.fd, TFD_TIMER_ABSTIME, &its, NULL)

    cdef int rxsync(self, int ring) noexcept:
        cdef RingHeader *r = self.ring
        cdef Pool *pool = small_pool_state()
        cdef int64_t *ts
        cdef Slot *s
        cdef int rc
        cdef int64_t now = 0, due
        cdef uint32_t off
        if r == NULL or self.writing or ring != 0:
            return -1
        if r.head >= r.num_slots or r.cur >= r.num_slots or \
                ring_dist(r, self.rx_head, r.head) > ring_dist(r, self.rx_head, r.tail) or \
                ring_dist(r, r.head, r.cur) > ring_dist(r, r.head, r.tail):
            self.bad_index = True
            return -1
        self.bad_index = False
        self.rx_head = r.head
        ts = ring_timestamps(r)
        while not self.eof and ring_next(r, r.tail) != r.head:
            if not self.pending:
                rc = self._next_record()
                if rc < 0:
                    # A damaged file is not played again: what came before
                    # the damage is delivered, then rxsync reports it.
                    self.bad_records += 1
                    self.eof = True
                    break
                if rc == 0:
                    self.loops_done += 1
                    if self.loop == 0 or <long> self.loops_done < self.loop:
                        if self.pass_records == 0:
                            self.eof = True     # a pass gave nothing: do not go round forever
                            break
                        self.pass_records = 0
                        self.pos = self.start_pos
                        self.nifaces = 0
                        if self.fmt == FMT_PCAPNG:
                            self.pos = 0
                        self.t0_clock = 0
                        continue
                    self.eof = True
                    break
                self.pending = True
                self.pass_records += 1
            if self.timing:
                if now == 0:
                    now = _now(CLOCK_MONOTONIC)
                if self.t0_clock == 0:
                    self.t0_clock = now
                    self.t0_file = self.p_ts
                due = self.t0_clock + (self.p_ts - self.t0_file)
                if due > now:
                    if not self.armed_future:
                        self._set_timer(due)
                        self.armed_future = True
                    break
                if self.armed_future:
                    self._set_timer(0)
                    self.armed_future = False
            self.pending = False
            if self.p_caplen > r.buf_size:
                self.oversize += 1
                r.drops += 1
                continue
            s = ring_slot(r, r.tail)
            if s.buf_idx >= pool.nbuffers:
                r.drops += 1
                continue
            off = DEFAULT_HEADROOM if self.p_caplen + DEFAULT_HEADROOM <= r.buf_size else 0
            memcpy(pool.base + <size_t> s.buf_idx * pool.buffer_size + off, self.p_data, self.p_caplen)
            s.offset = <uint16_t> off
            s.len = self.p_caplen
            s.ptr = self.p_origlen
            s.flags = 0
            ts[r.tail] = self.p_ts
            r.tail = ring_next(r, r.tail)
            self.frames += 1
        if self.eof and r.cur == r.tail and not self.disarmed:
            if self.bad_code != BAD_NONE:
                self._set_timer(0)    # stay readable: the reader must come and see the error
            else:
                self._set_timer(-1)   # nothing more will come: stop being readable
            self.disarmed = True
        if self.bad_code != BAD_NONE and r.head == r.tail:
            return -1                 # every good frame was read: now the damage (error_state)
        return ring_space(r)

    # --- writing -----------------------------------------------------------

    cdef int txsync(self, int ring) noexcept:
        cdef RingHeader *r = self.ring
        cdef Pool *pool = small_pool_state()
        cdef int64_t *ts
        cdef Slot *s
        cdef uint32_t hdr[4]
        cdef uint32_t caplen, origlen, i, done = 0
        cdef int64_t t
        if r == NULL or not self.writing or ring != 0 or self.out == NULL:
            return -1
        if r.head >= r.num_slots or r.cur >= r.num_slots or \
                ring_dist(r, self.tx_next, r.head) > ring_dist(r, self.tx_next, r.tail) or \
                ring_dist(r, r.head, r.cur) > ring_dist(r, r.head, r.tail):
            self.bad_index = True
            return -1
        self.bad_index = False
        ts = ring_timestamps(r)
        i = self.tx_next
        while i != r.head:
            s = ring_slot(r, i)
            caplen = s.len
            origlen = s.ptr if s.ptr > s.len else s.len
            if s.buf_idx >= pool.nbuffers or <uint64_t> s.offset + s.len > r.buf_size:
                r.drops += 1
            else:
                if caplen > self.snaplen:
                    caplen = self.snaplen
                t = ts[i] if ts[i] != 0 else _now(CLOCK_REALTIME)
                hdr[0] = <uint32_t> (t // 1000000000)
                hdr[1] = <uint32_t> ((t % 1000000000) // (1 if self.nanosecond else 1000))
                hdr[2] = caplen
                hdr[3] = origlen
                if fwrite(hdr, 16, 1, self.out) != 1 or \
                        (caplen and fwrite(pool.base + <size_t> s.buf_idx * pool.buffer_size + s.offset,
                                           caplen, 1, self.out) != 1):
                    self.last_errno = errno
                    self.tx_next = i
                    return -1
                self.frames += 1
            s.ptr = 0
            ts[i] = 0
            i = ring_next(r, i)
            done += 1
        self.tx_next = i
        r.tail = r.head - 1 if r.head > 0 else r.num_slots - 1
        return done

    def flush(self):
        """Write buffered records to the file."""
        if self.out != NULL and fflush(self.out) != 0:
            raise PortError(f"{self.name}: {strerror(errno).decode()}")

    def close(self):
        if self.closed:
            return
        self.closed = True
        err = None
        if self.out != NULL:
            if fflush(self.out) != 0:
                err = strerror(errno).decode()
        _detach_rings(self)
        self._release()
        self.rx_rings = []
        self.tx_rings = []
        if err:
            raise PortError(f"{self.name}: {err}")


cdef PcapPort _open_read(str name, str path, dict opts):
    cdef PcapPort port = PcapPort.__new__(PcapPort)
    port.name = name
    port.path = path
    port.writing = False
    port.loop = opts.get("loop", 1)
    port.timing = opts.get("timing", False)
    if port.loop < 0:
        raise PortError(f"{name}: loop must be 0 (forever) or more")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise PortError(f"{name}: {e.strerror}") from None
    try:
        size = os.fstat(fd).st_size
        port.size = size
        if size > 0:
            base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0)
            if base == MAP_FAILED:
                raise PortError(f"{name}: cannot map the file")
            port.data = <const unsigned char *> base
    finally:
        os.close(fd)
    if port.data == NULL:
        raise PortError(f"{name}: not a pcap file (it is empty)")
    port._parse_header()
    port.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
    if port.fd < 0:
        raise PortError(f"{name}: cannot make its wake-up descriptor")
    port._set_timer(0)
    _add_ring(port, opts, False)
    return port


cdef int _add_ring(PcapPort port, dict opts, bint is_tx) except -1:
    """The port's one ring (with timestamps), receive or transmit; a transmit
    ring starts with every slot the user's."""
    port.ring = ring_alloc_flags(opts.get("slots", DEFAULT_SLOTS), True, NR_TIMESTAMPS)
    if port.ring == NULL:
        raise PortError(f"{port.name}: no buffers left for its ring")
    if is_tx:
        port.ring.tail = port.ring.num_slots - 1
        port.tx_rings = [make_ring(port.ring, port, True, 0)]
    else:
        port.rx_rings = [make_ring(port.ring, port, False, 0)]
    return 0


cdef PcapPort _open_write(str name, str path, dict opts):
    cdef PcapPort port = PcapPort.__new__(PcapPort)
    port.name = name
    port.path = path
    port.writing = True
    port.format = "pcap"
    port.nanosecond = opts.get("ns", False)
    port.snaplen = opts.get("snaplen", 65535)
    port.linktype = opts.get("linktype", 1)
    if port.snaplen == 0 or port.snaplen > MAX_RECORD:
        raise PortError(f"{name}: snaplen must be 1 to {MAX_RECORD}")
    if port.linktype > 0xffff:
        raise PortError(f"{name}: linktype must be 0 to 65535")
    port.out = fopen(os.fsencode(path), b"wb")
    if port.out == NULL:
        raise PortError(f"{name}: {strerror(errno).decode()}")
    setvbuf(port.out, NULL, _IOFBF, 1 << 16)
    cdef uint32_t hdr[6]
    hdr[0] = MAGIC_NS if port.nanosecond else MAGIC_US
    hdr[1] = 2 | (4 << 16)          # version 2.4, as two little-endian u16
    hdr[2] = 0
    hdr[3] = 0
    hdr[4] = port.snaplen
    hdr[5] = port.linktype
    if fwrite(hdr, 24, 1, port.out) != 1:
        raise PortError(f"{name}: {strerror(errno).decode()}")
    port.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)   # always writable
    _add_ring(port, opts, True)
    return port


_KNOWN = {"w": bool, "mode": str, "loop": int, "timing": bool, "slots": int,
          "snaplen": int, "linktype": int, "ns": bool}
_READ_ONLY = ("loop", "timing")
_WRITE_ONLY = ("snaplen", "linktype", "ns")


def _open(str rest, **options):
    name = f"pcap:{rest}"
    path, opts = split_port_options(name, rest, options, _KNOWN)
    if not path:
        raise PortError(f"{name}: expected pcap:FILE (read) or pcap:FILE?w (write)")
    mode = opts.pop("mode", "w" if opts.pop("w", False) else "r")
    if mode not in ("r", "w"):
        raise PortError(f"{name}: mode must be r or w, not '{mode}'")
    for key in _WRITE_ONLY if mode == "r" else _READ_ONLY:
        if key in opts:
            raise PortError(f"{name}: option '{key}' is for {'writing' if mode == 'r' else 'reading'} only")
    slots = opts.get("slots", DEFAULT_SLOTS)
    if not 2 <= slots <= MAX_SLOTS:
        raise PortError(f"{name}: slots must be 2 to {MAX_SLOTS}, not {slots}")
    return _open_write(name, path, opts) if mode == "w" else _open_read(name, path, opts)


register_backend("pcap", _open)
