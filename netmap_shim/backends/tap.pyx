# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Tap ports: ``tap:NAME``, an Ethernet tap device for handing frames to the host stack.

Opening creates the tap interface NAME (or attaches to an existing
persistent one of that name; ``%d`` in NAME lets the kernel number it) and
brings it up. What the host sends through the interface arrives on the
receive ring; what is put on the transmit ring is received by the host as
if it came in on the interface. The interface goes away when the port
closes, unless it existed before.

Each frame is one ``read`` or ``write`` system call: tap devices have no
batched interface.

Options: ``addr`` (an IPv4 prefix for the interface, "10.0.0.1/24"),
``gateway`` (a default route through that address), ``ether`` (the
interface's MAC address), ``mtu``, ``up`` (default true), ``headroom``
(bytes before received data in a buffer, default 48), ``slots`` (shim
ring slots, default 256), ``rx``/``tx``.
"""
import fcntl
import os
import struct

from libc.errno cimport EAGAIN, EINTR, errno
from libc.stdint cimport uint16_t, uint32_t, uint64_t
from posix.unistd cimport read, write

from clickpy.netmap_shim.backends.common cimport add_rings, free_rings
from clickpy.netmap_shim.ring cimport Port, RingHeader, Slot, ring_next, ring_slot, ring_space
from clickpy.runtime.packet cimport Pool, small_pool_state

from clickpy.netmap_shim.backends.common import check_options, device_gone
from clickpy.netmap_shim.ring import PortError, register_backend

_TUNSETIFF = 0x400454CA
_IFF_TAP = 0x0002
_IFF_NO_PI = 0x1000


cdef class TapPort(Port):
    """A tap device as a netmap-style port (one system call per frame)."""
    cdef RingHeader *rxr
    cdef RingHeader *txr
    cdef uint32_t tx_hwcur
    cdef uint32_t headroom
    cdef readonly str ifname
    cdef readonly int ifindex
    cdef readonly uint64_t rx_packets
    cdef readonly uint64_t tx_packets
    cdef readonly uint64_t rx_drops
    cdef readonly uint64_t tx_errors
    cdef readonly int last_errno
    cdef object _file

    def __cinit__(self, *args, **kwargs):
        self.rxr = NULL
        self.txr = NULL
        self._file = None
        self.ifname = ""

    def __dealloc__(self):
        self._close()

    cdef int rxsync(self, int ring) noexcept:
        cdef RingHeader *r = self.rxr
        cdef Pool *pool = small_pool_state()
        cdef uint32_t room, n = 0
        cdef Slot *s
        cdef ssize_t got
        if r == NULL or self.fd < 0:
            return -1
        room = r.num_slots - 1 - ring_space(r)
        while n < room:
            s = ring_slot(r, r.tail)
            got = read(self.fd, pool.base + <size_t> s.buf_idx * pool.buffer_size + self.headroom,
                       pool.buffer_size - self.headroom)
            if got < 0:
                if errno == EINTR:
                    continue
                if errno != EAGAIN:
                    self.last_errno = errno
                break
            if got == 0:
                break
            s.offset = <uint16_t> self.headroom
            s.len = <uint32_t> got
            s.flags = 0
            r.tail = ring_next(r, r.tail)
            n += 1
        self.rx_packets += n
        return ring_space(r)

    cdef int txsync(self, int ring) noexcept:
        cdef RingHeader *r = self.txr
        cdef Pool *pool = small_pool_state()
        cdef Slot *s
        cdef ssize_t put
        if r == NULL or self.fd < 0:
            return -1
        while self.tx_hwcur != r.head:
            s = ring_slot(r, self.tx_hwcur)
            if s.len:
                put = write(self.fd, pool.base + <size_t> s.buf_idx * pool.buffer_size + s.offset, s.len)
                if put < 0:
                    if errno == EAGAIN or errno == EINTR:
                        break
                    # The interface is down (EIO) or the frame was refused:
                    # it is lost, as a wire would lose it.
                    self.last_errno = errno
                    self.tx_errors += 1
                else:
                    self.tx_packets += 1
            s.len = 0
            self.tx_hwcur = ring_next(r, self.tx_hwcur)
        r.tail = self.tx_hwcur - 1 if self.tx_hwcur else r.num_slots - 1
        return ring_space(r)

    def _close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
        self.fd = -1
        free_rings(&self.rxr, &self.txr)

    def error_state(self):
        if self._file is None:
            return "port closed"
        gone = device_gone(self.ifname)
        if gone:
            return gone
        err, self.last_errno = self.last_errno, 0
        return os.strerror(err) if err else None

    def stats(self):
        return {"rx_packets": self.rx_packets, "tx_packets": self.tx_packets,
                "rx_drops": self.rx_drops, "tx_errors": self.tx_errors, "kernel_drops": None}


_OPTIONS = {"addr", "gateway", "ether", "mtu", "up", "headroom", "slots", "rx", "tx", "burst"}


def open_tap(rest, **options):
    """Open ``tap:NAME`` (see the module documentation for options)."""
    check_options(f"tap:{rest}", options, _OPTIONS)
    if not rest or len(rest.encode()) > 15:
        raise PortError(f"tap:{rest}: a tap device needs a name of 1 to 15 characters")
    try:
        f = open("/dev/net/tun", "r+b", buffering=0)
    except FileNotFoundError:
        raise PortError(f"tap:{rest}: /dev/net/tun does not exist (no tun/tap support in this kernel)") from None
    except PermissionError:
        raise PortError(f"tap:{rest}: permission denied opening /dev/net/tun (needs CAP_NET_ADMIN)") from None
    try:
        ifr = fcntl.ioctl(f, _TUNSETIFF, struct.pack("16sH22x", rest.encode(), _IFF_TAP | _IFF_NO_PI))
    except OSError as e:
        f.close()
        hint = " (needs CAP_NET_ADMIN)" if e.errno == 1 else (
            " (a device of that name exists and is not a tap this process may use)" if e.errno == 16 or e.errno == 22 else "")
        raise PortError(f"tap:{rest}: cannot create the tap device: {e.strerror}{hint}") from None
    os.set_blocking(f.fileno(), False)
    cdef TapPort port = TapPort.__new__(TapPort)
    port._file = f
    port.fd = f.fileno()
    port.ifname = ifr[:16].rstrip(b"\0").decode()
    port.name = f"tap:{port.ifname}"
    port.headroom = int(options.get("headroom", 0)) or 48
    try:
        _configure(port, options)
        add_rings(port, &port.rxr, &port.txr, int(options.get("slots", 256)), bool(options.get("rx", True)),
                  bool(options.get("tx", True)))
    except BaseException:
        port.close()
        raise
    return port


def _configure(TapPort port, options):
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=port.ifname)
        if not idx:
            raise PortError(f"tap:{port.ifname}: the device vanished while opening")
        port.ifindex = idx[0]
        try:
            if options.get("ether"):
                ipr.link("set", index=port.ifindex, address=options["ether"])
            if options.get("mtu"):
                ipr.link("set", index=port.ifindex, mtu=int(options["mtu"]))
            if options.get("addr"):
                address, _, plen = str(options["addr"]).partition("/")
                ipr.addr("replace", index=port.ifindex, address=address, prefixlen=int(plen or 32))
            if options.get("up", True):
                ipr.link("set", index=port.ifindex, state="up")
            if options.get("gateway"):
                ipr.route("replace", dst="0.0.0.0/0", gateway=options["gateway"])
        except Exception as e:
            raise PortError(f"tap:{port.ifname}: cannot configure the interface: {e}") from None


register_backend("tap", open_tap)
