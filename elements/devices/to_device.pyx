# cython: language_level=3
"""ToDevice: sends the packets it pulls out a network interface."""
from libc.stdint cimport uint32_t, uint64_t

from clickpy.netmap_shim.ring cimport Port, Ring, RingHeader, ring_next, ring_put_packet, ring_space
from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.packet cimport MAX_BATCH, Batch, Packet, packet_clone, packet_kill
from clickpy.runtime.scheduler cimport Task

from clickpy.runtime.args import Arg, Bool, Int, String, Unsigned, Word
from clickpy.runtime.handlers import Read, Write

from clickpy.elements.devices import device_port

RETRY_AFTER = 0.001     # seconds: see ToDevice._wait_writable


cdef class ToDevice(Element):
    """=c
    ToDevice(DEVNAME [, I<keywords> BURST, METHOD, QUEUE, DEBUG])

    =s netdevices
    sends packets to a network device

    =d
    Pulls packets from its input and sends them out the network interface
    DEVNAME; they must already carry their link-level header. Up to BURST
    packets are pulled and handed to the kernel per scheduling, with one
    system call per burst.

    The element sleeps while its upstream queues are empty (their notifier
    wakes it) and, when the device's transmit ring is full, until the
    device's descriptor is writable: an idle router does not spin.

    While the device is down (or loses its carrier) the packets pulled
    cannot be sent: they go to output 1 if it exists, else are dropped,
    and are counted in drops, as are frames the kernel refused; sending
    resumes by itself when the device comes back. A device that
    disappears stops this element; the rest of the router runs on.

    METHOD is AFXDP or AFPACKET (or LINUX), as for FromDevice; by default a
    FromDevice for the same device lends its port (its method), else the
    fastest method that opens is used. A FromDevice does not receive what
    ToDevice sends on the same device (unless OUTBOUND with AFPACKET).

    Packets sent are pushed to output 0 if it exists (they are then copied
    into the ring rather than handed over); packets that cannot be sent
    (longer than a ring buffer) go to output 1 if it exists.

    =h count read-only
    Packets sent.
    =h drops read-only
    Packets that could not be sent (too long, device down, refused by
    the kernel).
    =h state read-only
    up, down or gone.
    =h pulls read-only
    Pull calls made.
    =h signal read-only
    Whether the upstream notifier says packets are waiting.
    =h reset_counts write-only
    Zero count, drops and pulls.
    =h method read-only
    AFXDP or AFPACKET.
    =h debug read-only
    The DEBUG argument.

    =e
      ... -> Queue -> ToDevice(eth1);

    =a FromDevice, Queue
    """
    port_count = "1/0-2"
    processing = "l/h"
    flags = "S2"
    configure_phase = 45
    arguments = (
        Arg("DEVNAME", String, positional=True, mandatory=True),
        Arg("BURST", Int, 32),
        Arg("METHOD", Word, ""),
        Arg("QUEUE", Unsigned, 0),
        Arg("DEBUG", Bool, False),
    )
    handlers = (
        Read("count", lambda e: e.count),
        Read("drops", lambda e: e.drops + e._backend_errors()),
        Read("pulls", lambda e: e.pulls),
        Read("signal", lambda e: e.signal_active()),
        Write("reset_counts", lambda e, v: e.reset_counts(), button=True),
        Read("method", lambda e: e.method.upper() if e.method else ""),
        Read("debug", lambda e: e.debug),
        Read("state", lambda e: e.state),
    )

    cdef public str devname, method, state
    cdef public int burst
    cdef public unsigned queue
    cdef public bint debug
    cdef public uint64_t count, drops, pulls
    cdef public Task task
    cdef public object shared
    cdef Port _port
    cdef RingHeader *_txr
    cdef NotifierSignal _signal
    cdef bint _waiting
    cdef bint _drains_itself        # the peer takes what is sent without being asked again (a pipe)
    cdef bint _down                 # the device is down: drop what is pulled
    cdef object _retry              # Timer: try again while waiting to be writable
    cdef uint64_t _errors_base      # the port's tx_errors at the last reset

    def __cinit__(self):
        self._txr = NULL
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
        if not self.devname:
            errh.error("interface not set")
            return False
        if self.burst <= 0:
            errh.error("bad BURST")
            return False
        m = device_port.parse_method(self.method, errh)
        if m is None:
            return False
        self.method = m
        return True

    def initialize(self, errh):
        name = device_port.resolve_device(self, self.devname, errh)
        if name is None:
            return False
        self.devname = name
        writers = self.router.attachments.setdefault("device_writers", {})
        if writers.get(self.devname) not in (None, self):
            errh.error(f"duplicate writer for device '{self.devname}'")
            return False
        options = {"rx": False}
        if self.queue:
            options["queue"] = self.queue
        shared = device_port.open_shared(self, self.devname, self.method, options, errh, receive=False)
        if shared is None:
            return False
        if not shared.port.tx_rings:
            shared.release(self)
            errh.error(f"{self.devname}: the device's port cannot send")
            return False
        writers[self.devname] = self
        self.shared = shared
        self.method = shared.method
        self._port = <Port> shared.port
        self._txr = (<Ring> shared.port.tx_rings[0]).hdr
        self._drains_itself = bool(getattr(shared.port, "drains_itself", False))
        self.state = shared.state
        self._down = self.state == "down"
        self._errors_base = self._port_errors()
        self.task = Task(self)
        self.task.initialize(self.router.scheduler, True)
        self._signal = self.router.upstream_empty_signal(self, 0, self.task)
        shared.start_watch()
        if self._down:
            device_port.report(self, f"device {self.devname} is down; dropping packets until it is up")
        return True

    def cleanup(self, stage):
        if self.shared is not None:
            self._txr = NULL
            self._port = None
            shared, self.shared = self.shared, None
            shared.release(self)
            writers = self.router.attachments.get("device_writers", {})
            if writers.get(self.devname) is self:
                del writers[self.devname]
        if self.task is not None:
            self.task.unschedule()
        if self._retry is not None:
            self._retry.unschedule()
            self._retry = None

    def reset_counts(self):
        self.count = self.drops = self.pulls = 0
        self._errors_base = self._port_errors()

    def _port_errors(self):
        return self.shared.port.stats().get("tx_errors", 0) if self.shared is not None else 0

    def _backend_errors(self):
        return self._port_errors() - self._errors_base if self.shared is not None else 0

    def signal_active(self):
        return self._signal is not None and self._signal.active()

    def _writable(self, timer=None):
        if self._retry is not None and timer is None:
            self._retry.unschedule()
        self._waiting = False
        if self.task is not None:
            self.task.reschedule()

    def _wait_writable(self):
        """Sleep until the device's descriptor is writable. A packet socket
        whose kernel ring is full of frames that the kernel has not taken
        yet (its send buffer was full) never becomes writable by itself, so
        a timer also tries again soon, as Click's ToDevice backs off."""
        if not self._waiting and self.shared is not None:
            self._waiting = True
            self.shared.want_write(self, self._writable)
            if self._retry is None:
                from clickpy.runtime.scheduler import Timer

                self._retry = Timer(callback=self._writable)
                self._retry.initialize(self.router.scheduler)
            self._retry.schedule_after(RETRY_AFTER)

    def device_state_changed(self, state):
        old, self.state = self.state, state
        if state == "gone":
            device_port.report(self, f"device {self.devname} disappeared; this element stops "
                                     f"(the router keeps running)")
            self.cleanup("gone")
            self.state = "gone"
        elif state == "down":
            self._down = True
            device_port.report(self, f"device {self.devname} is down; dropping packets until it is up")
            self.task.reschedule()
        elif old == "down":
            self._down = False
            device_port.report(self, f"device {self.devname} is up again")
            self.task.reschedule()

    def _port_failed(self):
        if self.shared is None:
            return
        err = self.shared.port.error_state()
        if self.shared.direct:
            # A pipe whose other end is gone, a capture file that cannot be
            # written: the element stops (the router keeps running).
            device_port.report(self, f"{err or self.devname + ': port failed'}; this element stops")
            self.cleanup("failed")
            self.state = "failed"
            return
        # Look at the device now rather than at the next timer tick.
        if self.shared.check_now() == "up" and err and self.debug:
            device_port.report(self, f"{self.devname}: {err}")

    cdef bint run_task(self, object task) noexcept:
        cdef RingHeader *r = self._txr
        cdef Batch b
        cdef Packet *p
        cdef Packet *c
        cdef uint32_t space
        cdef int want, got, i, sent = 0
        cdef bint out0 = self.noutputs > 0 and self._out_element[0] is not None
        if r == NULL:
            return False
        if self._down:
            self._drop_burst(task)
            if self._down or self._txr == NULL:
                return True
            r = self._txr
        space = ring_space(r)
        if space < <uint32_t> self.burst:
            if self._port.txsync(0) < 0:
                self._failed()
            space = ring_space(r)
            if space == 0:
                self._wait()
                return False
        want = self.burst if <uint32_t> self.burst <= space else <int> space
        if want > MAX_BATCH:
            want = MAX_BATCH
        self.pulls += 1
        got = self.input_pull_batch(0, &b, want)
        for i in range(got):
            p = b.p[i]
            if p.length == 0 or p.length > r.buf_size:
                self.drops += 1
                self.checked_output_push(1, p)
                continue
            c = packet_clone(p) if out0 else NULL
            # The packet's buffer goes into the slot when p alone holds it
            # (no copy); a clone's bytes are copied.
            if ring_put_packet(r, r.head, p, True) == 0:
                r.head = ring_next(r, r.head)
                sent += 1
                if c != NULL:
                    self.output_push(0, c)
            else:
                self.drops += 1
                if c != NULL:
                    packet_kill(c)
                self.checked_output_push(1, p)
        r.cur = r.head
        if sent:
            self.count += sent
            if self._port.txsync(0) < 0:
                self._failed()
        if ring_space(r) == 0 or (not self._drains_itself and ring_space(r) != r.num_slots - 1 and got < want):
            # Frames wait for room in the kernel's ring: come back when the
            # descriptor is writable. (A pipe's peer takes its frames by
            # itself; waiting for them would wake us at once, again and again.)
            self._wait()
        if got == want or self._signal.active():
            (<Task> task).fast_reschedule()
        return got > 0

    cdef bint _drop_burst(self, object task) noexcept:
        """The device is down: what is pulled cannot leave; Click's
        ToDevice sends such packets to output 1."""
        cdef Batch b
        cdef int i, want = self.burst if self.burst <= MAX_BATCH else MAX_BATCH
        cdef int got
        try:
            # (the timer looks every half second; the device may be back)
            if self.shared is not None and self.shared.check_now() == "up":
                return True
        except BaseException:
            pass
        if self._txr == NULL:
            return False
        self.pulls += 1
        got = self.input_pull_batch(0, &b, want)
        for i in range(got):
            self.drops += 1
            self.checked_output_push(1, b.p[i])
        if got == want or self._signal.active():
            (<Task> task).fast_reschedule()
        return got > 0

    cdef void _wait(self) noexcept:
        try:
            self._wait_writable()
        except BaseException:
            pass

    cdef void _failed(self) noexcept:
        try:
            self._port_failed()
        except BaseException:
            pass
