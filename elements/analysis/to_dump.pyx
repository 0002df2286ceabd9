# cython: language_level=3
"""ToDump: writes packets to a pcap ('tcpdump -w') file."""
import os
import shlex
import shutil
import sys

from libc.errno cimport errno
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdio cimport FILE, fclose, fdopen, fflush, fopen, fwrite, setvbuf, _IONBF
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, strerror

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.packet cimport (Batch, EXTRA_LENGTH_ANNO_OFFSET, MAX_BATCH, Packet, packet_kill,
                                     pkt_anno_u32, pkt_data)
from clickpy.runtime.scheduler cimport Scheduler, Task

from clickpy.runtime.args import AnyArg, Arg, Bool, Filename, Unsigned, Word
from clickpy.runtime.handlers import Read, Write

from clickpy.elements.analysis import pcap_format as pcap

cdef extern from "stdio.h":
    FILE *popen(const char *command, const char *mode)
    int pclose(FILE *stream)


cdef enum:
    OUT_BUFFER = 1 << 18        # records are gathered here and written in large blocks


cdef struct RecordHeader:
    uint32_t sec
    uint32_t subsec
    uint32_t caplen
    uint32_t len

_COMPRESSORS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}


cdef class ToDump(Element):
    """=c
    ToDump(FILENAME [, SNAPLEN, ENCAP, I<keywords> USE_ENCAP_FROM, EXTRA_LENGTH, UNBUFFERED, NANO])

    =s traces
    writes packets to a tcpdump file

    =d
    Writes packets to FILENAME in pcap ('tcpdump -w') format, for tcpdump,
    Wireshark or FromDump. FILENAME '-' is standard output; a name ending
    in .gz, .bz2 or .xz is compressed through that program. At most SNAPLEN
    bytes (default 2000; 0 means all) of each packet are written. ENCAP is
    the link type recorded in the file header: ETHER (default), IP, SLL,
    NULL, FDDI, ATM, 802_11, PPP, HDLC, ... or '#N'. USE_ENCAP_FROM names
    elements whose 'encap' handlers give it instead (they must agree).
    EXTRA_LENGTH (default true) records packets' extra length annotations
    in the original length. NANO writes nanosecond timestamps (default
    false: microseconds). A packet without a timestamp gets the current
    time. UNBUFFERED writes each record at once.

    Packets pushed in leave on the output if there is one. In pull, with an
    output, each pull passes a packet through; with none, a task pulls
    packets whenever the queues upstream have some. The file is flushed and
    closed at cleanup. Writing never makes a Python object per packet.

    =h count read-only: packets written
    =h reset_counts write-only
    =h filename read-only

    =e
    FromDevice(eth0) -> ToDump(capture.pcap, SNAPLEN 96);
    """
    port_count = "1/0-1"
    processing = "a"
    flags = "S2"
    configure_phase = 200       # after the sources whose 'encap' it may read
    arguments = (
        Arg("FILENAME", Filename, positional=True, mandatory=True),
        Arg("SNAPLEN", Unsigned, 2000, positional=True),
        Arg("ENCAP", Word, None, positional=True),
        Arg("USE_ENCAP_FROM", AnyArg, None),
        Arg("EXTRA_LENGTH", Bool, True),
        Arg("UNBUFFERED", Bool, False),
        Arg("NANO", Bool, False),
    )
    handlers = (
        Read("filename", lambda e: e.print_name),
        Read("count", lambda e: e.count),
        Write("reset_counts", lambda e, v: e.reset_counts(), button=True),
    )

    cdef public str filename
    cdef public str print_name
    cdef public uint32_t snaplen
    cdef public object encap
    cdef public object use_encap_from
    cdef public bint extra_length
    cdef public bint unbuffered
    cdef public bint nano
    cdef public int linktype
    cdef public uint64_t count
    cdef public Task task
    cdef FILE *_fp
    cdef unsigned char *_obuf               # records not yet handed to _fp
    cdef size_t _olen
    cdef bint _pipe
    cdef bint _active
    cdef bint _per_packet
    cdef list _encap_elements
    cdef Scheduler _sched
    cdef NotifierSignal _signal

    def __cinit__(self):
        self._fp = NULL
        self._obuf = <unsigned char *> malloc(OUT_BUFFER)
        self._olen = 0
        if self._obuf == NULL:
            raise MemoryError()
        self.task = None
        self.linktype = pcap.DLT_EN10MB

    def __dealloc__(self):
        if self._fp != NULL:
            self._drain()
            if self._pipe:
                pclose(self._fp)
            else:
                fclose(self._fp)
            self._fp = NULL
        free(self._obuf)
        self._obuf = NULL

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        self.print_name = self.filename
        if self.snaplen == 0:
            self.snaplen = 0xFFFFFFFF
        if self.use_encap_from is not None and self.encap is not None:
            return errh.error("specify at most one of 'ENCAP' and 'USE_ENCAP_FROM'")
        self._encap_elements = []
        if self.use_encap_from is not None:
            from clickpy.lang.confstring import split_words, unquote

            words = [unquote(w) for w in split_words(self.use_encap_from)]
            if not words:
                return errh.error("element names missing after 'USE_ENCAP_FROM'")
            for w in words:
                e = self.router.find(w, self)
                if e is None:
                    return errh.error(f"no element named '{w}'")
                self._encap_elements.append(e)
        elif self.encap is not None:
            self.linktype = pcap.parse_dlt(self.encap)
            if self.linktype < 0:
                return errh.error("bad encapsulation type")
        return True

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self._per_packet = bool(getattr(self.router, "per_packet", False))
        if self._encap_elements:
            self.linktype = -1
            types = []
            for e in self._encap_elements:
                h = self.router.handler(e, "encap")
                if h is None or not h.readable:
                    return errh.error(f"'{e.name}' has no 'encap' read handler")
                from clickpy.lang.confstring import uncomment

                types.append(uncomment(self.router.call_read(e, h)))
            for e, t in zip(self._encap_elements, types):
                dlt = pcap.parse_dlt(t)
                if dlt < 0:
                    return errh.error(f"'{e.name}.encap' did not return a valid encapsulation type")
                if self.linktype >= 0 and dlt != self.linktype:
                    errh.error("source encapsulation types disagree:")
                    for e2, t2 in zip(self._encap_elements, types):
                        errh.error(f"  {e2.declaration()} has {t2}")
                    return False
                self.linktype = dlt
        if self._hotswap_peer() is None:
            err = self._open()
            if err:
                return errh.error(err)
            header = pcap.file_header(self.linktype, self.snaplen, self.nano)
            if not self._write_raw(header):
                return errh.error(f"{self.print_name}: unable to write file header")
        # else: hot reload keeps writing the file the old element has open (take_state)
        if self.input_is_pull(0) and self.noutputs == 0:
            self.task = Task(self)
            self.task.initialize(self._sched, True)
            self._signal = self.router.upstream_empty_signal(self, 0, self.task)
        self._active = True

    def _open(self):
        """Open the output; returns an error message or None."""
        cdef bytes path
        if self.filename == "-":
            # Records go straight to file descriptor 1, after whatever
            # Python has buffered for standard output.
            try:
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
            self._fp = fdopen(os.dup(1), b"wb")
            self.print_name = "<stdout>"
        else:
            ext = os.path.splitext(self.filename)[1]
            if ext in _COMPRESSORS:
                tool = _COMPRESSORS[ext]
                if shutil.which(tool) is None:
                    return f"{self.filename}: cannot compress: '{tool}' not found"
                try:
                    open(self.filename, "wb").close()
                except OSError as e:
                    return f"{self.filename}: {e.strerror}"
                cmd = f"{tool} -c > {shlex.quote(self.filename)}".encode()
                self._fp = popen(cmd, b"w")
                self._pipe = True
            else:
                path = os.fsencode(self.filename)
                self._fp = fopen(path, b"wb")
            if self._fp == NULL:
                return f"{self.filename}: {strerror(errno).decode()}"
        if self.unbuffered:
            setvbuf(self._fp, NULL, _IONBF, 0)
        return None

    cdef bint _write_raw(self, bytes data):
        cdef const unsigned char[:] v = data
        if not self._drain():
            return False
        return fwrite(&v[0], 1, len(data), self._fp) == <size_t> len(data)

    cdef bint _drain(self) noexcept:
        """Hand the gathered records to the file; False on a write error."""
        cdef size_t n = self._olen
        self._olen = 0
        if n and self._fp != NULL and fwrite(self._obuf, 1, n, self._fp) != n:
            return False
        return True

    def _close(self):
        if self._fp != NULL:
            if not self._drain():
                self._write_failed(errno)
            if self._pipe:
                pclose(self._fp)
            else:
                fclose(self._fp)
            self._fp = NULL

    def cleanup(self, stage):
        self._close()

    def _hotswap_peer(self):
        """The element this one replaces in a hot reload, if it writes the same file."""
        old = getattr(self.router, "hotswap_from", None)
        prev = old.element(self.name) if old is not None else None
        if isinstance(prev, ToDump) and prev.filename == self.filename and prev.linktype == self.linktype:
            return prev
        return None

    def take_state(self, old, errh):
        """Hot reload: keep appending to old's file (same FILENAME and link type:
        initialize left it to old) rather than starting a new one. The open file
        and the count move here, so old's cleanup closes nothing and
        ``old.take_state(self)`` gives them back."""
        cdef ToDump o
        if not isinstance(old, ToDump):
            return None
        o = <ToDump> old
        if o.filename != self.filename or o.linktype != self.linktype or o._fp == NULL:
            return None
        self._close()
        o._drain()
        self._fp = o._fp
        o._fp = NULL
        self._pipe = o._pipe
        self.count, o.count = o.count, self.count
        return {"counts": 1}

    def reset_counts(self):
        self.count = 0

    def flush(self):
        """Write out everything gathered so far."""
        if not self._drain():
            self._write_failed(errno)
        if self._fp != NULL:
            fflush(self._fp)

    # --- writing -----------------------------------------------------------------

    cdef void _write(self, Packet *p) noexcept:
        cdef RecordHeader h
        cdef int64_t ts = p.timestamp
        cdef int64_t sec, sub
        cdef uint32_t n = p.length
        if self._fp == NULL:
            return
        if ts == 0:
            ts = self._sched.now()
        sec = ts // 1000000000
        sub = ts - sec * 1000000000
        if sub < 0:
            sub += 1000000000
            sec -= 1
        h.sec = <uint32_t> sec
        h.subsec = <uint32_t> sub
        if not self.nano:
            h.subsec //= 1000
        h.len = n + (pkt_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET) if self.extra_length else 0)
        if n > self.snaplen:
            n = self.snaplen
        h.caplen = n
        if self._olen + sizeof(h) + n > OUT_BUFFER:
            if not self._drain():
                self._write_failed(errno)
                return
        if sizeof(h) + n > OUT_BUFFER:
            if fwrite(&h, sizeof(h), 1, self._fp) != 1 or fwrite(pkt_data(p), 1, n, self._fp) != n:
                self._write_failed(errno)
                return
        else:
            memcpy(self._obuf + self._olen, &h, sizeof(h))
            memcpy(self._obuf + self._olen + sizeof(h), pkt_data(p), n)
            self._olen += sizeof(h) + n
        self.count += 1
        if self.unbuffered and not self._drain():
            self._write_failed(errno)

    cdef void _write_failed(self, int err) noexcept:
        self._active = False
        try:
            print(f"ToDump({self.print_name}): {strerror(err).decode()}", file=sys.stderr)
        except BaseException:
            pass

    cdef void push(self, int port, Packet *p) noexcept:
        if self._active:
            self._write(p)
        self.checked_output_push(0, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef int i
        if self._active:
            for i in range(b.count):
                self._write(b.p[i])
        self.checked_output_push_batch(0, b)

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p = self.input_pull(0)
        if p != NULL and self._active:
            self._write(p)
        return p

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        cdef int i, n = self.input_pull_batch(0, b, max)
        if self._active:
            for i in range(n):
                self._write(b.p[i])
        return n

    cdef bint run_task(self, object task) noexcept:
        cdef Batch b
        cdef int i, n
        if not self._active:
            return False
        n = self.input_pull_batch(0, &b, 1 if self._per_packet else MAX_BATCH)
        for i in range(n):
            self._write(b.p[i])
            packet_kill(b.p[i])
        if n == 0 and not self._signal.active():
            return False
        (<Task> task).fast_reschedule()
        return n > 0
