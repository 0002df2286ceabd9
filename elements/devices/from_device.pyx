# cython: language_level=3
"""FromDevice: frames from a network interface, through AF_XDP or AF_PACKET rings."""
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t

from clickpy.netmap_shim.ring cimport (Port, Ring, RingHeader, Slot, ring_empty, ring_next, ring_slot,
                                       ring_take_packet)
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport (EXTRA_LENGTH_ANNO_OFFSET, MAX_BATCH, PACKET_BROADCAST, PACKET_HOST,
                                     PACKET_MULTICAST, Batch, Packet, packet_kill, pkt_data,
                                     pkt_set_anno_u32, pkt_set_network_header, pkt_take)
from clickpy.runtime.scheduler cimport Scheduler, Task

from clickpy.runtime.args import Arg, Bool, Int, String, Unsigned, Word
from clickpy.runtime.handlers import Read, Write

from clickpy.elements.devices import device_port


cdef class FromDevice(Element):
    """=c
    FromDevice(DEVNAME [, PROMISC, SNAPLEN, I<keywords> SNIFFER, METHOD, BURST, QUEUE, OUTBOUND, ...])

    =s netdevices
    reads packets from a network device

    =d
    Reads the frames received on the network interface DEVNAME and pushes
    them out output 0, link-level header included, in batches of up to
    BURST. The element sleeps until the device's descriptor is readable and
    then reads as long as frames keep coming.

    DEVNAME may also be an Ethernet address, or an AddressInfo name with one
    (extern:eth): the interface with that address in the router's network
    namespace. A netmap-style port name that names its backend is opened as
    is: pipe:NAME{N or pipe:NAME}N (a pipe end), pcap:FILE (a capture file,
    read; the element stops at its end, state eof).

    METHOD chooses how: AFXDP (an AF_XDP socket; an XDP program hands the
    frames over, native on drivers that have XDP, such as veth, else in skb
    mode; the frames land in clickpy's own buffers without a copy) or
    AFPACKET (a packet socket with mmap'd TPACKET_V3 rings; Click's LINUX
    also means this). By default the fastest method that can do what the
    other arguments ask is tried first, and the next one if it fails (a
    warning says why): AF_XDP cannot leave frames to the host, so it is
    used only with SNIFFER false.

    Keyword arguments:

    =over 8

    =item SNIFFER
    Boolean. If true (the default, as in Click), the host stack also
    receives every frame. If false, it does not: AFXDP takes the frames;
    AFPACKET drops them for the host after reading them.

    =item PROMISC
    Boolean. Put the device in promiscuous mode while the element runs.
    Default false.

    =item SNAPLEN
    Unsigned. Longer frames are cut to SNAPLEN bytes (the extra length
    annotation says how many were cut). Default 2046.

    =item METHOD
    AFXDP or AFPACKET (or LINUX), see above.

    =item BURST
    Integer. Most frames pushed per scheduling, as one batch. Default 32.

    =item QUEUE
    Unsigned. The receive queue to read (AFXDP only). Default 0.

    =item OUTBOUND
    Boolean. Also emit frames the host sends on the device (AFPACKET
    only). Default false.

    =item PROTOCOL
    Unsigned. If nonzero, emit only frames of this Ethernet type.

    =item FORCE_IP
    Boolean. If true, emit only IPv4 frames (with the IP header
    annotation set) on output 0; others go to output 1 if it exists.

    =item HEADROOM
    Unsigned. Bytes left before the frame in its buffer (AFPACKET).

    =item TIMESTAMP
    Boolean. Set the timestamp annotation. Default true.

    =back

    A TCP or UDP checksum that the sender left for offload to finish (as a
    host or container sending through a veth does) is finished before the
    frame is emitted, so forwarded frames arrive with valid checksums.

    Errors say which device and what was tried: a missing interface, no
    permission, a METHOD that cannot work. A device that goes down is
    reported and read again when it comes back; one that disappears stops
    this element, and the router runs on.

    =h count read-only
    Frames emitted.
    =h drops read-only
    Frames dropped before they were emitted (no buffer left, too long).
    =h kernel_drops read-only
    Frames the kernel dropped because the ring was full.
    =h reset_counts write-only
    Zero count and drops.
    =h method read-only
    AFXDP or AFPACKET.
    =h mode read-only
    For AFXDP, where the XDP program runs: native or skb.
    =h encap read-only
    ETHER.
    =h state read-only
    up, down or gone; for a port named with its backend, failed (a pipe's
    other end gone, a damaged capture file) or eof (a pcap port read to its end).
    =h checksums_finished read-only
    TCP/UDP checksums left partial by the sender's offload that were finished.

    =e
      FromDevice(eth0, SNIFFER false) -> Queue -> ToDevice(eth1);

    =a ToDevice, FromHost, ToHost
    """
    port_count = "0/1-2"
    processing = "h"
    configure_phase = 40
    arguments = (
        Arg("DEVNAME", String, positional=True, mandatory=True),
        Arg("PROMISC", Bool, False, positional=True),
        Arg("SNAPLEN", Unsigned, 2046, positional=True),
        Arg("SNIFFER", Bool, True),
        Arg("FORCE_IP", Bool, False),
        Arg("METHOD", Word, ""),
        Arg("CAPTURE", Word, "", attr="capture"),
        Arg("BPF_FILTER", String, ""),
        Arg("PROTOCOL", Unsigned, 0),
        Arg("OUTBOUND", Bool, False),
        Arg("HEADROOM", Unsigned, 48),
        Arg("ENCAP", Word, "ETHER"),
        Arg("BURST", Int, 32),
        Arg("QUEUE", Unsigned, 0),
        Arg("TIMESTAMP", Bool, True),
    )
    handlers = (
        Read("count", lambda e: e.count),
        Read("drops", lambda e: e.drops + e._backend_drops()),
        Read("kernel_drops", lambda e: e.kernel_drops()),
        Write("reset_counts", lambda e, v: e.reset_counts(), button=True),
        Read("method", lambda e: e.method.upper() if e.method else ""),
        Read("mode", lambda e: getattr(e.shared.port, "mode", "") if e.shared else ""),
        Read("encap", lambda e: "ETHER"),
        Read("state", lambda e: e.state),
        Read("checksums_finished", lambda e: e.checksums_finished()),
    )

    cdef public str devname
    cdef public bint promisc, sniffer, force_ip, outbound, timestamp
    cdef public unsigned snaplen, protocol, headroom, queue
    cdef public int burst
    cdef public str method, capture, bpf_filter, encap
    cdef public uint64_t count, drops
    cdef public Task task
    cdef public object shared
    cdef public str state
    cdef Port _port
    cdef RingHeader *_rxr
    cdef uint16_t _ifindex
    cdef uint16_t _protocol_be
    cdef bint _per_packet
    cdef bint _file
    cdef int64_t _empty_runs

    def __cinit__(self):
        self._rxr = NULL
        self.shared = None
        self.state = "closed"
        self.method = ""

    @classmethod
    def host_devices(cls, conf):
        """The host interfaces an element configured with conf opens (for clickpy deploy)."""
        return device_port.host_devices(cls, conf)

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        ok = True
        if self.capture and not self.method:
            self.method = self.capture
        m = device_port.parse_method(self.method, errh)
        if m is None:
            ok = False
        else:
            self.method = m
        if self.snaplen > 65535 or self.snaplen < 14:
            errh.error("SNAPLEN out of range")
            ok = False
        if self.headroom > 1024:
            errh.error("HEADROOM out of range")
            ok = False
        if self.burst <= 0:
            errh.error("BURST out of range")
            ok = False
        if self.encap.upper() != "ETHER":
            errh.error(f"ENCAP {self.encap} is not supported (only ETHER)")
            ok = False
        if self.bpf_filter:
            errh.warning("not using METHOD PCAP, BPF filter ignored")
        if self.protocol > 0xFFFF:
            errh.error("PROTOCOL out of range")
            ok = False
        self._protocol_be = ((self.protocol & 0xFF) << 8) | (self.protocol >> 8)
        return ok

    def initialize(self, errh):
        name = device_port.resolve_device(self, self.devname, errh)
        if name is None:
            return False
        self.devname = name
        options = {"promisc": self.promisc, "sniffer": self.sniffer, "outbound": self.outbound,
                   "queue": self.queue, "headroom": self.headroom}
        shared = device_port.open_shared(self, self.devname, self.method, options, errh,
                                         receive=True, sniffer=self.sniffer)
        if shared is None:
            return False
        port = shared.port
        if not port.rx_rings:
            # ToDevice opened it for sending only; a receiving port is needed.
            shared.release(self)
            errh.error(f"{self.devname}: the device is open for sending only")
            return False
        self.shared = shared
        self.method = shared.method
        self._port = <Port> port
        self._rxr = (<Ring> port.rx_rings[0]).hdr
        self._ifindex = <uint16_t> (getattr(port, "ifindex", 0) & 0xFFFF)
        self._per_packet = bool(getattr(self.router, "per_packet", False))
        self._file = shared.direct and shared.method == "pcap"
        self.state = shared.state
        self.task = Task(self)
        self.task.initialize(self.router.scheduler, True)
        shared.want_read(self, self._readable)
        shared.start_watch()
        if self.state == "down":
            device_port.report(self, f"device {self.devname} is down")
        return True

    def _readable(self):
        self.task.reschedule()

    def cleanup(self, stage):
        if self.shared is not None:
            self._rxr = NULL
            self._port = None
            shared, self.shared = self.shared, None
            shared.release(self)
        if self.task is not None:
            self.task.unschedule()

    def reset_counts(self):
        self.count = 0
        self.drops = 0

    def _backend_drops(self):
        if self.shared is None:
            return 0
        return self.shared.port.stats().get("rx_drops", 0)

    def checksums_finished(self):
        if self.shared is None:
            return 0
        return self.shared.port.stats().get("rx_checksums_finished", 0)

    def kernel_drops(self):
        if self.shared is None:
            return "??"
        v = self.shared.port.stats().get("kernel_drops")
        return "??" if v is None else v

    def device_state_changed(self, state):
        old, self.state = self.state, state
        if state == "gone":
            device_port.report(self, f"device {self.devname} disappeared; this element stops "
                                     f"(the router keeps running)")
            self.cleanup("gone")
            self.state = "gone"
        elif state == "down":
            device_port.report(self, f"device {self.devname} is down")
        elif old == "down":
            device_port.report(self, f"device {self.devname} is up again")
            self.task.reschedule()

    def _at_end(self):
        """A pcap port has no more frames: the element is done; it stops
        waiting for the descriptor and its state reads 'eof'."""
        if self.shared is None or not getattr(self.shared.port, "eof", False):
            return
        self.state = "eof"
        self.shared.stop_reading(self)

    def _port_failed(self):
        if self.shared is None:
            return
        err = self.shared.port.error_state()
        if self.shared.direct:
            # A pipe whose other end is gone, a damaged capture file: the
            # frames before it were delivered; the element stops.
            device_port.report(self, f"{err or self.devname + ': port failed'}; this element stops")
            self.cleanup("failed")
            self.state = "failed"
            return
        # Look at the device now rather than at the next timer tick.
        if self.shared.check_now() == "up" and err:
            device_port.report(self, f"{self.devname}: {err}")

    cdef bint run_task(self, object task) noexcept:
        cdef RingHeader *r = self._rxr
        cdef Batch b
        cdef Packet *p
        cdef Slot *s
        cdef unsigned char *d
        cdef uint32_t ptype
        cdef int n = 0
        cdef int64_t now = 0
        cdef int avail
        if r == NULL:
            return False
        if ring_empty(r):
            avail = self._port.rxsync(0)
            if avail < 0:
                try:
                    self._port_failed()
                except BaseException:
                    pass
                return False
            if avail == 0:
                if self._file:
                    try:
                        self._at_end()
                    except BaseException:
                        pass
                return False  # the descriptor wakes us
        if self.timestamp:
            now = (<Scheduler> self.router.scheduler).now()
        b.count = 0
        while n < self.burst and not ring_empty(r):
            s = ring_slot(r, r.head)
            ptype = s.ptr
            # The slot's buffer becomes the packet's (the slot gets a fresh one).
            p = ring_take_packet(r, r.head, True)
            r.head = ring_next(r, r.head)
            n += 1
            if p == NULL:
                self.drops += 1
                continue
            d = pkt_data(p)
            if self._protocol_be and (p.length < 14 or (d[12] | (d[13] << 8)) != self._protocol_be):
                packet_kill(p)
                continue
            p.mac = p.data
            p.timestamp = now
            p.device = self._ifindex
            if ptype:
                p.packet_type = ptype - 1
            elif p.length >= 6 and d[0] & 1:
                if d[0] == 0xFF and d[1] == 0xFF and d[2] == 0xFF and d[3] == 0xFF and d[4] == 0xFF and d[5] == 0xFF:
                    p.packet_type = PACKET_BROADCAST
                else:
                    p.packet_type = PACKET_MULTICAST
            if p.length > self.snaplen:
                pkt_set_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET, p.length - self.snaplen)
                pkt_take(p, p.length - self.snaplen)
            if self.force_ip:
                if p.length >= 34 and d[12] == 0x08 and d[13] == 0x00 and (d[14] >> 4) == 4 and (d[14] & 0x0F) >= 5:
                    pkt_set_network_header(p, 14, (d[14] & 0x0F) << 2)
                else:
                    self.count += 1
                    self.checked_output_push(1, p)
                    continue
            self.count += 1
            if self._per_packet:
                self.output_push(0, p)
            else:
                b.p[b.count] = p
                b.count += 1
                if b.count == MAX_BATCH:
                    self.output_push_batch(0, &b)
                    b.count = 0
        r.cur = r.head
        if b.count:
            self.output_push_batch(0, &b)
        if not ring_empty(r) or n == self.burst:
            (<Task> task).fast_reschedule()
        elif not self._file and self._port.rxsync(0) != 0:
            # Only a sync that finds nothing arms the descriptor: frames that
            # were waiting when this task first ran came with no wake-up, and
            # without this sync the next frame would ring no bell. (A file's
            # descriptor stays readable while frames remain: it needs none.)
            (<Task> task).fast_reschedule()
        return n > 0
