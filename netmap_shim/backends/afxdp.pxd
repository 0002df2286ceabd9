# cython: language_level=3
"""AF_XDP ports: the libxdp xsk API as Cython sees it, and the port class.

Only what the backend uses is declared. The ring accessors of <xdp/xsk.h>
are static inline functions, so calling them from Cython costs what it
costs in C.
"""
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t

from clickpy.netmap_shim.ring cimport Port, RingHeader


cdef extern from "<linux/if_xdp.h>":
    struct xdp_desc:
        uint64_t addr
        uint32_t len
        uint32_t options

    enum:
        XDP_SHARED_UMEM
        XDP_COPY
        XDP_ZEROCOPY
        XDP_USE_NEED_WAKEUP
        XDP_STATISTICS
        SOL_XDP

    struct xdp_statistics:
        uint64_t rx_dropped
        uint64_t rx_invalid_descs
        uint64_t tx_invalid_descs
        uint64_t rx_ring_full
        uint64_t rx_fill_ring_empty_descs
        uint64_t tx_ring_empty_descs


cdef extern from "<linux/if_link.h>":
    enum:
        XDP_FLAGS_UPDATE_IF_NOEXIST
        XDP_FLAGS_SKB_MODE
        XDP_FLAGS_DRV_MODE


cdef extern from "<xdp/xsk.h>" nogil:
    struct xsk_ring_prod:
        uint32_t cached_prod
        uint32_t cached_cons
        uint32_t mask
        uint32_t size
    struct xsk_ring_cons:
        uint32_t cached_prod
        uint32_t cached_cons
        uint32_t mask
        uint32_t size
    struct xsk_umem:
        pass
    struct xsk_socket:
        pass

    struct xsk_umem_config:
        uint32_t fill_size
        uint32_t comp_size
        uint32_t frame_size
        uint32_t frame_headroom
        uint32_t flags

    struct xsk_socket_config:
        uint32_t rx_size
        uint32_t tx_size
        uint32_t libxdp_flags
        uint32_t xdp_flags
        uint16_t bind_flags

    enum:
        XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD

    uint64_t *xsk_ring_prod__fill_addr(xsk_ring_prod *fill, uint32_t idx)
    const uint64_t *xsk_ring_cons__comp_addr(const xsk_ring_cons *comp, uint32_t idx)
    xdp_desc *xsk_ring_prod__tx_desc(xsk_ring_prod *tx, uint32_t idx)
    const xdp_desc *xsk_ring_cons__rx_desc(const xsk_ring_cons *rx, uint32_t idx)
    int xsk_ring_prod__needs_wakeup(const xsk_ring_prod *r)
    uint32_t xsk_prod_nb_free(xsk_ring_prod *r, uint32_t nb)
    uint32_t xsk_cons_nb_avail(xsk_ring_cons *r, uint32_t nb)
    uint32_t xsk_ring_prod__reserve(xsk_ring_prod *prod, uint32_t nb, uint32_t *idx)
    void xsk_ring_prod__submit(xsk_ring_prod *prod, uint32_t nb)
    uint32_t xsk_ring_cons__peek(xsk_ring_cons *cons, uint32_t nb, uint32_t *idx)
    void xsk_ring_cons__release(xsk_ring_cons *cons, uint32_t nb)

    int xsk_umem__fd(const xsk_umem *umem)
    int xsk_socket__fd(const xsk_socket *xsk)
    int xsk_umem__create(xsk_umem **umem, void *umem_area, uint64_t size, xsk_ring_prod *fill,
                         xsk_ring_cons *comp, const xsk_umem_config *config)
    int xsk_socket__create_shared(xsk_socket **xsk_ptr, const char *ifname, uint32_t queue_id,
                                  xsk_umem *umem, xsk_ring_cons *rx, xsk_ring_prod *tx,
                                  xsk_ring_prod *fill, xsk_ring_cons *comp,
                                  const xsk_socket_config *config)
    int xsk_umem__delete(xsk_umem *umem)
    void xsk_socket__delete(xsk_socket *xsk)


cdef extern from "<xdp/libxdp.h>" nogil:
    struct xdp_program:
        pass
    struct xdp_multiprog:
        pass
    enum xdp_attach_mode:
        XDP_MODE_UNSPEC
        XDP_MODE_NATIVE
        XDP_MODE_SKB
        XDP_MODE_HW
    long libxdp_get_error(const void *ptr)
    int libxdp_strerror(int err, char *buf, size_t size)
    const char *xdp_program__name(const xdp_program *prog)
    xdp_multiprog *xdp_multiprog__get_from_ifindex(int ifindex)
    xdp_program *xdp_multiprog__next_prog(const xdp_program *prog, const xdp_multiprog *mp)
    void xdp_multiprog__close(xdp_multiprog *mp)
    int xdp_multiprog__detach(xdp_multiprog *mp)
    xdp_attach_mode xdp_multiprog__attach_mode(const xdp_multiprog *mp)
    xdp_program *xdp_multiprog__main_prog(const xdp_multiprog *mp)
    bint xdp_multiprog__is_legacy(const xdp_multiprog *mp)
    int xdp_multiprog__program_count(const xdp_multiprog *mp)


# A UMEM over the runtime's small buffer pool, shared by every AF_XDP port of
# the process that asks for it (frame address = buffer index * buffer size).
cdef struct PoolUmem:
    xsk_umem *umem
    int users                   # ports using it; deleted when it drops to 0
    uint32_t frame_size


cdef class XdpPort(Port):
    """One AF_XDP socket on one queue of one interface, as a netmap-style port."""
    cdef xsk_socket *xsk
    cdef xsk_umem *umem             # the pool UMEM or a private one
    cdef bint pool_umem             # frames are pool buffers (zero copy into packets)
    cdef unsigned char *area        # private UMEM memory (NULL with the pool UMEM)
    cdef size_t area_size
    cdef uint32_t frame_size
    cdef uint32_t *frame_stack      # private UMEM: free frame addresses >> shift
    cdef uint32_t nframes_free
    cdef uint32_t nframes
    cdef xsk_ring_cons rx
    cdef xsk_ring_prod tx
    cdef xsk_ring_prod fq
    cdef xsk_ring_cons cq
    cdef RingHeader *rxr
    cdef RingHeader *txr
    cdef uint32_t tx_hwcur          # next shim tx slot to hand to the kernel
    cdef uint32_t tx_outstanding    # descriptors given to the kernel, not completed
    cdef uint32_t fill_target       # buffers we keep in the fill ring
    cdef readonly str ifname
    cdef readonly int ifindex
    cdef readonly int queue
    cdef readonly str mode          # "native" or "skb": where the XDP program runs
    cdef readonly bint has_rx
    cdef readonly uint64_t rx_packets
    cdef readonly uint64_t tx_packets
    cdef readonly uint64_t rx_drops         # frames we had to drop (no buffer, shim ring)
    cdef readonly uint64_t tx_errors
    cdef readonly int last_errno            # errno of the last failed kernel call (0 = none)
    cdef object lock_file
    cdef object _promisc            # a packet socket holding promiscuous mode, or None
    cdef uint64_t *_given           # pool UMEM: bitmap of buffers the kernel holds
    cdef uint32_t _shift            # log2(frame_size)
    cdef uint32_t headroom          # private UMEM: where received data starts in a buffer
    cdef readonly uint64_t rx_checksums_finished  # TCP/UDP checksums the sender left to offload

    cdef inline void _give(self, uint32_t buf) noexcept nogil
    cdef inline void _taken(self, uint32_t buf) noexcept nogil

    cdef int _rx_pool(self) noexcept nogil
    cdef int _rx_private(self) noexcept nogil
    cdef void _refill(self) noexcept nogil
    cdef void _complete(self) noexcept nogil
    cdef int _kick(self) noexcept nogil
