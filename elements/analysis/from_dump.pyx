# cython: language_level=3
"""FromDump: reads packets from a pcap ('tcpdump -w') file."""
import os
import stat as _stat
import sys

from libc.stdint cimport INT64_MAX, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memmove
from posix.mman cimport MADV_SEQUENTIAL, MADV_WILLNEED, MAP_FAILED, MAP_SHARED, PROT_READ, madvise, mmap, munmap

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport ActiveNotifier, NotifierSignal
from clickpy.runtime.packet cimport (Batch, DEFAULT_HEADROOM, DST_IP_ANNO_OFFSET, EXTRA_LENGTH_ANNO_OFFSET,
                                     MAX_BATCH, Packet, packet_kill, packet_make, pkt_data, pkt_set_anno_u32)
from clickpy.runtime.scheduler cimport Scheduler, Task, Timer
from clickpy.elements.standard.random_seed cimport click_random

from clickpy.runtime.args import Arg, ArgError, Bool, InputFilename, Timestamp, Unsigned, parse_time
from clickpy.runtime.handlers import HandlerCall, HandlerCallArg, HandlerError, Read, ReadWrite, Write

from clickpy.elements.analysis import pcap_format as pcap
from clickpy.elements.analysis.trace_file import (SAMPLING_SHIFT, FileOffsetArg, SampleArg, TraceFileError,
                                                  compression_of, open_decompressed, print_filename, report,
                                                  unparse_sample)

cdef enum:
    # Link types FORCE_IP understands (values as in pcap files).
    DLT_NULL = 0
    DLT_EN10MB = 1
    DLT_PPP = 9
    DLT_FDDI = 10
    DLT_PPP_HDLC = 50
    DLT_ATM_RFC1483 = 100
    DLT_RAW = 101
    DLT_HOST_RAW = 12
    DLT_C_HDLC = 104
    DLT_IEEE802_11 = 105
    DLT_LINUX_SLL = 113
    DLT_PRISM_HEADER = 119
    DLT_SUNATM = 123
    DLT_IEEE802_11_RADIO = 127
    # Reading
    STREAM_CHUNK = 1 << 20          # bytes read at a time when the file is not mapped
    MAX_CAPLEN = 65535              # larger captured lengths mean a corrupt record (as Click)
    RETRIES = 16                    # skipped records (START, SAMPLE, non-IP) read per task run

cdef enum ReadResult:
    READ_END = 0        # end of file (or a fatal error, reported): call END_CALL
    READ_OK = 1         # a record was read; _packet holds it, or NULL if it was skipped
    READ_STOPPED = 2    # END was reached and END_CALL deactivated the element


cdef inline uint32_t _swap32(uint32_t v) noexcept nogil:
    return ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >> 8) & 0xFF00) | (v >> 24)


cdef inline bint _ip_ethertype(const unsigned char *t) noexcept nogil:
    return (t[0] == 0x08 and t[1] == 0x00) or (t[0] == 0x86 and t[1] == 0xDD)


cdef int _ip_offset(const unsigned char *d, uint32_t n, int dlt) noexcept nogil:
    """Offset of the IP header in a frame of link type dlt, or -1 (Click's fake_pcap_force_ip)."""
    cdef uint32_t off = 0
    cdef uint32_t orgcode, pid, family, hlen
    cdef int state = dlt
    # Each link type either finds the IP header or hands over to another
    # encapsulation at a new offset, as the layers nest.
    while True:
        if state == DLT_RAW or state == DLT_HOST_RAW:
            return <int> off
        elif state == DLT_EN10MB:
            if off + 14 > n:
                return -1
            if _ip_ethertype(d + off + 12):
                return <int> (off + 14)
            if d[off + 12] == 0x81 and d[off + 13] == 0x00 and off + 18 <= n and _ip_ethertype(d + off + 16):
                return <int> (off + 18)
            return -1
        elif state == DLT_FDDI:
            # 13-byte FDDI header, then LLC/SNAP; frame control must be asynchronous LLC
            if off + 21 > n or (d[off] & 0x38) != 0x10:
                return -1
            off += 13
            state = DLT_ATM_RFC1483
        elif state == DLT_SUNATM:
            off += 4
            state = DLT_ATM_RFC1483
        elif state == DLT_ATM_RFC1483:
            # LLC/SNAP header: dsap ssap ctrl orgcode[3] ethertype[2]
            if off + 8 <= n and d[off] == 0xAA and d[off + 1] == 0xAA and d[off + 2] == 0x03 \
                    and d[off + 3] == 0 and d[off + 4] == 0 and d[off + 5] == 0 and _ip_ethertype(d + off + 6):
                return <int> (off + 8)
            if off + 4 <= n and d[off] == 0x06 and d[off + 1] == 0x06:
                return <int> (off + 4)
            if off + 8 <= n and d[off] == 0xAA and d[off + 1] == 0xAA:
                orgcode = (d[off + 3] << 16) | (d[off + 4] << 8) | d[off + 5]
                pid = (d[off + 6] << 8) | d[off + 7]
                if orgcode == 0 or orgcode == 0xF8:
                    if off + 8 < 12:
                        return -1
                    off = off + 8 - 14          # the ethertype ends a would-be Ethernet header
                    state = DLT_EN10MB
                    continue
                if orgcode == 0x0080C2:
                    if pid == 1 or pid == 7:
                        off += 8
                        state = DLT_EN10MB
                        continue
                    if pid == 4 or pid == 10:
                        off += 9
                        state = DLT_FDDI
                        continue
            return -1
        elif state == DLT_LINUX_SLL:
            if off + 16 <= n and _ip_ethertype(d + off + 14):
                return <int> (off + 16)
            return -1
        elif state == DLT_C_HDLC:
            if off + 4 <= n and _ip_ethertype(d + off + 2):
                return <int> (off + 4)
            return -1
        elif state == DLT_PPP_HDLC:
            if off + 4 > n:
                return -1
            if d[off] == 0xFF:
                if d[off + 2] == 0 and (d[off + 3] == 0x21 or d[off + 3] == 0x57):
                    return <int> (off + 4)
                return -1
            if d[off] == 0x0F or d[off] == 0x8F:
                state = DLT_C_HDLC
                continue
            return -1
        elif state == DLT_PPP:
            if off + 2 <= n and d[off] == 0xFF and d[off + 1] == 0x03:
                off += 2
            if off + 2 > n:
                return -1
            if d[off] == 0x21 or d[off] == 0x57:
                return <int> (off + 1)
            if d[off] == 0 and (d[off + 1] == 0x21 or d[off + 1] == 0x57):
                return <int> (off + 2)
            return -1
        elif state == DLT_PRISM_HEADER:
            off += 144
            state = DLT_IEEE802_11
        elif state == DLT_IEEE802_11:
            if off + 24 <= n and (d[off] & 0x0C) == 0x08:
                off += 30 if (d[off + 1] & 0x03) == 0x03 else 24
                state = DLT_ATM_RFC1483
                continue
            return -1
        elif state == DLT_IEEE802_11_RADIO:
            if off + 4 > n:
                return -1
            hlen = (d[off + 3] << 8) | d[off + 2]
            if hlen < 8:
                return -1
            off += hlen
            state = DLT_IEEE802_11
        elif state == DLT_NULL:
            if off + 4 > n:
                return -1
            family = d[off] | (d[off + 1] << 8)
            if family == 0:
                family = (d[off + 2] << 8) | d[off + 3]
            if family == 2 or family == 24 or family == 28 or family == 30:
                return <int> (off + 4)
            return -1
        else:
            return -1


cdef bint force_ip(Packet *p, int dlt) noexcept nogil:
    """Find and mark p's IP header (and set the destination address annotation); False if none."""
    cdef const unsigned char *d = pkt_data(p)
    cdef int off = _ip_offset(d, p.length, dlt)
    cdef uint32_t hl, dst
    if off < 0 or <uint32_t> off >= p.length:
        return False
    if (d[off] >> 4) == 4:
        hl = (d[off] & 0x0F) << 2
        if hl >= 20 and <uint32_t> off + hl <= p.length:
            p.network = <int> p.data + off
            p.transport = p.network + <int> hl
            memcpy(&dst, d + off + 16, 4)
            pkt_set_anno_u32(p, DST_IP_ANNO_OFFSET, dst)
            return True
    elif (d[off] >> 4) == 6:
        if <uint32_t> off + 40 <= p.length:
            p.network = <int> p.data + off
            p.transport = p.network + 40
            return True
    return False


cdef enum:
    SAMPLE_ONE = 1 << 28           # probability 1 in Click's fixed point (SAMPLING_SHIFT bits)
    SAMPLE_MASK = (1 << 28) - 1


def _write_active(e, value):
    try:
        e.set_active(Bool(value))
    except ArgError:
        raise HandlerError("type mismatch") from None


def _write_stop(e, value):
    e.set_active(False)
    e.router.please_stop_driver()


def _write_filepos(e, value):
    try:
        pos = FileOffsetArg(value)
    except ArgError:
        raise HandlerError("argument must be file offset") from None
    e.seek(pos)


def _write_extend_interval(e, value):
    try:
        delta = parse_time(value)
    except ValueError:
        raise HandlerError("'extend_interval' takes a time interval") from None
    e.extend_interval(delta)


cdef class FromDump(Element):
    """=c
    FromDump(FILENAME [, TIMING, I<keywords> STOP, ACTIVE, SAMPLE, FORCE_IP, START,
    START_AFTER, END, END_AFTER, INTERVAL, END_CALL, FILEPOS, MMAP, BURST])

    =s traces
    reads packets from a tcpdump file

    =d
    Reads packets from a pcap file written by 'tcpdump -w FILENAME' or ToDump
    (either byte order, microsecond or nanosecond timestamps, gzip/bzip2/xz
    compressed too) and emits them, with their timestamps, extra length
    annotations (original minus captured length) and MAC header annotations
    set. FILENAME '-' reads standard input.

    STOP stops the driver at the end of the file (or at END). TIMING emits
    packets at the pace they were recorded (in simulated time under
    --simtime). SAMPLE keeps each packet with that probability. FORCE_IP
    emits only IP packets, with their IP header annotations set; others go
    to output 1 if it exists and are dropped otherwise (raw IP files always
    get FORCE_IP). START/START_AFTER and END/END_AFTER/INTERVAL select a time
    range (absolute, or relative to the first packet). END_CALL is a write
    handler called at the end (default 'NAME.active false' when an end time
    is given; 'NAME.stop' with STOP). FILEPOS starts at that file offset.
    ACTIVE false starts inactive. MMAP (default true) maps regular files
    into memory; otherwise they are read in large chunks.

    Output is agnostic. In push, a task emits up to BURST packets (default
    32) per run, as one batch; it waits while the queues downstream are
    full. When the packets go into a queue, under 'clickpy run
    --per-packet', or with BURST 1, it emits one packet per run as Click
    does, so that the task emptying the queue keeps pace. In pull, each pull
    returns the next packet (an empty notifier tells pullers when the file
    is done). A malformed file is an initialization error naming the file;
    a record cut short is reported with its byte offset and ends the file.

    =h count read-only: packets emitted
    =h reset_counts write-only
    =h sampling_prob read-only
    =h active read/write
    =h encap read-only: the file's link type ('ETHER', 'IP', ...)
    =h filename, filesize read-only
    =h filepos read/write: current file offset (write to seek)
    =h packet_filepos read-only: file offset of the last packet read
    =h stop write-only: deactivate and stop the driver
    =h extend_interval write-only: extend END by a time interval, and reactivate
    =h reset_timing write-only

    =e
    FromDump(trace.pcap, STOP true, FORCE_IP true) -> Counter -> Discard;
    """
    port_count = "0/1-2"
    processing = "a/ah"
    arguments = (
        Arg("FILENAME", InputFilename, positional=True, mandatory=True),
        Arg("TIMING", Bool, False, positional=True),
        Arg("STOP", Bool, False),
        Arg("ACTIVE", Bool, True),
        Arg("SAMPLE", SampleArg, SAMPLE_ONE),
        Arg("FORCE_IP", Bool, False),
        Arg("START", Timestamp, None),
        Arg("START_AFTER", Timestamp, None),
        Arg("END", Timestamp, None),
        Arg("END_AFTER", Timestamp, None),
        Arg("INTERVAL", Timestamp, None),
        Arg("END_CALL", HandlerCallArg, None),
        Arg("FILEPOS", FileOffsetArg, 0, attr="filepos_arg"),
        Arg("MMAP", Bool, True),
        Arg("BURST", Unsigned, 32),
    )
    handlers = (
        Read("count", lambda e: e.count),
        Write("reset_counts", lambda e, v: e.reset_counts(), button=True),
        Read("sampling_prob", lambda e: unparse_sample(e.sample)),
        ReadWrite("active", lambda e: e.active, _write_active),
        Read("encap", lambda e: pcap.unparse_dlt(e.linktype)),
        Write("stop", _write_stop, button=True),
        Read("packet_filepos", lambda e: e.packet_filepos),
        Write("extend_interval", _write_extend_interval),
        Write("reset_timing", lambda e, v: e.reset_timing(), button=True),
        Read("filename", lambda e: print_filename(e.filename)),
        Read("filesize", lambda e: e.filesize()),
        ReadWrite("filepos", lambda e: e.filepos(), _write_filepos),
    )

    # --- configuration ---
    cdef public str filename
    cdef public bint timing
    cdef public bint stop
    cdef public bint active
    cdef public uint32_t sample             # keep probability, fixed point (SAMPLING_SHIFT bits)
    cdef public bint force_ip
    cdef public object start, start_after, end, end_after, interval, filepos_arg
    cdef public object end_call             # HandlerCall or None
    cdef public bint mmap
    cdef public uint32_t burst
    cdef public Task task
    # --- the file ---
    cdef const unsigned char *_buf          # window of the file in memory
    cdef uint64_t _len                      # bytes in the window
    cdef uint64_t _pos                      # read position in the window
    cdef uint64_t _file_offset              # file offset of _buf[0]
    cdef void *_map                         # the mapping, when the file is mapped
    cdef size_t _map_len
    cdef unsigned char *_own                # the buffer, when the file is streamed
    cdef size_t _own_cap
    cdef object _stream                     # Python binary stream when streamed, else None
    cdef object _file                       # the open file (for fstat), or None
    cdef bint _seekable
    cdef bint _compressed
    cdef bint _opened
    # --- the format ---
    cdef bint _swapped
    cdef bint _nano
    cdef uint32_t _extra_hdr                # extra record-header bytes (modified pcap)
    cdef int _minor_version
    cdef public int linktype
    # --- time range and timing ---
    cdef bint _have_first, _have_last, _first_relative, _last_relative, _last_interval, _have_any_times
    cdef int64_t _first_time, _last_time, _timing_offset
    # --- state ---
    cdef Packet *_packet                    # read but not yet emitted (timing)
    cdef Batch _batch                       # read and not yet pushed (push, BURST > 1)
    cdef public uint64_t count
    cdef public uint64_t packet_filepos
    cdef uint64_t _errors
    cdef bint _per_packet
    cdef Scheduler _sched
    cdef Timer _timer                       # TIMING: wakes the task (or puller) when the next packet is due
    cdef ActiveNotifier _notifier           # pull output: has a packet to give
    cdef NotifierSignal _nonfull            # push output: downstream has room

    def __cinit__(self):
        self._buf = NULL
        self._map = NULL
        self._own = NULL
        self._packet = NULL
        self._stream = None
        self._file = None
        self.task = None
        self.linktype = -1
        self._notifier = ActiveNotifier("empty", 0, True)

    def __dealloc__(self):
        # C resources only: Python attributes may already be gone here.
        if self._map != NULL:
            munmap(self._map, self._map_len)
            self._map = NULL
        free(self._own)
        self._own = NULL
        if self._packet != NULL:
            packet_kill(self._packet)
            self._packet = NULL

    # --- configuration ---------------------------------------------------------

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        if self.sample > SAMPLE_ONE:
            errh.warning("SAMPLE probability reduced to 1")
            self.sample = SAMPLE_ONE
        elif self.sample == 0:
            errh.warning("SAMPLE probability is 0; emitting no packets")
        # As in Click, a zero time counts as not given.
        first, first_off = self.start or 0, self.start_after or 0
        last, last_off, interval = self.end or 0, self.end_after or 0, self.interval or 0
        if bool(first) + bool(first_off) > 1:
            return errh.error("START and START_AFTER are mutually exclusive")
        if bool(last) + bool(last_off) + bool(interval) > 1:
            return errh.error("END, END_AFTER, and INTERVAL are mutually exclusive")
        self._have_first = self._have_last = True
        self._first_relative = self._last_relative = self._last_interval = False
        if first:
            self._first_time = first
        elif first_off:
            self._first_time, self._first_relative = first_off, True
        else:
            self._have_first, self._first_relative, self._first_time = False, True, 0
        if last:
            self._last_time = last
        elif last_off:
            self._last_time, self._last_relative = last_off, True
        elif interval:
            self._last_time, self._last_interval = interval, True
        else:
            self._have_last = False
        if self.stop and self.end_call is not None:
            return errh.error("END_CALL and STOP are mutually exclusive")
        if self.stop:
            self.end_call = HandlerCall(f"{self.name}.stop")
        elif self.end_call is None and self._have_last:
            self.end_call = HandlerCall(f"{self.name}.active false")
        if self.burst < 1 or self.burst > MAX_BATCH:
            return errh.error(f"BURST must be between 1 and {MAX_BATCH}")
        self._have_any_times = False
        return True

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self._per_packet = bool(getattr(self.router, "per_packet", False)) or self.burst == 1
        if self.end_call is not None:
            try:
                self.end_call.initialize(self)
            except HandlerError as err:
                return errh.error(f"END_CALL: {err}")
        self._timer = Timer(self)
        self._timer.initialize(self._sched)
        try:
            self._open()
            self._read_file_header()
        except TraceFileError as err:
            self._close()
            return errh.error(str(err))
        if self.force_ip:
            if self.linktype not in pcap.FORCE_IPABLE:
                self._close()
                return errh.error(f"{print_filename(self.filename)}: unknown linktype {self.linktype}; "
                                  f"can't force IP packets")
        elif self.linktype == DLT_RAW:
            self.force_ip = True
        if self.filepos_arg:
            try:
                self._seek(self.filepos_arg)
            except TraceFileError as err:
                self._close()
                return errh.error(str(err))
        if self.output_is_push(0):
            self.task = Task(self)
            self.task.initialize(self._sched, self.active)
            self._nonfull = self.router.downstream_full_signal(self, 0, self.task)
            # Into a queue, packets go one per run as in Click, so that the
            # task emptying the queue keeps pace; bursts are for push paths.
            if not self._nonfull.busy and self._nonfull.notifiers:
                self._per_packet = True
        else:
            self._notifier.set_active(self.active, False)

    def cleanup(self, stage):
        self._close()
        if self._packet != NULL:
            packet_kill(self._packet)
            self._packet = NULL

    def take_state(self, old, errh):
        """Hot reload: go on reading the same file from where old was, with its
        count (so LIMIT-like handlers count on). Each element has the file open;
        ``old.take_state(self)`` puts old back where this one got to."""
        if not (isinstance(old, FromDump) and old.filename == self.filename and (<FromDump> old)._opened):
            return None
        try:
            self._seek(old.filepos())
        except TraceFileError as err:
            errh.warning(str(err))
            return None
        self.count, (<FromDump> old).count = old.count, self.count
        return {"counts": 1}

    def port_notifier(self, isoutput, port, kind):
        if isoutput and kind == "empty" and port == 0 and not self.output_is_push(0):
            return self._notifier
        return None

    # --- the file ---------------------------------------------------------------

    def _open(self):
        """Open the file: map it when it is regular and uncompressed, else stream it."""
        name = print_filename(self.filename)
        self._close()
        if self.filename == "-":
            self._stream = sys.stdin.buffer
            self._seekable = False
        else:
            try:
                f = open(self.filename, "rb")
            except OSError as e:
                raise TraceFileError(f"{name}: {e.strerror}") from None
            st = os.fstat(f.fileno())
            if _stat.S_ISDIR(st.st_mode):
                f.close()
                raise TraceFileError(f"{name}: Is a directory")
            module = compression_of(f.read(8))
            f.seek(0) if f.seekable() else None
            self._file = f
            if module is not None:
                self._stream = open_decompressed(self.filename, module)
                self._compressed = True
                self._seekable = False
            elif self.mmap and _stat.S_ISREG(st.st_mode) and st.st_size > 0:
                self._map_file(f.fileno(), st.st_size)
            else:
                self._stream = f
                self._seekable = f.seekable()
        self._opened = True
        if not self._ensure(1):
            raise TraceFileError(f"{name}: empty file")

    cdef int _map_file(self, int fd, size_t size) except -1:
        cdef void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0)
        if m == MAP_FAILED:
            raise TraceFileError(f"{print_filename(self.filename)}: mmap failed")
        # read ahead: the file is read front to back (errors here do not matter)
        madvise(m, size, MADV_SEQUENTIAL)
        madvise(m, size, MADV_WILLNEED)
        self._map = m
        self._map_len = size
        self._buf = <const unsigned char *> m
        self._len = size
        self._pos = 0
        self._file_offset = 0
        return 0

    def _close(self):
        if self._map != NULL:
            munmap(self._map, self._map_len)
            self._map = NULL
        if self._own != NULL:
            free(self._own)
            self._own = NULL
            self._own_cap = 0
        self._buf = NULL
        self._len = self._pos = self._file_offset = 0
        if self._stream is not None and self._stream is not sys.stdin.buffer and self._stream is not self._file:
            try:
                self._stream.close()
            except Exception:
                pass
        self._stream = None
        if self._file is not None:
            try:
                self._file.close()
            except Exception:
                pass
        self._file = None
        self._compressed = False
        self._opened = False

    cdef inline bint _ensure(self, uint64_t n) noexcept:
        """At least n bytes at the read position (refilling a streamed file); False at the end."""
        if self._pos + n <= self._len:
            return True
        if self._stream is None:
            return False
        return self._refill(n)

    cdef inline bint _at_end(self) noexcept:
        """No complete record header is left (for a mapped file; a stream cannot tell)."""
        return self._stream is None and self._pos + 16 + self._extra_hdr > self._len

    cdef bint _refill(self, uint64_t n) noexcept:
        cdef uint64_t keep = self._len - self._pos if self._len > self._pos else 0
        cdef size_t want = n if n > STREAM_CHUNK else STREAM_CHUNK
        cdef unsigned char *nb
        cdef const unsigned char[:] view
        cdef Py_ssize_t got
        try:
            if self._own == NULL or self._own_cap < keep + want:
                nb = <unsigned char *> malloc(keep + want)
                if nb == NULL:
                    return False
                if keep:
                    memcpy(nb, self._buf + self._pos, keep)
                free(self._own)
                self._own = nb
                self._own_cap = keep + want
            elif keep:
                memmove(self._own, self._buf + self._pos, keep)
            self._file_offset += self._pos
            self._buf = self._own
            self._len = keep
            self._pos = 0
            while self._len < n:
                chunk = self._stream.read(self._own_cap - self._len)
                if not chunk:
                    return False
                view = chunk
                got = len(chunk)
                memcpy(self._own + self._len, &view[0], got)
                self._len += got
            return True
        except Exception as err:
            self._report_once(f"{print_filename(self.filename)}: read error: {err}")
            return False

    def _read_file_header(self):
        name = print_filename(self.filename)
        if not self._ensure(24):
            raise TraceFileError(f"{name}: not a tcpdump file (too short)")
        cdef const unsigned char *h = self._buf + self._pos
        cdef uint32_t magic, linktype
        cdef uint16_t major, minor
        memcpy(&magic, h, 4)
        self._swapped = False
        if magic not in (pcap.MAGIC, pcap.MAGIC_NANO, pcap.MAGIC_MODIFIED):
            magic = _swap32(magic)
            self._swapped = True
        if magic not in (pcap.MAGIC, pcap.MAGIC_NANO, pcap.MAGIC_MODIFIED):
            raise TraceFileError(f"{name}: not a tcpdump file (bad magic number)")
        self._extra_hdr = pcap.MODIFIED_EXTRA if magic == pcap.MAGIC_MODIFIED else 0
        self._nano = magic == pcap.MAGIC_NANO
        memcpy(&major, h + 4, 2)
        memcpy(&minor, h + 6, 2)
        memcpy(&linktype, h + 20, 4)
        if self._swapped:
            major = (major >> 8) | ((major & 0xFF) << 8)
            minor = (minor >> 8) | ((minor & 0xFF) << 8)
            linktype = _swap32(linktype)
        if major != pcap.VERSION_MAJOR:
            raise TraceFileError(f"{name}: unknown major version {major}")
        self._minor_version = minor
        self.linktype = pcap.canonical_dlt(linktype)
        self._pos += 24

    def _seek(self, uint64_t want):
        """Move the read position to file offset want."""
        name = print_filename(self.filename)
        if not self._opened:
            raise TraceFileError(f"{name}: not open")
        if self._stream is None:
            if want > self._len:
                raise TraceFileError("FILEPOS out of range")
            self._pos = want
            return
        if self._file_offset <= want <= self._file_offset + self._len:
            self._pos = want - self._file_offset
            return
        if self._seekable:
            size = os.fstat(self._stream.fileno()).st_size
            if _stat.S_ISREG(os.fstat(self._stream.fileno()).st_mode) and size and want > size:
                raise TraceFileError("FILEPOS out of range")
            self._stream.seek(want)
            self._file_offset = want
            self._len = self._pos = 0
            return
        if want < self._file_offset:
            if not self._compressed:
                raise TraceFileError(f"{name}: cannot seek backwards in a pipe")
            # Start decompressing again from the beginning.
            self._stream.close()
            self._stream = open_decompressed(self.filename, compression_of(open(self.filename, "rb").read(8)))
            self._file_offset = 0
            self._len = self._pos = 0
        while self._file_offset + self._len < want:
            self._pos = self._len
            if not self._refill(1):
                raise TraceFileError("FILEPOS out of range")
        self._pos = want - self._file_offset

    def seek(self, want):
        try:
            self._seek(want)
        except TraceFileError as err:
            raise HandlerError(str(err)) from None
        if self._packet != NULL:
            packet_kill(self._packet)
            self._packet = NULL

    def filepos(self):
        return self._file_offset + self._pos if self._opened else 0

    def filesize(self):
        if self._compressed or self._file is None:
            return "-"
        try:
            st = os.fstat(self._file.fileno())
        except (OSError, ValueError):
            return "-"
        return st.st_size if _stat.S_ISREG(st.st_mode) else "-"

    def _report_once(self, message):
        self._errors += 1
        if self._errors == 1:
            report(message)

    # --- reading records ----------------------------------------------------------

    cdef void _prepare_times(self, int64_t ts) noexcept:
        if self._first_relative:
            self._first_time += ts
        if self._last_relative:
            self._last_time += ts
        elif self._last_interval:
            self._last_time += self._first_time
        if self.timing:
            self._timing_offset = self._sched.now() - ts
        self._have_any_times = True

    cdef int _read_packet(self) noexcept:
        """Read one record into _packet (NULL if it is skipped); see ReadResult."""
        cdef const unsigned char *h
        cdef uint32_t hdr[4]
        cdef uint32_t caplen, wirelen, skiplen = 0, t
        cdef int64_t ts
        cdef uint64_t record_start = self._file_offset + self._pos
        cdef Packet *p
        cdef uint32_t header_size = 16 + self._extra_hdr
        if self._buf == NULL:
            return READ_END
        self.packet_filepos = record_start
        if not self._ensure(header_size):
            if self._pos < self._len:
                self._truncated(record_start, "record header", header_size, self._len - self._pos)
            return READ_END
        h = self._buf + self._pos
        memcpy(hdr, h, 16)
        if self._swapped:
            hdr[0] = _swap32(hdr[0])
            hdr[1] = _swap32(hdr[1])
            hdr[2] = _swap32(hdr[2])
            hdr[3] = _swap32(hdr[3])
        caplen, wirelen = hdr[2], hdr[3]
        # Files before version 2.3 may have the two lengths swapped.
        if not (self._minor_version > 3 or (self._minor_version == 3 and caplen <= wirelen)):
            t = caplen
            caplen = wirelen
            wirelen = t
        if caplen > MAX_CAPLEN:
            self._bad_record(record_start, caplen)
            return READ_END
        if caplen > wirelen:
            # tcptrace writes captured lengths one too large; skip the excess
            skiplen = caplen - wirelen
            caplen = wirelen
        ts = <int64_t> hdr[0] * 1000000000 + (<int64_t> hdr[1] if self._nano else <int64_t> hdr[1] * 1000)
        if not self._have_any_times:
            self._prepare_times(ts)
        if self._have_first:
            if ts < self._first_time:
                return self._skip_record(record_start, header_size, caplen + skiplen)
            self._have_first = False
        while self._have_last and ts >= self._last_time:
            self._have_last = False
            if self.end_call is not None:
                self._call_end()
            if not self.active:
                self._skip_record(record_start, header_size, caplen + skiplen)
                return READ_STOPPED
            # END_CALL may have moved END (extend_interval): check again
        if self.sample < SAMPLE_ONE and (click_random() & (SAMPLE_MASK)) >= self.sample:
            return self._skip_record(record_start, header_size, caplen + skiplen)
        if not self._ensure(header_size + caplen + skiplen):
            self._truncated(record_start, "packet data", caplen, self._len - self._pos - header_size)
            return READ_END
        p = packet_make(DEFAULT_HEADROOM, self._buf + self._pos + header_size, caplen, 0)
        self._pos += header_size + caplen + skiplen
        if p == NULL:
            try:
                self._report_once(f"{print_filename(self.filename)}: out of packet buffers; packets dropped")
            except BaseException:
                pass
            self.dropped += 1
            self._packet = NULL
            return READ_OK
        p.timestamp = ts
        p.mac = <int> p.data
        pkt_set_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET, wirelen - caplen)
        self._packet = p
        return READ_OK

    cdef int _skip_record(self, uint64_t start, uint32_t header_size, uint32_t datalen) noexcept:
        if self._ensure(header_size + datalen):
            self._pos += header_size + datalen
        else:
            self._truncated(start, "packet data", datalen, self._len - self._pos - header_size)
            return READ_END
        self._packet = NULL
        return READ_OK

    cdef void _truncated(self, uint64_t start, str what, uint64_t need, uint64_t have) noexcept:
        try:
            self._report_once(f"{print_filename(self.filename)}: truncated {what} at byte offset {start} "
                              f"(needs {need} bytes, file has {have})")
        except BaseException:
            pass
        self._pos = self._len

    cdef void _bad_record(self, uint64_t start, uint32_t caplen) noexcept:
        try:
            self._report_once(f"{print_filename(self.filename)}: bad packet header at byte offset {start} "
                              f"(captured length {caplen}); giving up")
        except BaseException:
            pass
        self._pos = self._len

    cdef void _call_end(self) noexcept:
        # Packets read before the end go downstream before the handler runs.
        self._flush()
        try:
            self.end_call.call_write()
        except BaseException:
            pass

    # --- timing -------------------------------------------------------------------

    cdef bint _check_timing(self, Packet *p) noexcept:
        cdef int64_t now = self._sched.now()
        cdef int64_t due = p.timestamp + self._timing_offset
        if now < due:
            self._timer.schedule_at(due)
            if not self.output_is_push(0):
                self._notifier.sleep()
            return False
        return True

    cdef void run_timer(self, object timer) noexcept:
        if self.active:
            if self.task is not None:
                self.task.reschedule()
            else:
                self._notifier.wake()

    # --- emitting -------------------------------------------------------------------

    cdef bint run_task(self, object task) noexcept:
        cdef Batch *b = &self._batch
        cdef Packet *p
        cdef int r
        cdef uint32_t n = 0, skipped = 0
        cdef uint32_t limit = 1 if self._per_packet else self.burst
        if not self.active:
            return False
        if self._nonfull is not None and not self._nonfull.active():
            return False
        b.count = 0
        while n < limit:
            if self._packet == NULL:
                if n > 0 and self._at_end():
                    # As in Click, the end is noticed by a run that emits
                    # nothing, so that others get a turn with the last packets.
                    break
                r = self._read_packet()
                if r != READ_OK:
                    self._flush()
                    if r == READ_END and self.end_call is not None:
                        self._call_end()
                    return n > 0
                if self._packet == NULL:
                    skipped += 1
                    if skipped >= RETRIES * limit:
                        break
                    continue
            p = self._packet
            if self.timing and not self._check_timing(p):
                self._flush()
                return n > 0
            self._packet = NULL
            if self.force_ip and not force_ip(p, self.linktype):
                self._flush()
                self.checked_output_push(1, p)
                skipped += 1
                if skipped >= RETRIES * limit:
                    break
                continue
            n += 1
            if self._per_packet:
                self.output_push(0, p)
                self.count += 1
            else:
                b.p[b.count] = p
                b.count += 1
        self._flush()
        (<Task> task).fast_reschedule()
        return n > 0

    cdef inline void _flush(self) noexcept:
        cdef int k = self._batch.count
        if k:
            self.output_push_batch(0, &self._batch)
            self._batch.count = 0
            self.count += k

    cdef Packet *pull(self, int port) noexcept:
        cdef int r = READ_OK
        cdef Packet *p
        if not self.active:
            self._notifier.sleep()
            return NULL
        if self._packet == NULL:
            r = self._read_packet()
        if self._packet != NULL and self.timing and not self._check_timing(self._packet):
            return NULL
        if self._packet != NULL and self.force_ip and not force_ip(self._packet, self.linktype):
            p = self._packet
            self._packet = NULL
            self.checked_output_push(1, p)
        self._notifier.set_active(r == READ_OK, True)
        if r == READ_END and self.end_call is not None:
            self._call_end()
        p = self._packet
        if p != NULL:
            self._packet = NULL
            self.count += 1
        return p

    # --- handlers -------------------------------------------------------------------

    def set_active(self, bint active):
        self.active = active
        if active:
            if self.task is not None:
                self.task.reschedule()
            else:
                self._notifier.wake()

    def reset_counts(self):
        self.count = 0

    def extend_interval(self, delta):
        # Saturating: extended again and again, the end stays the largest time.
        self._last_time = min(self._last_time + delta, INT64_MAX)
        if self.end_call is not None:
            self._have_last = True
            self.set_active(True)

    def reset_timing(self):
        self._first_relative = False
        self._last_relative = self._last_interval = False
        self._have_any_times = False
