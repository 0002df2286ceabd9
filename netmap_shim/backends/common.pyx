# cython: language_level=3
"""What the device backends (afpacket, afxdp, tap) share when opening a port:
the option check, the interface lookup, the shim rings, the device error text.
Nothing here runs per packet."""
import os
import socket

from clickpy.netmap_shim.backends.checksum cimport finish_l4_checksum
from clickpy.netmap_shim.ring cimport make_ring, ring_alloc, ring_free

from clickpy.netmap_shim.ring import PortError


def check_options(str name, dict options, known):
    """Raise PortError naming the port (``kind:rest``) if an option is not in known."""
    unknown = set(options) - known
    if unknown:
        raise PortError(f"{name}: unknown option(s) {', '.join(sorted(unknown))}")


def check_device_options(str kind, str ifname, dict options, known):
    """check_options for ``kind:ifname``, then that an interface name was given."""
    check_options(f"{kind}:{ifname}", options, known)
    if not ifname:
        raise PortError(f"{kind}: no interface name given")


def interface_index(str name, str ifname):
    """The index of network interface ifname; PortError naming the port if there is none."""
    try:
        return socket.if_nametoindex(ifname)
    except OSError:
        pass
    # The lookup takes a socket: where sockets are refused (a sandboxed
    # guest), say that rather than that the interface does not exist.
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
    except OSError as e:
        raise PortError(f"{name}: cannot look up network interfaces here: {e.strerror}") from None
    raise PortError(f"{name}: no such network interface")


def device_gone(str ifname):
    """error_state's answer when network interface ifname no longer exists, else None."""
    try:
        socket.if_nametoindex(ifname)
    except OSError:
        return f"device {ifname} disappeared"
    return None


def device_error(str ifname, int err):
    """error_state's answer for an open device port: gone, the error err, or None."""
    return device_gone(ifname) or (os.strerror(err) if err else None)


cdef int add_rings(Port port, RingHeader **rxr, RingHeader **txr, uint32_t slots,
                   bint want_rx, bint want_tx) except -1:
    """Give port one private receive ring (*rxr) and/or one transmit ring
    (*txr) of slots slots, every slot with a pool buffer, and their Ring views.
    The pointers are stored before anything can fail, so the port's close
    frees them. A transmit ring starts with every slot the user's."""
    if want_rx:
        rxr[0] = ring_alloc(slots, True)
        if rxr[0] == NULL:
            raise PortError(f"{port.name}: no buffers left for a {slots}-slot ring")
        port.rx_rings.append(make_ring(rxr[0], port, False, 0))
    if want_tx:
        txr[0] = ring_alloc(slots, True)
        if txr[0] == NULL:
            raise PortError(f"{port.name}: no buffers left for a {slots}-slot ring")
        txr[0].tail = slots - 1
        port.tx_rings.append(make_ring(txr[0], port, True, 0))
    return 0


cdef void free_rings(RingHeader **rxr, RingHeader **txr) noexcept:
    """Free what add_rings made (either may be NULL); both end NULL."""
    if rxr[0] != NULL:
        ring_free(rxr[0], True)
        rxr[0] = NULL
    if txr[0] != NULL:
        ring_free(txr[0], True)
        txr[0] = NULL


def finish_checksum(bytes frame, bint only_if_partial):
    """The frame with its TCP/UDP checksum finished as a receiving port
    finishes it (checksum.pxd), and whether it was rewritten: for tests."""
    cdef bytearray out = bytearray(frame)
    cdef unsigned char *p = out
    done = finish_l4_checksum(p, len(out), only_if_partial)
    return bytes(out), done
