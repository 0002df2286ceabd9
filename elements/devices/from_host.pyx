# cython: language_level=3
"""FromHost: frames the host sends through a tap device."""

from libc.stdint cimport int64_t, uint64_t

from clickpy.netmap_shim.ring cimport Port, Ring, RingHeader, ring_empty, ring_next, ring_take_packet
from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.packet cimport (DST_IP_ANNO_OFFSET, MAX_BATCH, Batch, Packet, pkt_data,
                                     pkt_set_network_header)
from clickpy.runtime.scheduler cimport Scheduler, Task
from libc.string cimport memcpy

from clickpy.runtime.args import Arg, EtherAddress, IPAddress, IPPrefix, String, Unsigned, mask_prefix_len, unparse_ip
from clickpy.runtime.handlers import Read

from clickpy.elements.devices import device_port
from clickpy.netmap_shim.ring import PortError, open_port


cdef class FromHost(Element):
    """=c
    FromHost(DEVNAME [, DST] [, I<keywords> GATEWAY, ETHER, HEADROOM, MTU])

    =s comm
    interface to a tap device (user-level)

    =d
    Creates the tap device DEVNAME and pushes out output 0 every frame the
    host sends through it, as Ethernet frames. If DST, an IP prefix such as
    10.0.0.1/24, is given, the device gets that address and netmask and is
    brought up; a nonzero GATEWAY (in DST's network) becomes the default
    route. ETHER sets the device's Ethernet address, MTU its MTU; HEADROOM
    is the room left before each frame in its buffer. The device disappears
    when the router stops.

    ToHost with the same DEVNAME hands frames to the host through the same
    device. The host sends ARP queries to the device; answer them (for
    example with ARPResponder) to receive IP packets.

    FromHost sets the IP header and destination address annotations of IPv4
    frames. It stops reading while the queues downstream are full.

    =h dev_name read-only
    The device's name.
    =h signal read-only
    Whether downstream has room.
    =h count read-only
    Frames emitted.

    =e
      FromHost(fake0, 192.0.0.1/8)
        -> cl :: Classifier(12/0806, 12/0800);
      cl[0] -> ARPResponder(0.0.0.0/0 1:1:1:1:1:1) -> ToHost(fake0);
      cl[1] -> ...

    =a ToHost, FromDevice, ToDevice
    """
    port_count = "0/1"
    processing = "h"
    configure_phase = 40
    arguments = (
        Arg("DEVNAME", String, positional=True, mandatory=True),
        Arg("DST", IPPrefix, None, positional=True),
        Arg("GATEWAY", IPAddress, None),
        Arg("ETHER", EtherAddress, None),
        Arg("HEADROOM", Unsigned, 48),
        Arg("MTU", Unsigned, 0),
        Arg("BURST", Unsigned, 32),
    )
    handlers = (
        Read("dev_name", lambda e: e.dev_name),
        Read("signal", lambda e: e.signal_active()),
        Read("count", lambda e: e.count),
    )

    cdef public str devname, dev_name
    cdef public object dst, gateway, ether
    cdef public unsigned headroom, mtu, burst
    cdef public uint64_t count, drops
    cdef public Task task
    cdef public object shared
    cdef Port _port
    cdef RingHeader *_rxr
    cdef NotifierSignal _signal
    cdef bint _reading

    def __cinit__(self):
        self._rxr = NULL
        self.shared = None
        self.dev_name = ""

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        if not self.devname:
            errh.error("must specify device name")
            return False
        if self.headroom > 1024:
            errh.error("HEADROOM too large")
            return False
        if self.gateway and self.dst:
            addr, mask = self.dst
            if self.gateway & mask != addr & mask:
                errh.error("bad GATEWAY")
                return False
        if self.burst == 0:
            self.burst = 1
        return True

    def initialize(self, errh):
        options = {"headroom": self.headroom}
        if self.dst:
            plen = mask_prefix_len(self.dst[1])
            options["addr"] = f"{unparse_ip(self.dst[0])}/{unparse_ip(self.dst[1]) if plen < 0 else plen}"
        if self.gateway:
            options["gateway"] = unparse_ip(self.gateway)
        if self.ether:
            options["ether"] = ":".join(f"{b:02x}" for b in self.ether)
        if self.mtu:
            options["mtu"] = self.mtu
        try:
            port = open_port(f"tap:{self.devname}", **options)
        except PortError as e:
            errh.error(str(e))
            return False
        hosts = self.router.attachments.setdefault("hosts", {})
        self.shared = device_port.SharedPort(self.router, port.ifname, port, "tap")
        self.shared.users.append(self)
        hosts[self.devname] = self.shared
        self.dev_name = port.ifname
        self._port = <Port> port
        self._rxr = (<Ring> port.rx_rings[0]).hdr
        self.task = Task(self)
        self.task.initialize(self.router.scheduler, True)
        self._signal = self.router.downstream_full_signal(self, 0, self.task)
        self._reading = True
        self.shared.want_read(self, self._readable)
        return True

    def _readable(self):
        self.task.reschedule()

    def signal_active(self):
        return self._signal is not None and self._signal.active()

    def cleanup(self, stage):
        if self.shared is not None:
            self._rxr = NULL
            self._port = None
            shared, self.shared = self.shared, None
            hosts = self.router.attachments.get("hosts", {})
            if hosts.get(self.devname) is shared:
                del hosts[self.devname]
            shared.release(self)
        if self.task is not None:
            self.task.unschedule()

    def device_state_changed(self, state):
        pass

    def _pause(self, bint on):
        # While downstream is full, stop listening to the device (Click's way).
        if self.shared is None:
            return
        if on and self._reading:
            self._reading = False
            self.shared.stop_reading(self)
        elif not on and not self._reading:
            self._reading = True
            self.shared.want_read(self, self._readable)

    cdef bint run_task(self, object task) noexcept:
        cdef RingHeader *r = self._rxr
        cdef Batch b
        cdef Packet *p
        cdef unsigned char *d
        cdef unsigned n = 0
        cdef int64_t now
        if r == NULL:
            return False
        if not self._signal.active():
            try:
                self._pause(True)
            except BaseException:
                pass
            return False
        if not self._reading:
            try:
                self._pause(False)
            except BaseException:
                pass
        if ring_empty(r) and self._port.rxsync(0) <= 0:
            return False
        now = (<Scheduler> self.router.scheduler).now()
        b.count = 0
        while n < self.burst and not ring_empty(r) and b.count < MAX_BATCH:
            p = ring_take_packet(r, r.head, True)
            r.head = ring_next(r, r.head)
            n += 1
            if p == NULL:
                self.drops += 1
                continue
            d = pkt_data(p)
            p.mac = p.data
            p.timestamp = now
            if p.length >= 34 and d[12] == 0x08 and d[13] == 0x00:
                pkt_set_network_header(p, 14, (d[14] & 0x0F) << 2)
                memcpy(&p.anno[DST_IP_ANNO_OFFSET], d + 30, 4)
            b.p[b.count] = p
            b.count += 1
        r.cur = r.head
        self.count += b.count
        self.output_push_batch(0, &b)
        if not ring_empty(r) or n == self.burst:
            (<Task> task).fast_reschedule()
        return n > 0
