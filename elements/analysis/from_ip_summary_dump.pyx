# cython: language_level=3
"""FromIPSummaryDump: builds packets from an IP summary dump (Click's text trace format)."""
import os
import re

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport ActiveNotifier
from clickpy.runtime.packet cimport (DEFAULT_HEADROOM, DST_IP_ANNO_OFFSET, EXTRA_LENGTH_ANNO_OFFSET,
                                     EXTRA_PACKETS_ANNO_OFFSET, FIRST_TIMESTAMP_ANNO_OFFSET,
                                     AGGREGATE_ANNO_OFFSET, PAINT_ANNO_OFFSET, Packet, packet_clone,
                                     packet_kill, packet_make, packet_uniqueify, pkt_anno_u32, pkt_data,
                                     pkt_set_anno_u32)
from clickpy.runtime.scheduler cimport Scheduler, Task, Timer
from clickpy.elements.standard.random_seed cimport click_random

from clickpy.runtime.args import AnyArg, Arg, ArgError, Bool, InputFilename, String, Unsigned
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite, Write
from clickpy.lang.confstring import split_words, unquote

from clickpy.elements.analysis import ipsummary_format as fmt
from clickpy.elements.analysis.trace_file import (SAMPLING_SHIFT, SampleArg, TraceFile, TraceFileError,
                                                  print_filename, report, unparse_sample)


cdef enum:
    SAMPLE_ONE = 1 << 28           # probability 1 in Click's fixed point (SAMPLING_SHIFT bits)
    SAMPLE_MASK = (1 << 28) - 1


cdef inline int64_t _first_ts(Packet *p) noexcept nogil:
    cdef int64_t v
    memcpy(&v, &p.anno[FIRST_TIMESTAMP_ANNO_OFFSET], 8)
    return v


def _byte(text, element=None):
    v = Unsigned(text, element)
    if v > 255:
        raise ArgError("expected byte (0-255)")
    return v


def _write_active(e, value):
    try:
        e.set_active(Bool(value))
    except ArgError:
        raise HandlerError("type mismatch") from None


def _write_stop(e, value):
    e.active = False
    e.router.please_stop_driver()


cdef class FromIPSummaryDump(Element):
    """=c
    FromIPSummaryDump(FILENAME [, I<keywords> STOP, TIMING, ACTIVE, ZERO, CHECKSUM, PROTO,
    MULTIPACKET, SAMPLE, FIELDS, FLOWID, ALLOW_NONEXISTENT, DATA])

    =s traces
    reads packets from an IP summary dump file

    =d
    Reads packet descriptions from an IP summary dump (as ToIPSummaryDump
    writes; text or '!binary', gzip/bzip2/xz compressed too), builds real
    IPv4 packets from them (with TCP, UDP or ICMP headers as the fields
    call for) and emits them. FILENAME '-' is standard input; DATA gives
    the dump as a string instead.

    The '!data' line names the fields (FIELDS gives them when the dump does
    not); '!proto' sets the protocol of packets whose fields do not
    (default PROTO, 6: TCP); '!flowid SRC SPORT DST DPORT [PROTO]' (or
    FLOWID) gives addresses and ports for packets without them. A '-' field
    is not set. Packets have IP version 4, TTL 100 and a correct header
    length; their data beyond the fields is zero. CHECKSUM sets IP, TCP, UDP
    and ICMP checksums and makes the packet as long as its IP length;
    otherwise packets are short and the extra length annotation accounts
    for the difference. MULTIPACKET emits 'count' packets per line. SAMPLE
    keeps each packet with that probability. TIMING emits packets at the
    pace of their timestamps (simulated time under --simtime). STOP stops
    the driver at the end. ACTIVE false starts inactive.

    A line no field of which parses is reported once ('FILE:LINE: packet
    parse error'); the first bad field value is reported too.

    Output is agnostic: a task pushes one packet per run, or each pull
    returns the next packet (an empty notifier tells pullers when the dump
    has run out).

    =h sampling_prob read-only
    =h active read/write
    =h encap read-only: 'IP'
    =h filename, filesize, filepos read-only
    =h stop write-only: deactivate and stop the driver

    =e
    FromIPSummaryDump(trace.txt, STOP true, CHECKSUM true) -> CheckIPHeader -> ...
    """
    port_count = "0/1"
    processing = "a"
    arguments = (
        Arg("FILENAME", InputFilename, None, positional=True),
        Arg("STOP", Bool, False),
        Arg("ACTIVE", Bool, True),
        Arg("ZERO", Bool, True),
        Arg("TIMING", Bool, False),
        Arg("CHECKSUM", Bool, False),
        Arg("SAMPLE", SampleArg, SAMPLE_ONE),
        Arg("PROTO", _byte, 6),
        Arg("MULTIPACKET", Bool, False),
        Arg("DEFAULT_CONTENTS", AnyArg, None, attr="default_contents"),
        Arg("DEFAULT_FIELDS", AnyArg, None, attr="default_fields"),
        Arg("DEFAULT_FLOWID", AnyArg, None, attr="default_flowid"),
        Arg("CONTENTS", AnyArg, None, attr="contents_arg"),
        Arg("FIELDS", AnyArg, None, attr="fields_arg"),
        Arg("FLOWID", AnyArg, None, attr="flowid_arg"),
        Arg("ALLOW_NONEXISTENT", Bool, False),
        Arg("DATA", String, None),
    )
    handlers = (
        Read("sampling_prob", lambda e: unparse_sample(e.sample)),
        ReadWrite("active", lambda e: e.active, _write_active),
        Read("encap", lambda e: "IP"),
        Write("stop", _write_stop, button=True),
        Read("filename", lambda e: e.trace_name()),
        Read("filesize", lambda e: e.tf.filesize() if e.tf is not None else "-"),
        Read("filepos", lambda e: e.tf.filepos if e.tf is not None else 0),
    )

    cdef public object filename
    cdef public bint stop, active, zero, timing, checksum, multipacket, allow_nonexistent
    cdef public uint32_t sample
    cdef public int proto
    cdef public object default_contents, default_fields, default_flowid, contents_arg, fields_arg, flowid_arg
    cdef public object data
    cdef public object tf                   # TraceFile
    cdef public Task task
    cdef list _fields                        # reader Field per column, None for ignored columns
    cdef list _order                         # column indices in injection order
    cdef int _default_proto
    cdef object _flowid                      # (src, sport, dst, dport) or None
    cdef int _minor_version
    cdef bint _binary
    cdef bint _format_complaint
    cdef bint _value_complaint
    cdef bint _have_timing
    cdef int64_t _timing_offset
    cdef Packet *_work                       # waiting for its time, or the rest of a multipacket
    cdef uint32_t _mp_length
    cdef int64_t _mp_delta, _mp_end
    cdef Scheduler _sched
    cdef Timer _timer
    cdef ActiveNotifier _notifier
    cdef bint _mp_work                       # _work is the rest of a multipacket line

    def __cinit__(self):
        self._work = NULL
        self.task = None
        self.tf = None
        self._fields = []
        self._order = []
        self._notifier = ActiveNotifier("empty", 0, True)

    def __dealloc__(self):
        if self._work != NULL:
            packet_kill(self._work)
            self._work = NULL

    # --- configuration -------------------------------------------------------------

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        if self.sample > SAMPLE_ONE:
            errh.warning("SAMPLE probability reduced to 1")
            self.sample = SAMPLE_ONE
        elif self.sample == 0:
            errh.warning("SAMPLE probability is 0; emitting no packets")
        self._default_proto = self.proto
        self._flowid = None
        self._binary = False
        self._fields, self._order = [], []
        if self.data is not None and self.filename is not None:
            return errh.error("FILENAME and DATA conflict")
        if self.data is None and self.filename is None:
            return errh.error("FILENAME: required argument missing")
        self.tf = TraceFile(self.filename, self.data.encode("latin-1", "replace") if self.data is not None else None)
        fields = next((x for x in (self.fields_arg, self.contents_arg, self.default_fields, self.default_contents)
                       if x is not None), None)
        messages = []
        if fields is not None:
            self._bang_data(fields, messages)
        flowid = self.flowid_arg if self.flowid_arg is not None else self.default_flowid
        if flowid is not None:
            self._bang_flowid("!flowid " + flowid, messages)
        for kind, text in messages:
            (errh.error if kind == "error" else errh.warning)(text)
        return not any(kind == "error" for kind, _ in messages)

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self._timer = Timer(self)
        self._timer.initialize(self._sched)
        self._format_complaint = self._value_complaint = False
        if self.output_is_push(0):
            self.task = Task(self)
            self.task.initialize(self._sched, self.active)
        else:
            self._notifier.set_active(self.active, False)
        try:
            if not self.tf.open(self.allow_nonexistent):
                return True
        except TraceFileError as err:
            return errh.error(str(err))
        self._minor_version = fmt.MINOR_VERSION
        line = self.tf.peek_line()
        text = line.decode("latin-1") if line is not None else ""
        if text.startswith("!IPSummaryDump"):
            m = re.match(r"\s*(\d+)\.(\d+)", text[14:])
            if m:
                major, minor = int(m.group(1)), int(m.group(2))
                self._minor_version = minor
                if major != fmt.MAJOR_VERSION or minor > fmt.MINOR_VERSION:
                    errh.warning(self.tf.warning(f"unexpected IPSummaryDump version {major}.{minor}"))
                    self._minor_version = fmt.MINOR_VERSION
            self.tf.read_line()
        elif not text.startswith(("!creator", "!data", "!contents", "!proto", "!flowid")) and not self._fields:
            errh.warning(self.tf.warning("missing banner line; is this an IP summary dump?"))
        return True

    def cleanup(self, stage):
        if self.tf is not None:
            self.tf.close()
        if self._work != NULL:
            packet_kill(self._work)
            self._work = NULL

    def port_notifier(self, isoutput, port, kind):
        if isoutput and kind == "empty" and not self.output_is_push(0):
            return self._notifier
        return None

    def trace_name(self):
        return print_filename(self.filename if self.data is None else None)

    # --- '!' lines ------------------------------------------------------------------

    def _bang_data(self, line, messages):
        words = split_words(line)
        self._fields = []
        for i, w in enumerate(words):
            word = unquote(w)
            if i == 0 and word in ("!data", "!contents"):
                continue
            f = fmt.find_reader(word)
            if f is None:
                messages.append(("warning", f"unknown content type '{word}'"))
            elif f.inject is None:
                messages.append(("warning", f"content type '{word}' ignored on input"))
                f = None
            self._fields.append(f)
        if not self._fields:
            messages.append(("error", "no contents specified"))
        self._order = sorted(range(len(self._fields)),
                             key=lambda i: (self._fields[i].order if self._fields[i] is not None
                                            else fmt.ORDER_ANNO, i))

    def _bang_proto(self, line, what, messages):
        words = split_words(line)
        if len(words) != 2:
            messages.append(("error", f"bad {what}"))
            return
        try:
            self._default_proto = fmt.parse_ip_proto(words[1])
        except fmt.Bad:
            messages.append(("error", f"bad protocol in {what}"))

    def _bang_flowid(self, line, messages):
        words = split_words(line)
        try:
            if len(words) < 5:
                raise fmt.Bad(line)
            src = bytes(4) if words[1] == "-" else fmt.parse_ip(words[1], self)
            sport = 0 if words[2] == "-" else fmt.parse_uint(words[2], 65536)
            dst = bytes(4) if words[3] == "-" else fmt.parse_ip(words[3], self)
            dport = 0 if words[4] == "-" else fmt.parse_uint(words[4], 65536)
        except fmt.Bad:
            messages.append(("error", "bad !flowid specification"))
            self._flowid = None
            return
        if len(words) >= 6:
            self._bang_proto("! " + words[5], "!flowid", messages)
        self._flowid = (src, sport, dst, dport)

    def _bang_aggregate(self, line, messages):
        words = split_words(line)
        try:
            if len(words) != 2:
                raise fmt.Bad(line)
            fmt.parse_uint(words[1])
        except fmt.Bad:
            messages.append(("error", "bad !aggregate specification"))

    def _bang_binary(self, line, messages):
        if len(split_words(line)) != 1:
            messages.append(("error", "bad !binary specification"))
        self._binary = True
        self.tf.landmark_pattern = "%f:record %l"
        self.tf.lineno = 1

    def _bang(self, text):
        """A '!' line met while reading: act on it; report problems with the file and line."""
        messages = []
        for word, handler in (("!data", self._bang_data), ("!contents", self._bang_data),
                              ("!flowid", self._bang_flowid), ("!aggregate", self._bang_aggregate),
                              ("!binary", self._bang_binary)):
            if text.startswith(word) and len(text) > len(word) and text[len(word)].isspace():
                handler(text, messages)
                break
        else:
            if text.startswith("!proto") and len(text) > 6 and text[6].isspace():
                self._bang_proto(text, "!proto", messages)
        for kind, message in messages:
            report(self.tf.error(message) if kind == "error" else self.tf.warning(message))

    # --- records --------------------------------------------------------------------

    def _read_binary(self):
        """(textual, bytes) of the next binary record, or None at the end."""
        tf = self.tf
        head = tf.read_bytes(4)
        if head is None:
            return None
        length = int.from_bytes(head, "big") & 0x7FFFFFFF
        if length < 4:
            report(tf.error("binary record too short"))
            return None
        body = tf.read_bytes(length - 4)
        if body is None:
            report(tf.error(f"truncated binary record (needs {length - 4} bytes)"))
            return None
        tf.lineno += 1
        textual = bool(head[0] & 0x80)
        if textual:
            body = body.rstrip(b"\0")
        return textual, body

    def next_record(self):
        """The next packet as (PacketBuilder, extra length); None at the end; False for a line without one."""
        tf = self.tf
        if tf is None or not tf.initialized:
            return None
        while True:
            binary = self._binary
            if binary:
                rec = self._read_binary()
                if rec is None:
                    tf.close()
                    return None
                binary = not rec[0]
                raw = rec[1]
            else:
                raw = tf.read_line()
                if raw is None:
                    tf.close()
                    return None
            if not raw:
                continue
            if binary or raw[:1] not in (b"!", b"#"):
                break
            if raw[:1] == b"!":
                self._bang(raw.decode("latin-1"))
        b = fmt.PacketBuilder(self._default_proto, self._flowid, self._minor_version, self)
        nfields = 0
        fields = self._fields
        if binary:
            values = []
            pos = 0
            for f in fields:
                if f is None:
                    # an ignored column takes no bytes (Click's null reader)
                    values.append(None)
                elif f.btype == fmt.B_NOTALLOWED or pos > len(raw):
                    values.append(None)
                    pos = len(raw) + 1
                else:
                    v, pos = f.read_binary(b, raw, pos)
                    values.append(v)
            for i in self._order:
                f = fields[i]
                if f is None or values[i] is None:
                    continue
                f.inject(b, values[i])
                nfields += 1
        else:
            line = raw.decode("latin-1")
            args = fmt.split_line(line, len(fields))
            for i in self._order:
                f = fields[i]
                a = args[i]
                if not a or a == "-" or f is None:
                    continue
                try:
                    v = f.parse(a, b)
                except (fmt.Bad, ValueError):
                    if not self._value_complaint:
                        self._value_complaint = True
                        report(tf.warning(f"bad {f.name} value '{a}'"))
                    continue
                f.inject(b, v)
                nfields += 1
        if not nfields:
            if not self._format_complaint and (binary or raw.strip()):
                report(tf.error("no '!data' provided" if not fields else "packet parse error"))
                self._format_complaint = True
            return False
        extra = fmt.finish_packet(b, self.checksum, self.zero)
        return b, extra

    cdef Packet *_read_packet(self) noexcept:
        """Build the next packet; NULL at the end of the dump or for a line without a packet."""
        cdef Packet *p
        cdef const unsigned char[:] view
        cdef bytes data
        cdef int64_t first
        cdef uint32_t extra
        try:
            r = self.next_record()
            if not r:
                return NULL
            b, extra = r
            data = bytes(b.buf)
            view = data
            p = packet_make(DEFAULT_HEADROOM, &view[0] if len(data) else NULL, len(data), 0)
            if p == NULL:
                report(f"{self.declaration()}: out of packet buffers")
                return NULL
            if b.mac:
                p.mac = <int> p.data
            if b.net is not None:
                p.network = <int> p.data + <int> b.net
                p.transport = <int> p.data + <int> b.trans
                if len(data) >= b.net + 20 and b.is_ip:
                    memcpy(&p.anno[DST_IP_ANNO_OFFSET], &view[b.net + 16], 4)
            p.timestamp = b.ts
            first = b.first_ts
            memcpy(&p.anno[FIRST_TIMESTAMP_ANNO_OFFSET], &first, 8)
            p.anno[PAINT_ANNO_OFFSET] = b.paint
            pkt_set_anno_u32(p, AGGREGATE_ANNO_OFFSET, b.aggregate & 0xFFFFFFFF)
            pkt_set_anno_u32(p, EXTRA_PACKETS_ANNO_OFFSET, b.extra_packets & 0xFFFFFFFF)
            pkt_set_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET, extra)
            return p
        except BaseException as err:
            try:
                report(f"{self.declaration()}: {self.tf.landmark()}: {err!r}")
            except BaseException:
                pass
            return NULL

    cdef inline bint _at_end(self):
        return self.tf is None or not self.tf.initialized

    # --- multipacket lines --------------------------------------------------------------

    cdef Packet *_set_lengths(self, Packet *p, uint32_t extra) noexcept:
        """Make p's IP (and UDP) length say p.length + extra; NULL if out of memory."""
        cdef uint32_t length = p.length + extra
        cdef unsigned char *ip
        cdef uint32_t hl
        if p.network < 0 or <uint32_t> (p.network - <int> p.data) + 20 > p.length:
            return p
        ip = p.buffer + p.network
        if ((ip[2] << 8) | ip[3]) == (length & 0xFFFF):
            return p
        p = packet_uniqueify(p)
        if p == NULL:
            return NULL
        ip = p.buffer + p.network
        ip[2] = (length >> 8) & 0xFF
        ip[3] = length & 0xFF
        hl = (ip[0] & 15) << 2
        if ip[9] == 17 and <uint32_t> (p.network - <int> p.data) + hl + 6 <= p.length:
            ip[hl + 4] = ((length - hl) >> 8) & 0xFF
            ip[hl + 5] = (length - hl) & 0xFF
        return p

    cdef Packet *_multipacket(self, Packet *p) noexcept:
        cdef uint32_t count
        cdef Packet *q
        cdef int64_t first
        if p == NULL or pkt_anno_u32(p, EXTRA_PACKETS_ANNO_OFFSET) == 0:
            self._work = NULL
            self._mp_work = False
            return p
        count = 1 + pkt_anno_u32(p, EXTRA_PACKETS_ANNO_OFFSET)
        if not self._mp_work:
            self._mp_length = (p.length + pkt_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET)) // count
            if self._mp_length < p.length:
                self._mp_length = p.length
                pkt_set_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET, self._mp_length * (count - 1))
            self._mp_end = p.timestamp
            first = _first_ts(p)
            if first:
                self._mp_delta = (p.timestamp - first) // (count - 1)
                p.timestamp = first
            else:
                self._mp_delta = 0
            p = self._set_lengths(p, self._mp_length - p.length)
            if p == NULL:
                self._work = NULL
                return NULL
            self._mp_work = True
        self._work = p
        q = packet_clone(p)
        if q != NULL:
            pkt_set_anno_u32(q, EXTRA_PACKETS_ANNO_OFFSET, 0)
            pkt_set_anno_u32(q, EXTRA_LENGTH_ANNO_OFFSET, self._mp_length - q.length)
        pkt_set_anno_u32(self._work, EXTRA_PACKETS_ANNO_OFFSET, count - 2)
        pkt_set_anno_u32(self._work, EXTRA_LENGTH_ANNO_OFFSET,
                         pkt_anno_u32(self._work, EXTRA_LENGTH_ANNO_OFFSET) - self._mp_length)
        if count == 2:
            self._work.timestamp = self._mp_end
            self._work = self._set_lengths(self._work, pkt_anno_u32(self._work, EXTRA_LENGTH_ANNO_OFFSET))
            if self._work == NULL:
                self._mp_work = False
        else:
            self._work.timestamp += self._mp_delta
        return q

    # --- timing -----------------------------------------------------------------------

    cdef bint _check_timing(self, Packet *p) noexcept:
        cdef int64_t now = self._sched.now()
        cdef int64_t due
        if not self._have_timing:
            self._timing_offset = now - p.timestamp
            self._have_timing = True
        due = p.timestamp + self._timing_offset
        if now < due:
            self._timer.schedule_at(due)
            if not self.output_is_push(0):
                self._notifier.sleep()
            self._work = p
            return False
        if not self._mp_work:
            self._work = NULL
        return True

    cdef void run_timer(self, object timer) noexcept:
        if self.active:
            if self.task is not None:
                self.task.reschedule()
            else:
                self._notifier.wake()

    # --- emitting -----------------------------------------------------------------------

    cdef Packet *_next(self, int *state) noexcept:
        """The next packet to emit (the loop Click's run_task and pull share).

        state: 0 normal (the packet, or NULL for a line without one), 1 the
        dump has ended, 2 waiting for the next packet's time (TIMING).
        """
        cdef Packet *p
        state[0] = 0
        while True:
            if self._work != NULL:
                p = self._work
            else:
                p = self._read_packet()
            if p == NULL and self._at_end():
                state[0] = 1
                return NULL
            if p != NULL and self.timing and not self._check_timing(p):
                state[0] = 2
                return NULL
            if self.multipacket:
                p = self._multipacket(p)
            elif p != NULL and p == self._work:
                self._work = NULL
            if self.sample >= SAMPLE_ONE or (click_random() & (SAMPLE_MASK)) < self.sample:
                return p
            if p != NULL:
                packet_kill(p)

    cdef bint run_task(self, object task) noexcept:
        cdef int state
        cdef Packet *p
        if not self.active:
            return False
        p = self._next(&state)
        if state == 1:
            if self.stop:
                self.router.please_stop_driver()
            return False
        if state == 2:
            return False
        if p != NULL:
            self.output_push(0, p)
        (<Task> task).fast_reschedule()
        return True

    cdef Packet *pull(self, int port) noexcept:
        cdef int state
        cdef Packet *p
        if not self.active:
            return NULL
        p = self._next(&state)
        if state == 1:
            if self.stop:
                self.router.please_stop_driver()
            self._notifier.sleep()
            return NULL
        if state == 2:
            return NULL
        self._notifier.wake()
        return p

    # --- handlers -------------------------------------------------------------------------

    def set_active(self, bint active):
        self.active = active
        if self.task is not None:
            if active:
                self.task.reschedule()
        else:
            self._notifier.set_active(active, True)
