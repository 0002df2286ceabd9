# cython: language_level=3
"""ToIPSummaryDump: writes a line of chosen fields per packet (Click's IP summary dump)."""
import socket
import struct
import sys
import time

from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.packet cimport (AGGREGATE_ANNO_OFFSET, Batch, EXTRA_LENGTH_ANNO_OFFSET,
                                     EXTRA_PACKETS_ANNO_OFFSET, FIRST_TIMESTAMP_ANNO_OFFSET, PAINT_ANNO_OFFSET,
                                     Packet, pkt_anno_u32, pkt_set_anno_u32)
from clickpy.runtime.scheduler cimport Task

from clickpy.runtime.args import AnyArg, Arg, Bool, Filename, String, unparse_timestamp
from clickpy.runtime.handlers import Write
from clickpy.lang.confstring import quote, split_words, unquote

from clickpy.elements.analysis import ipsummary_format as fmt
from clickpy.elements.analysis.trace_file import open_output, stdout_is


cdef inline int64_t _first_ts(Packet *p) noexcept:
    cdef int64_t v
    memcpy(&v, &p.anno[FIRST_TIMESTAMP_ANNO_OFFSET], 8)
    return v


cdef class ToIPSummaryDump(Element):
    """=c
    ToIPSummaryDump(FILENAME [, I<keywords> FIELDS, VERBOSE, HEADER, BANNER, MULTIPACKET,
    BAD_PACKETS, CAREFUL_TRUNC, EXTRA_LENGTH, BINARY])

    =s traces
    writes packet summary information to an ASCII file

    =d
    Writes a line per packet to FILENAME ('-' for standard output) holding
    the FIELDS (default 'timestamp ip_src'), separated by spaces; a field
    that does not apply to a packet is written '-'. Fields: timestamp,
    ntimestamp, ts_sec, ts_usec, ts_usec1, first_timestamp, ip_src, ip_dst,
    ip_proto, ip_len, ip_hl, ip_id, ip_tos, ip_dscp, ip_ecn, ip_ttl,
    ip_frag, ip_fragoff, ip_sum, ip_opt, ip_capture_len, sport, dport,
    tcp_seq, tcp_ack, tcp_off, tcp_flags, tcp_window, tcp_urp, tcp_opt,
    tcp_ntopt, tcp_sack, udp_len, icmp_type, icmp_code, icmp_type_name,
    icmp_code_name, icmp_flowid, icmp_seq, icmp_nextmtu, payload,
    payload_len, payload_md5, payload_md5_hex, count, link, paint,
    direction, aggregate, eth_src, eth_dst, eth_type, wire_len (and Click's
    synonyms: 'src' for ip_src, 'ts' for timestamp, ...).

    The dump starts with '!IPSummaryDump 1.3' and '!data FIELDS' lines
    (HEADER false leaves them out; BANNER adds '!creator "BANNER"'; VERBOSE
    adds '!host' and '!runtime'). BINARY writes Click's binary records.
    MULTIPACKET writes 'count' lines for a packet with an extra packets
    annotation. BAD_PACKETS writes a '!bad' line before a packet whose
    headers are broken. EXTRA_LENGTH (default true) counts extra length
    annotations in lengths. Packets are checked before they are read: a
    short or bad packet gets '-' for the fields it cannot give.

    Packets leave on the output if there is one. With a pull input, a task
    pulls them whenever the queues upstream have some.

    =h flush write-only: flush buffered output

    =e
    FromDump(trace.pcap, FORCE_IP true, STOP true) -> ToIPSummaryDump(-, FIELDS src dst proto ip_len);
    """
    port_count = "1/0-1"
    processing = "a/h"
    flags = "S2"
    arguments = (
        Arg("FILENAME", Filename, positional=True, mandatory=True),
        Arg("FIELDS", AnyArg, None, attr="fields_arg"),
        Arg("CONTENTS", AnyArg, None, attr="contents_arg"),
        Arg("DATA", AnyArg, None, attr="data_arg"),
        Arg("VERBOSE", Bool, False),
        Arg("HEADER", Bool, True),
        Arg("BANNER", String, None),
        Arg("MULTIPACKET", Bool, False),
        Arg("BAD_PACKETS", Bool, False),
        Arg("CAREFUL_TRUNC", Bool, True),
        Arg("EXTRA_LENGTH", Bool, True),
        Arg("BINARY", Bool, False),
    )
    handlers = (Write("flush", lambda e, v: e.flush(), button=True),)

    cdef public str filename
    cdef public object fields_arg, contents_arg, data_arg, banner
    cdef public bint verbose, header, multipacket, bad_packets, careful_trunc, extra_length, binary
    cdef public uint64_t output_count
    cdef public list fields
    cdef public Task task
    cdef bint _active
    cdef bint _prepare
    cdef bint _forward                  # output 0 leads somewhere
    cdef object _out
    cdef object _write
    cdef NotifierSignal _signal

    def __cinit__(self):
        self.task = None
        self._out = None

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        text = next((x for x in (self.data_arg, self.contents_arg, self.fields_arg) if x is not None),
                    "timestamp ip_src")
        self.fields = []
        ok = True
        for w in split_words(text):
            word = unquote(w)
            f = fmt.find_writer(word)
            if f is None:
                errh.error(f"unknown content type '{word}'")
                ok = False
                continue
            self.fields.append(f)
            if self.binary and f.binary_size < 0:
                errh.error(f"cannot use field {word} with BINARY")
                ok = False
            if f.name == "count":
                # lines already carry their packet count
                self.multipacket = False
        if not self.fields and ok:
            errh.error("no contents specified")
            ok = False
        self._prepare = any(f.prepare for f in self.fields)
        return ok

    def initialize(self, errh):
        try:
            self._out = open_output(self.filename, self.binary)
        except OSError as e:
            return errh.error(f"{self.filename}: {e.strerror}")
        self._write = self._out.write
        self._forward = self.noutputs > 0 and self.output_is_push(0) and self.output_peer(0) is not None
        if self.input_is_pull(0):
            self.task = Task(self)
            self.task.initialize(self.router.scheduler, True)
            self._signal = self.router.upstream_empty_signal(self, 0, self.task)
        self._active = True
        self.output_count = 0
        if self.header:
            lines = [f"!IPSummaryDump {fmt.MAJOR_VERSION}.{fmt.MINOR_VERSION}\n"]
            if self.banner:
                lines.append(f"!creator {quote(self.banner)}\n")
            if self.verbose:
                lines.append(f"!host {socket.gethostname()}\n")
                now = self.router.scheduler.now()
                lines.append(f"!runtime {unparse_timestamp(now)} ({time.ctime(now / 1e9)})\n")
            names = ["timestamp" if f.name == "ntimestamp" and not self.binary else f.name for f in self.fields]
            lines.append("!data " + " ".join(names) + "\n")
            if self.binary:
                lines.append("!binary\n")
            self._emit("".join(lines))
        return True

    def cleanup(self, stage):
        if self._out is not None:
            try:
                if stdout_is(self._out):
                    self._out.flush()
                else:
                    self._out.close()
            except (OSError, ValueError):
                pass
        self._out = None

    def flush(self):
        if self._out is not None:
            self._out.flush()

    def _emit(self, text):
        if self.binary and isinstance(text, str):
            text = text.encode("latin-1")
        self._write(text)

    # --- one packet -----------------------------------------------------------------

    cdef object _desc(self, Packet *p, object bad):
        cdef int base = <int> p.data
        cdef int end = <int> (p.data + p.length)
        if p.mac >= 0 and p.mac < base:
            base = p.mac
        if p.network >= 0 and p.network < base:
            base = p.network
        cdef bytes buf = (<char *> p.buffer)[base:end]
        return fmt.PacketDesc(
            buf, <int> p.data - base,
            p.mac - base if p.mac >= 0 else -1,
            p.network - base if p.network >= 0 else -1,
            p.transport - base if p.transport >= 0 else -1,
            p.timestamp, _first_ts(p), p.anno[PAINT_ANNO_OFFSET],
            pkt_anno_u32(p, AGGREGATE_ANNO_OFFSET), pkt_anno_u32(p, EXTRA_PACKETS_ANNO_OFFSET),
            pkt_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET), bad, self.careful_trunc, self.extra_length, self)

    cdef void _write_one(self, Packet *p) noexcept:
        cdef uint32_t before
        try:
            bad = [] if self.bad_packets else None
            d = self._desc(p, bad)
            before = pkt_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET)
            record = fmt.summarize(d, self.fields, self.binary)
            if d.extra_length != before:
                # checking the headers adjusts the extra length annotation, as in Click
                pkt_set_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET, d.extra_length & 0xFFFFFFFF)
            if bad:
                self._write_line(bad[0])
            self._write(record)
            self.output_count += 1
        except BaseException as err:
            self._active = False
            try:
                print(f"{self.declaration()}: {err}", file=sys.stderr)
            except BaseException:
                pass

    def _write_line(self, str s):
        if self.binary:
            data = s.encode("latin-1")
            self._write(struct.pack("!I", (len(data) | 0x80000000) & 0xFFFFFFFF) + data)
        else:
            self._write(s)

    cdef void _write_packet(self, Packet *p, bint multipacket) noexcept:
        cdef uint32_t count, total_len, length, i, l
        cdef int64_t end_ts, delta, first
        if multipacket and pkt_anno_u32(p, EXTRA_PACKETS_ANNO_OFFSET) > 0:
            count = 1 + pkt_anno_u32(p, EXTRA_PACKETS_ANNO_OFFSET)
            total_len = length = p.length
            if self.extra_length:
                total_len += pkt_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET)
            if total_len < count * length:
                total_len = count * length
            end_ts = p.timestamp
            first = _first_ts(p)
            if first:
                delta = (end_ts - first) // (count - 1)
                p.timestamp = first
            else:
                delta = 0
            pkt_set_anno_u32(p, EXTRA_PACKETS_ANNO_OFFSET, 0)
            i = count
            while i > 0:
                l = total_len // i
                pkt_set_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET, l - length)
                total_len -= l
                self._write_one(p)
                if i == 1:
                    p.timestamp = end_ts
                else:
                    p.timestamp += delta
                i -= 1
        else:
            self._write_one(p)

    # --- the data path -------------------------------------------------------------------

    cdef void push(self, int port, Packet *p) noexcept:
        if self._active:
            self._write_packet(p, self.multipacket)
        self.checked_output_push(0, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef int i
        if self._forward:
            # what downstream does with each packet (maybe print it too)
            # must come after this packet's line and before the next one's
            Element.push_batch(self, port, b)
            return
        if self._active:
            for i in range(b.count):
                self._write_packet(b.p[i], self.multipacket)
        self.checked_output_push_batch(0, b)

    cdef bint run_task(self, object task) noexcept:
        cdef Packet *p
        if not self._active:
            return False
        p = self.input_pull(0)
        if p != NULL:
            self._write_packet(p, self.multipacket)
            self.checked_output_push(0, p)
            (<Task> task).fast_reschedule()
            return True
        if self._signal.active():
            (<Task> task).fast_reschedule()
        return False
