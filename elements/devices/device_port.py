"""Opening devices for the device elements, and sharing them within a router.

FromDevice and ToDevice for one device share one port (one AF_XDP or
packet socket), as Click's ToDevice reuses its FromDevice's descriptor;
FromHost and ToHost share their tap. The scheduler calls one callback per
file descriptor, so a ``SharedPort`` registers the port's descriptor once
and tells each element what it waits for (readable, writable). A timer
watches the interface: an element learns when its device goes down, comes
back, or disappears (then it stops; the rest of the router runs on).
"""
from __future__ import annotations

import errno
import fcntl
import selectors
import socket
import struct
import sys

from clickpy.netmap_shim.ring import DEVICE_PREFERENCE, PortError, backends, open_port

# METHOD keyword values (Click's LINUX means a packet socket).
METHODS = {"AFXDP": "afxdp", "XDP": "afxdp", "AFPACKET": "afpacket", "LINUX": "afpacket",
           "PACKET": "afpacket"}
# Click methods that clickpy does not have, with what to use instead.
UNSUPPORTED = {"PCAP": "libpcap capture is not built in; use AFPACKET (the same kernel path)",
               "NETMAP": "the netmap kernel module is not used; AFXDP gives the same rings",
               "DEVBPF": "BSD's /dev/bpf does not exist on Linux; use AFPACKET",
               "PCAPFD": "use AFPACKET"}

WATCH_INTERVAL = 0.5        # seconds between checks of the device's state
_SIOCGIFFLAGS = 0x8913
_IFF_UP = 0x1


def parse_method(text: str, errh) -> str | None:
    """The backend a METHOD value names ('' = choose), or None after an error."""
    word = text.upper()
    if word in ("", "AUTO", "DEFAULT"):
        return ""
    if word in METHODS:
        return METHODS[word]
    if word in UNSUPPORTED:
        errh.error(f"METHOD {text} is not available: {UNSUPPORTED[word]}")
        return None
    errh.error(f"bad METHOD '{text}' (choose AFXDP or AFPACKET)")
    return None


def interface_macs() -> dict[str, bytes]:
    """Every interface of this network namespace with a 6-byte hardware address."""
    from pyroute2 import IPRoute

    out = {}
    with IPRoute() as ipr:
        for link in ipr.get_links():
            mac = link.get("IFLA_ADDRESS")
            if mac and mac.count(":") == 5:
                out[link.get("IFLA_IFNAME")] = bytes(int(x, 16) for x in mac.split(":"))
    return out


def resolve_device(element, devname: str, errh) -> str | None:
    """The interface devname means, as Click's device elements find it.

    A port name with its backend (pipe:x{0) or an existing interface is
    itself. Otherwise an Ethernet address, or an AddressInfo name with an
    Ethernet address, names the interface of this network namespace that
    has that address. In a guest, a device name its image declares is itself
    (it is routed to a pipe). None after an error."""
    if devname in _routes or direct_kind(devname) is not None:
        return devname
    try:
        socket.if_nametoindex(devname)
        return devname
    except OSError as e:
        if e.errno in (errno.EPERM, errno.EACCES):
            # A sandboxed guest may make no socket: no host interface is its to open.
            errh.error(f"{devname}: cannot open network interfaces here ({e.strerror})")
            return None
    from clickpy.runtime.args import ArgError, EtherAddress

    try:
        mac = EtherAddress(devname, element)
    except (ArgError, ValueError, ImportError):
        # Not an address (or no way to look interfaces up, in a guest's
        # sandbox): opening it says what is wrong.
        return devname
    matches = sorted(name for name, address in interface_macs().items() if address == mac)
    text = ":".join(f"{b:02x}" for b in mac)
    if not matches:
        shown = devname if devname.lower() == text else f"{devname} ({text})"
        errh.error(f"no network interface has Ethernet address {shown}")
        return None
    return matches[0]


def host_devices(cls, conf: list[str]) -> list[str]:
    """The network interfaces of this host that an element of class cls,
    configured with conf, opens: what 'clickpy deploy' prepares.

    The element's own configure reads conf; a configuration it refuses names
    nothing (running it reports why). Ports named with their backend
    (pipe:, pcap:) are not interfaces; an Ethernet address names the
    interface that has it."""
    from clickpy.runtime.error_handler import ElementErrors

    errh = ElementErrors()
    element = cls()
    if not element.configure(conf, errh):
        return []
    if direct_kind(element.devname) is not None:
        return []
    try:
        name = resolve_device(element, element.devname, errh)
    except Exception:  # an AddressInfo name needs a router: leave the name as written
        name = element.devname
    return [] if name is None else [name]


def link_state(ifname: str) -> str:
    """'up', 'down' (administratively: ip link set down) or 'gone'.

    A device that is up without a carrier (a veth whose peer is down)
    counts as up: the kernel drops what is sent and says so (AF_XDP), and
    IFF_RUNNING lags behind the carrier by up to a second after a device
    comes up, which would drop the first packets of a fresh device."""
    try:
        socket.if_nametoindex(ifname)
    except OSError:
        return "gone"
    # An ioctl, not pyroute2: this runs every WATCH_INTERVAL inside the driver
    # loop, where a netlink round trip through pyroute2 (about 1 ms) would
    # pause forwarding; the ioctl takes microseconds.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        flags = struct.unpack_from("16sH", fcntl.ioctl(s, _SIOCGIFFLAGS,
                                                       struct.pack("16sH", ifname.encode()[:15], 0)))[1]
    except OSError:
        return "gone"
    finally:
        s.close()
    return "up" if flags & _IFF_UP else "down"


class SharedPort:
    """One open port, the elements using it, and its descriptor's registration."""

    def __init__(self, router, devname: str, port, method: str, direct: bool = False):
        self.router = router
        self.devname = devname
        self.port = port
        self.method = method
        # direct: devname is a port name with its backend (pipe:x{0, pcap:f);
        # there is no network interface to watch, the port's error_state()
        # tells of a dead peer or a damaged file.
        self.direct = direct
        self.users: list = []
        self._readers: dict = {}       # element -> callback() when readable
        self._writers: dict = {}       # element -> callback() once when writable
        self._events = 0
        self._state = "up" if direct else link_state(devname)
        self._timer = None

    # --- the descriptor ----------------------------------------------------

    def want_read(self, element, callback) -> None:
        self._readers[element] = callback
        self._update()

    def stop_reading(self, element) -> None:
        """Stop calling element when the port is readable (it paused, or its
        input ended); want_read starts again."""
        if self._readers.pop(element, None) is not None:
            self._update()

    def want_write(self, element, callback) -> None:
        """Call callback once, the next time the port is writable."""
        self._writers[element] = callback
        self._update()

    def _update(self) -> None:
        fd = self.port.fd
        if fd < 0:
            return
        events = (selectors.EVENT_READ if self._readers else 0) | (selectors.EVENT_WRITE if self._writers else 0)
        if events == self._events:
            return
        sched = self.router.scheduler
        if events:
            sched.add_fd(fd, events, self._ready)
        else:
            sched.remove_fd(fd)
        self._events = events

    def _ready(self, fd, events) -> None:
        if events & selectors.EVENT_WRITE and self._writers:
            writers, self._writers = self._writers, {}
            self._update()
            for cb in writers.values():
                cb()
        if events & selectors.EVENT_READ:
            for cb in list(self._readers.values()):
                cb()

    # --- the device's state ------------------------------------------------------

    def start_watch(self) -> None:
        if self._timer is not None or self.direct:
            return
        from clickpy.runtime.scheduler import Timer

        self._timer = Timer(callback=self._watch)
        self._timer.initialize(self.router.scheduler)
        self._timer.schedule_after(WATCH_INTERVAL)

    def _watch(self, timer) -> None:
        self.check_now()
        if self._state != "gone" and self.users:
            timer.schedule_after(WATCH_INTERVAL)

    def check_now(self) -> str:
        """Look at the device now (the timer does it every WATCH_INTERVAL;
        an element whose sync failed asks at once) and tell every user of a
        change. Returns the state."""
        if self.direct:
            return self._state
        state = link_state(self.devname)
        if state == "up":
            err = self.port.error_state() if hasattr(self.port, "error_state") else None
            if err and "disappeared" in err:
                state = "gone"
        if state != self._state:
            self._state = state
            for e in list(self.users):
                e.device_state_changed(state)
        return state

    @property
    def state(self) -> str:
        return self._state

    # --- lifetime ----------------------------------------------------------------------

    def release(self, element) -> None:
        self._readers.pop(element, None)
        self._writers.pop(element, None)
        if element in self.users:
            self.users.remove(element)
        if self.users:
            self._update()
            return
        if self._events and self.port.fd >= 0:
            try:
                self.router.scheduler.remove_fd(self.port.fd)
            except (KeyError, ValueError, OSError):
                pass
        self._events = 0
        if self._timer is not None:
            self._timer.unschedule()
            self._timer = None
        devices = self.router.attachments.get("devices", {})
        if devices.get(self.devname) is self:
            del devices[self.devname]
        self.port.close()


# In a guest, each device name its image declares is routed to the pipe end
# the switch attached for it (clickpy.guest.agent); elsewhere this is empty.
_routes: dict[str, str] = {}


def route_devices(routes: dict[str, str]) -> None:
    """From now on, a device element naming a key of routes opens its value instead."""
    _routes.clear()
    _routes.update(routes)


def find_shared(router, devname: str) -> SharedPort | None:
    return router.attachments.get("devices", {}).get(_routes.get(devname, devname))


def open_shared(element, devname: str, method: str, options: dict, errh, *, receive: bool,
                sniffer: bool = False) -> SharedPort | None:
    """The router's port for devname, opened if need be.

    method '' chooses: the backends of DEVICE_PREFERENCE in order, leaving
    out AF_XDP for a sniffer (it would take the frames from the host). When a
    backend fails and the user did not pin one, the next is tried and a
    warning says why; if none works, one error names every attempt.
    """
    router = element.router
    devices = router.attachments.setdefault("devices", {})
    devname = _routes.get(devname, devname)
    kind = direct_kind(devname)
    if kind is not None:
        return _open_direct(element, devices, devname, kind, method, errh, receive)
    shared = devices.get(devname)
    if shared is not None and (not method or shared.method == method):
        shared.users.append(element)
        return shared
    if method:
        kinds = [method]
    else:
        kinds = [k for k in DEVICE_PREFERENCE if not (k == "afxdp" and receive and sniffer)]
    failures = []
    for kind in kinds:
        try:
            port = open_port(f"{kind}:{devname}", **options)
        except PortError as e:
            failures.append(str(e))
            continue
        if failures:
            errh.warning(f"{devname}: using {kind.upper()}; tried first: {'; '.join(failures)}")
        shared = SharedPort(router, devname, port, kind)
        shared.users.append(element)
        if devname not in devices:
            devices[devname] = shared
        return shared
    if not failures:
        errh.error(f"{devname}: no device backend available")
    elif len(failures) == 1:
        errh.error(failures[0])
    else:
        errh.error(f"{devname}: cannot open the device with any method:\n  " + "\n  ".join(failures))
    return None


def direct_kind(devname: str) -> str | None:
    """The backend devname names itself (pipe:x{0 -> 'pipe'), or None."""
    kind, sep, _ = devname.partition(":")
    if not sep:
        return None
    import importlib

    importlib.import_module("clickpy.netmap_shim.backends")
    return kind if kind in backends() else None


def _open_direct(element, devices, devname, kind, method, errh, receive):
    """Open a port named with its backend as is (FromDevice(pipe:x{0))."""
    if method and method != kind:
        errh.error(f"{devname}: METHOD {method.upper()} disagrees with the port's kind '{kind}'")
        return None
    shared = devices.get(devname)
    if shared is not None:
        if kind == "pcap" and not receive:
            # A capture file is read or written, not both.
            errh.error(f"{devname}: a pcap port is read by FromDevice or written by ToDevice, not both")
            return None
        shared.users.append(element)
        return shared
    # The device elements' options (promisc, queue...) mean nothing to these
    # backends; a pcap port opened for sending is a file written.
    options = {"w": True} if kind == "pcap" and not receive else {}
    try:
        port = open_port(devname, **options)
    except PortError as e:
        errh.error(str(e))
        return None
    shared = SharedPort(element.router, devname, port, kind, direct=True)
    shared.users.append(element)
    devices[devname] = shared
    return shared


def report(element, message: str) -> None:
    """A run-time message from a device element, Click's chatter style."""
    print(f"{element.declaration()}: {message}", file=sys.stderr, flush=True)
