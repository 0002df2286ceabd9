# cython: language_level=3
"""ToHost: hands frames to the host through FromHost's tap device."""
from libc.stdint cimport uint64_t

from clickpy.netmap_shim.ring cimport Port, Ring, RingHeader, ring_next, ring_put_packet, ring_space
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet, packet_kill

from clickpy.runtime.args import Arg, String
from clickpy.runtime.handlers import Read


cdef class ToHost(Element):
    """=c
    ToHost(DEVNAME)

    =s comm
    sends packets to the host through a tap device (user-level)

    =d
    Hands Ethernet frames to the host's network stack, as if they had
    arrived on the tap device DEVNAME, which a FromHost with the same
    DEVNAME must have created. Give the host IP packets addressed to it
    (with a routable source) and ARP replies; it drops the rest. Frames
    shorter than an Ethernet header are dropped.

    =h count read-only
    Frames handed to the host.
    =h dev_name read-only
    The device's name.
    =h drops read-only
    Frames that could not be handed over.

    =a FromHost
    """
    port_count = "1/0"
    processing = "h"
    configure_phase = 45
    arguments = (Arg("DEVNAME", String, positional=True, mandatory=True),)
    handlers = (
        Read("dev_name", lambda e: e.dev_name),
        Read("drops", lambda e: e.drops),
        Read("count", lambda e: e.count),
    )

    cdef public str devname, dev_name
    cdef public uint64_t drops, count
    cdef public object shared
    cdef Port _port
    cdef RingHeader *_txr
    cdef bint _complained

    def __cinit__(self):
        self._txr = NULL
        self.shared = None
        self.dev_name = ""

    def initialize(self, errh):
        shared = self.router.attachments.get("hosts", {}).get(self.devname)
        if shared is None or not shared.port.tx_rings:
            errh.error(f"ToHost({self.devname}) requires an initialized FromHost with the same dev_name")
            return False
        self.shared = shared
        shared.users.append(self)
        self.dev_name = shared.port.ifname
        self._port = <Port> shared.port
        self._txr = (<Ring> shared.port.tx_rings[0]).hdr
        return True

    def cleanup(self, stage):
        if self.shared is not None:
            self._txr = NULL
            self._port = None
            shared, self.shared = self.shared, None
            shared.release(self)

    def device_state_changed(self, state):
        pass

    cdef bint _put(self, Packet *p) noexcept:
        cdef RingHeader *r = self._txr
        if r == NULL or p.length < 14:
            if p.length < 14 and not self._complained:
                self._complained = True
                _chatter(self)
            self.drops += 1
            packet_kill(p)
            return False
        if ring_space(r) == 0:
            self._port.txsync(0)
            if ring_space(r) == 0:
                self.drops += 1
                packet_kill(p)
                return False
        if ring_put_packet(r, r.head, p, True) != 0:   # longer than a buffer
            self.drops += 1
            packet_kill(p)
            return False
        r.head = ring_next(r, r.head)
        r.cur = r.head
        self.count += 1
        return True

    cdef void push(self, int port, Packet *p) noexcept:
        if self._put(p):
            self._port.txsync(0)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef int i
        cdef bint any = False
        for i in range(b.count):
            if self._put(b.p[i]):
                any = True
        b.count = 0
        if any:
            self._port.txsync(0)


def _chatter(e):
    import sys
    print(f"{e.declaration()}: packet too small", file=sys.stderr)
