# cython: language_level=3
"""What the device backends (afpacket, afxdp, tap) share when opening a port."""
from libc.stdint cimport uint32_t

from clickpy.netmap_shim.ring cimport Port, RingHeader

cdef int add_rings(Port port, RingHeader **rxr, RingHeader **txr, uint32_t slots,
                   bint want_rx, bint want_tx) except -1
cdef void free_rings(RingHeader **rxr, RingHeader **txr) noexcept
