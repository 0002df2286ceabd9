# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""AF_PACKET ports: ``afpacket:IFNAME``, a packet socket with mmap'd rings.

Receive: a TPACKET_V3 ring. The kernel fills blocks of frames and hands a
block over when it is full or its retire timeout (``retire_ms``, default
1 ms) passes; ``rxsync`` copies each frame into a shim slot's pool buffer
(one copy: the kernel's ring is not the pool) and gives the block back once
all its frames are copied. A VLAN tag the kernel took off is put back, so
frames arrive byte for byte as they were on the wire.

Transmit: a TX ring on the same socket. ``txsync`` copies each slot into a
free ring frame, marks it for sending and makes one ``send`` call for the
whole burst; the kernel builds the skbs from the ring pages. With
``qdisc_bypass`` (default on) frames go straight to the driver. The
kernel's ring frames are accounted when the kernel hands them back
(``tx_packets``); when the device is down the kernel refuses the burst,
and its frames are taken back and counted in ``tx_errors`` rather than
left to leave late, once the device is up again.

Options: ``promisc`` (a membership the kernel drops when the socket
closes), ``sniffer`` (default true: the host stack sees the frames too;
false installs a tcx ingress program that drops them after this socket has
its copy; it is held by a BPF link that dies with the process, so nothing
is left behind by a crash), ``outbound`` (also receive frames the host
sends; default false), ``qdisc_bypass``, ``protocol`` (an Ethernet type to
receive, default all), ``block_size``, ``block_nr``, ``retire_ms``,
``tx_frames``, ``slots`` (shim ring slots), ``headroom`` (bytes before
received data in a buffer), ``rx``/``tx`` (which rings to set up).
``Port.fd`` is the packet socket. A slot's ``ptr`` holds the frame's
packet type (Linux's PACKET_* value) plus one.

Offload: a sender on a veth (a container, a host namespace) leaves TCP/UDP
checksums partial and hands over TSO/GSO frames of up to 64 KB, neither of
which a router can forward. The kernel marks partial checksums
(TP_STATUS_CSUMNOTREADY) and ``rxsync`` finishes them. Segmentation is the
peer's to do: on a virtual device, a pass-through XDP program is attached
while the port receives, which makes the kernel segment in software before
the frames cross the veth (as it does for any XDP user). Like the tcx
program, it is held by a BPF link and leaves with the process.
"""
import ctypes
import os
import socket
import struct

from libc.errno cimport EAGAIN, EINTR, ENOBUFS, errno
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset
from posix.mman cimport MAP_FAILED, MAP_LOCKED, MAP_SHARED, PROT_READ, PROT_WRITE, mmap, munmap
from posix.unistd cimport close

from clickpy.netmap_shim.backends.checksum cimport finish_l4_checksum
from clickpy.netmap_shim.backends.common cimport add_rings, free_rings
from clickpy.netmap_shim.ring cimport Port, RingHeader, Slot, ring_next, ring_slot, ring_space
from clickpy.runtime.packet cimport Pool, small_pool_state

from clickpy.netmap_shim.backends.common import check_device_options, device_error, interface_index
from clickpy.netmap_shim.ring import PortError, register_backend

cdef extern from "<sys/socket.h>" nogil:
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    int setsockopt(int fd, int level, int name, const void *val, unsigned int len)
    int getsockopt(int fd, int level, int name, void *val, unsigned int *len)
    enum:
        MSG_DONTWAIT

cdef extern from "<linux/if_packet.h>" nogil:
    struct tpacket_req3:
        unsigned int tp_block_size
        unsigned int tp_block_nr
        unsigned int tp_frame_size
        unsigned int tp_frame_nr
        unsigned int tp_retire_blk_tov
        unsigned int tp_sizeof_priv
        unsigned int tp_feature_req_word
    struct tpacket_hdr_variant1:
        uint32_t tp_rxhash
        uint32_t tp_vlan_tci
        uint16_t tp_vlan_tpid
    struct tpacket3_hdr:
        uint32_t tp_next_offset
        uint32_t tp_sec
        uint32_t tp_nsec
        uint32_t tp_snaplen
        uint32_t tp_len
        uint32_t tp_status
        uint16_t tp_mac
        uint16_t tp_net
        tpacket_hdr_variant1 hv1
    struct tpacket_hdr_v1:
        uint32_t block_status
        uint32_t num_pkts
        uint32_t offset_to_first_pkt
        uint32_t blk_len
    union tpacket_bd_header_u:
        tpacket_hdr_v1 bh1
    struct tpacket_block_desc:
        uint32_t version
        uint32_t offset_to_priv
        tpacket_bd_header_u hdr
    struct tpacket_stats_v3:
        unsigned int tp_packets
        unsigned int tp_drops
        unsigned int tp_freeze_q_cnt
    struct sockaddr_ll:
        unsigned short sll_family
        unsigned short sll_protocol
        int sll_ifindex
        unsigned short sll_hatype
        unsigned char sll_pkttype
        unsigned char sll_halen
    enum:
        SOL_PACKET
        PACKET_VERSION
        PACKET_RX_RING
        PACKET_TX_RING
        PACKET_QDISC_BYPASS
        PACKET_IGNORE_OUTGOING
        PACKET_STATISTICS
        PACKET_ADD_MEMBERSHIP
        PACKET_MR_PROMISC
        TPACKET_V3
        TP_STATUS_KERNEL
        TP_STATUS_USER
        TP_STATUS_VLAN_VALID
        TP_STATUS_VLAN_TPID_VALID
        TP_STATUS_AVAILABLE
        TP_STATUS_SEND_REQUEST
        TP_STATUS_SENDING
        TP_STATUS_WRONG_FORMAT
        TP_STATUS_CSUMNOTREADY

# The ring's status words are shared with the kernel: read them with
# acquire and write them with release semantics.
cdef extern from *:
    """
    #include <stdint.h>
    static inline uint32_t clickpy_load_acquire(volatile uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void clickpy_store_release(volatile uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    """
    uint32_t load_acquire "clickpy_load_acquire" (uint32_t *p) noexcept nogil
    void store_release "clickpy_store_release" (uint32_t *p, uint32_t v) noexcept nogil

cdef enum:
    ETH_P_ALL = 0x0003
    TX_DATA_OFFSET = 48         # TPACKET_ALIGN(sizeof(struct tpacket3_hdr)): where V3 tx data starts
    SLL_OFFSET = 48             # the sockaddr_ll after a received frame's header


cdef inline uint16_t _htons(uint16_t v) noexcept nogil:
    return ((v & 0xff) << 8) | (v >> 8)


cdef class PacketPort(Port):
    """A TPACKET_V3 packet socket as a netmap-style port."""
    cdef unsigned char *map
    cdef size_t map_size
    cdef unsigned char *rx_base
    cdef uint32_t block_size
    cdef uint32_t block_nr
    cdef uint32_t block_idx         # the block being read
    cdef uint32_t block_left        # frames of it not read yet
    cdef unsigned char *frame       # the next frame to read in it
    cdef unsigned char *tx_base
    cdef uint32_t tx_frame_size
    cdef uint32_t tx_frame_nr
    cdef uint32_t tx_idx            # next kernel tx frame to fill
    cdef uint32_t tx_done           # oldest kernel tx frame not yet accounted
    cdef uint32_t tx_inflight       # kernel tx frames marked and not yet accounted
    cdef uint32_t tx_hwcur          # next shim slot to send
    cdef RingHeader *rxr
    cdef RingHeader *txr
    cdef uint32_t headroom
    cdef readonly str ifname
    cdef readonly int ifindex
    cdef readonly bint sniffer
    cdef readonly uint64_t rx_packets
    cdef readonly uint64_t tx_packets     # frames the kernel has sent
    cdef readonly uint64_t rx_drops     # frames too long for a buffer
    cdef readonly uint64_t tx_errors    # frames the kernel refused or too long
    cdef readonly uint64_t kernel_drops
    cdef readonly uint64_t rx_checksums_finished  # TCP/UDP checksums the sender left to offload
    cdef readonly int last_errno
    cdef object _sock                   # the Python socket object owning fd
    cdef object _drop_link              # tcx program and link fds (non-sniffer mode)
    cdef object _xdp_link               # XDP pass-through program and link fds (virtual devices)

    def __cinit__(self, *args, **kwargs):
        self.map = NULL
        self.rxr = NULL
        self.txr = NULL
        self.ifname = ""
        self._sock = None
        self._drop_link = None
        self._xdp_link = None

    def __dealloc__(self):
        self._close()

    # --- receive ----------------------------------------------------------

    cdef int rxsync(self, int ring) noexcept:
        cdef RingHeader *r = self.rxr
        cdef uint32_t room, n = 0, len, room_in_buf, tci, status
        cdef tpacket_block_desc *bd
        cdef tpacket3_hdr *h
        cdef Slot *s
        cdef Pool *pool = small_pool_state()
        cdef unsigned char *dst
        cdef unsigned char *src
        cdef sockaddr_ll *sll
        if r == NULL or self.map == NULL:
            return -1
        room = r.num_slots - 1 - ring_space(r)
        while n < room:
            if self.block_left == 0:
                bd = <tpacket_block_desc *> (self.rx_base + <size_t> self.block_idx * self.block_size)
                if self.frame != NULL:
                    # Every frame of this block was copied: give it back.
                    store_release(&bd.hdr.bh1.block_status, TP_STATUS_KERNEL)
                    self.frame = NULL
                    self.block_idx += 1
                    if self.block_idx == self.block_nr:
                        self.block_idx = 0
                    bd = <tpacket_block_desc *> (self.rx_base + <size_t> self.block_idx * self.block_size)
                if not (load_acquire(&bd.hdr.bh1.block_status) & TP_STATUS_USER):
                    break
                self.block_left = bd.hdr.bh1.num_pkts
                self.frame = <unsigned char *> bd + bd.hdr.bh1.offset_to_first_pkt
                if self.block_left == 0:
                    continue
            h = <tpacket3_hdr *> self.frame
            s = ring_slot(r, r.tail)
            len = h.tp_snaplen
            room_in_buf = pool.buffer_size - self.headroom
            src = self.frame + h.tp_mac
            dst = pool.base + <size_t> s.buf_idx * pool.buffer_size + self.headroom
            if h.tp_status & TP_STATUS_VLAN_VALID and len >= 12:
                # Put back the 802.1Q tag the kernel moved into the header.
                if len + 4 <= room_in_buf:
                    memcpy(dst, src, 12)
                    tci = h.hv1.tp_vlan_tci
                    if h.tp_status & TP_STATUS_VLAN_TPID_VALID:
                        dst[12] = h.hv1.tp_vlan_tpid >> 8
                        dst[13] = h.hv1.tp_vlan_tpid & 0xff
                    else:
                        dst[12] = 0x81
                        dst[13] = 0x00
                    dst[14] = (tci >> 8) & 0xff
                    dst[15] = tci & 0xff
                    memcpy(dst + 16, src + 12, len - 12)
                    len += 4
                else:
                    len = 0
            elif len <= room_in_buf:
                memcpy(dst, src, len)
            else:
                len = 0
            sll = <sockaddr_ll *> (self.frame + SLL_OFFSET)
            status = h.tp_status
            self.frame += h.tp_next_offset
            self.block_left -= 1
            if len == 0:
                self.rx_drops += 1
                continue
            if status & TP_STATUS_CSUMNOTREADY and finish_l4_checksum(dst, len, False):
                self.rx_checksums_finished += 1
            s.offset = <uint16_t> self.headroom
            s.len = len
            s.flags = 0
            s.ptr = sll.sll_pkttype + 1
            r.tail = ring_next(r, r.tail)
            n += 1
        self.rx_packets += n
        if self.block_left == 0 and self.frame != NULL:
            # Give the finished block back now rather than on the next call.
            bd = <tpacket_block_desc *> (self.rx_base + <size_t> self.block_idx * self.block_size)
            store_release(&bd.hdr.bh1.block_status, TP_STATUS_KERNEL)
            self.frame = NULL
            self.block_idx += 1
            if self.block_idx == self.block_nr:
                self.block_idx = 0
        return ring_space(r)

    # --- transmit ---------------------------------------------------------

    cdef int txsync(self, int ring) noexcept:
        cdef RingHeader *r = self.txr
        cdef Pool *pool = small_pool_state()
        cdef tpacket3_hdr *h
        cdef Slot *s
        cdef ssize_t rc
        cdef int err
        if r == NULL or self.map == NULL:
            return -1
        self._reap_tx()
        while self.tx_hwcur != r.head and self.tx_inflight < self.tx_frame_nr:
            s = ring_slot(r, self.tx_hwcur)
            self.tx_hwcur = ring_next(r, self.tx_hwcur)
            if s.len == 0 or s.len > self.tx_frame_size - TX_DATA_OFFSET:
                self.tx_errors += 1
                continue
            h = <tpacket3_hdr *> (self.tx_base + <size_t> self.tx_idx * self.tx_frame_size)
            memcpy(<unsigned char *> h + TX_DATA_OFFSET,
                   pool.base + <size_t> s.buf_idx * pool.buffer_size + s.offset, s.len)
            h.tp_len = s.len
            h.tp_snaplen = s.len
            h.tp_next_offset = 0
            store_release(&h.tp_status, TP_STATUS_SEND_REQUEST)
            self.tx_idx += 1
            if self.tx_idx == self.tx_frame_nr:
                self.tx_idx = 0
            self.tx_inflight += 1
            s.len = 0
        # Every slot handed over (or skipped) is the user's again.
        r.tail = self.tx_hwcur - 1 if self.tx_hwcur else r.num_slots - 1
        if self.tx_inflight == 0:
            return ring_space(r)
        # Ask the kernel to send every frame marked in its ring: the new ones
        # and any an earlier call left (socket buffer full).
        rc = send(self.fd, NULL, 0, MSG_DONTWAIT)
        if rc >= 0:
            return ring_space(r)
        err = errno
        if err == EAGAIN or err == ENOBUFS or err == EINTR:
            return ring_space(r)   # the rest goes on a later call
        # The device is down or gone, and the kernel did not look at the
        # ring. The frames marked are lost, as on a cable: count them, and
        # take their ring frames back, or they would leave late, when the
        # device comes back.
        self.last_errno = err
        self._reclaim_tx()
        return -1

    cdef void _reap_tx(self) noexcept nogil:
        """Account the frames the kernel has finished with, oldest first."""
        cdef tpacket3_hdr *h
        cdef uint32_t st
        while self.tx_inflight:
            h = <tpacket3_hdr *> (self.tx_base + <size_t> self.tx_done * self.tx_frame_size)
            st = load_acquire(&h.tp_status)
            if st & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING):
                break
            if st & TP_STATUS_WRONG_FORMAT:
                self.tx_errors += 1
                store_release(&h.tp_status, TP_STATUS_AVAILABLE)
            elif h.tp_len:
                self.tx_packets += 1
            # (tp_len 0: taken back by _reclaim_tx, already counted as an error)
            self.tx_done += 1
            if self.tx_done == self.tx_frame_nr:
                self.tx_done = 0
            self.tx_inflight -= 1

    cdef void _reclaim_tx(self) noexcept nogil:
        """After a send the kernel refused: unmark every frame still waiting
        in its ring and count it as an error."""
        cdef uint32_t i, k = self.tx_done
        cdef tpacket3_hdr *h
        for i in range(self.tx_inflight):
            h = <tpacket3_hdr *> (self.tx_base + <size_t> k * self.tx_frame_size)
            if load_acquire(&h.tp_status) & TP_STATUS_SEND_REQUEST:
                h.tp_len = 0
                store_release(&h.tp_status, TP_STATUS_AVAILABLE)
                self.tx_errors += 1
            k += 1
            if k == self.tx_frame_nr:
                k = 0
        self._reap_tx()

    # --- Python side --------------------------------------------------------

    def _close(self):
        if self.map != NULL:
            munmap(self.map, self.map_size)
            self.map = NULL
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        for link in (self._drop_link, self._xdp_link):
            for fd in link or ():
                os.close(fd)
        self._drop_link = self._xdp_link = None
        free_rings(&self.rxr, &self.txr)
        self.fd = -1

    def error_state(self):
        """None while the port works; else why not (device gone, down, ...)."""
        if self._sock is None:
            return "port closed"
        err = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if not err:
            err, self.last_errno = self.last_errno, 0
        return device_error(self.ifname, err)

    def stats(self):
        cdef tpacket_stats_v3 st
        cdef unsigned int slen = sizeof(st)
        if self.map != NULL and getsockopt(self.fd, SOL_PACKET, PACKET_STATISTICS, &st, &slen) == 0:
            # Reading the kernel's counters resets them: keep the sum.
            self.kernel_drops += st.tp_drops
        return {"rx_packets": self.rx_packets, "tx_packets": self.tx_packets,
                "rx_drops": self.rx_drops, "tx_errors": self.tx_errors,
                "kernel_drops": self.kernel_drops, "rx_checksums_finished": self.rx_checksums_finished}


# --- dropping frames for the host (non-sniffer mode) ------------------------

_NR_BPF = 321 if os.uname().machine == "x86_64" else 280
_BPF_PROG_LOAD, _BPF_LINK_CREATE = 5, 28
_BPF_PROG_TYPE_SCHED_CLS, _BPF_TCX_INGRESS = 3, 46
_BPF_PROG_TYPE_XDP, _BPF_XDP, _XDP_FLAGS_DRV_MODE = 6, 37, 1 << 2
_TCX_DROP, _XDP_PASS = 2, 2


def _bpf(cmd, attr: bytes):
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(_NR_BPF, cmd, buf, 128)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def _attach_return(ifindex, prog_type, attach_type, flags, verdict, name: bytes):
    """Load 'return verdict' as a program of prog_type and attach it to ifindex
    with a BPF link; returns (program fd, link fd). Closing them detaches."""
    insns = struct.pack("<BBhi", 0xB7, 0, 0, verdict) + struct.pack("<BBhi", 0x95, 0, 0, 0)  # r0 = verdict; exit
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL")
    attr = struct.pack("<IIQQIIQII16sII", prog_type, 2, ctypes.addressof(code),
                       ctypes.addressof(lic), 0, 0, 0, 0, 0, name, 0, attach_type)
    prog = _bpf(_BPF_PROG_LOAD, attr)
    try:
        link = _bpf(_BPF_LINK_CREATE, struct.pack("<IIII", prog, ifindex, attach_type, flags))
    except OSError:
        os.close(prog)
        raise
    return prog, link


def _tcx_drop(ifindex):
    """Drop everything at tcx ingress of ifindex, after packet sockets have their copies."""
    return _attach_return(ifindex, _BPF_PROG_TYPE_SCHED_CLS, _BPF_TCX_INGRESS, 0, _TCX_DROP, b"clickpy_steal")


def _xdp_pass(ifname, ifindex):
    """On a virtual device (a veth), a native XDP program that passes every
    frame: while it is attached the kernel segments GSO frames before they
    cross to this device. None where that cannot be (a NIC, a device that
    has an XDP program already, no native XDP): frames then arrive as they are."""
    if os.path.exists(f"/sys/class/net/{ifname}/device"):
        return None  # a NIC: attaching XDP may reset it, and GRO off already gives MTU frames
    try:
        return _attach_return(ifindex, _BPF_PROG_TYPE_XDP, _BPF_XDP, _XDP_FLAGS_DRV_MODE, _XDP_PASS,
                              b"clickpy_segment")
    except OSError:
        return None


# --- opening ----------------------------------------------------------------

_OPTIONS = {"promisc", "sniffer", "outbound", "qdisc_bypass", "protocol", "block_size", "block_nr",
            "retire_ms", "tx_frames", "slots", "headroom", "rx", "tx", "queue", "burst"}


def open_afpacket(rest, **options):
    """Open ``afpacket:IFNAME`` (see the module documentation for options)."""
    ifname = rest
    check_device_options("afpacket", ifname, options, _OPTIONS)
    if options.get("queue"):
        raise PortError(f"afpacket:{ifname}: AF_PACKET cannot select a receive queue "
                        f"(QUEUE {options['queue']}); use METHOD AFXDP")
    ifindex = interface_index(f"afpacket:{ifname}", ifname)
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError:
        raise PortError(f"afpacket:{ifname}: permission denied (AF_PACKET needs CAP_NET_RAW)") from None
    cdef PacketPort port = PacketPort.__new__(PacketPort)
    port._sock = sock
    port.fd = sock.fileno()
    port.name = f"afpacket:{ifname}"
    port.ifname = ifname
    port.ifindex = ifindex
    port.headroom = int(options.get("headroom", 0)) or 48
    port.sniffer = bool(options.get("sniffer", True))
    try:
        _setup(port, sock, options)
    except OSError as e:
        port.close()
        raise PortError(f"afpacket:{ifname}: {e.strerror or e}") from None
    except BaseException:
        port.close()
        raise
    return port


cdef int _setup(PacketPort port, sock, dict options) except -1:
    cdef tpacket_req3 req
    cdef uint32_t slots = int(options.get("slots", 1024))
    cdef bint want_rx = bool(options.get("rx", True))
    cdef bint want_tx = bool(options.get("tx", True))
    cdef size_t rx_size = 0, tx_size = 0
    cdef void *m
    protocol = int(options.get("protocol", 0)) or ETH_P_ALL
    sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
    if want_rx:
        port.block_size = int(options.get("block_size", 1 << 17))
        port.block_nr = int(options.get("block_nr", 64))
        memset(&req, 0, sizeof(req))
        req.tp_block_size = port.block_size
        req.tp_block_nr = port.block_nr
        req.tp_frame_size = 2048
        req.tp_frame_nr = port.block_size // 2048 * port.block_nr
        req.tp_retire_blk_tov = int(options.get("retire_ms", 1))
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, (<char *> &req)[:sizeof(req)])
        rx_size = <size_t> port.block_size * port.block_nr
    if want_tx:
        port.tx_frame_size = 2048
        port.tx_frame_nr = int(options.get("tx_frames", 1024))
        memset(&req, 0, sizeof(req))
        req.tp_block_size = 1 << 16
        req.tp_frame_size = port.tx_frame_size
        req.tp_block_nr = (port.tx_frame_nr * port.tx_frame_size + (1 << 16) - 1) >> 16
        req.tp_frame_nr = req.tp_block_nr * ((1 << 16) // port.tx_frame_size)
        port.tx_frame_nr = req.tp_frame_nr
        sock.setsockopt(SOL_PACKET, PACKET_TX_RING, (<char *> &req)[:sizeof(req)])
        tx_size = <size_t> req.tp_block_size * req.tp_block_nr
        if options.get("qdisc_bypass", True):
            sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    if not options.get("outbound", False):
        try:
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            pass  # kernels before 4.20: outgoing frames are filtered by type instead
    port.map_size = rx_size + tx_size
    m = mmap(NULL, port.map_size, PROT_READ | PROT_WRITE, MAP_SHARED, port.fd, 0)
    if m == MAP_FAILED:
        raise OSError(errno, f"cannot map the packet rings: {os.strerror(errno)}")
    port.map = <unsigned char *> m
    port.rx_base = port.map
    port.tx_base = port.map + rx_size
    if options.get("promisc"):
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP,
                        struct.pack("iHH8s", port.ifindex, PACKET_MR_PROMISC, 0, b""))
    if want_rx:
        port._xdp_link = _xdp_pass(port.ifname, port.ifindex)
    if want_rx and not port.sniffer:
        try:
            port._drop_link = _tcx_drop(port.ifindex)
        except OSError as e:
            raise PortError(f"afpacket:{port.ifname}: cannot keep frames from the host stack "
                            f"(SNIFFER false needs tcx, Linux 6.6+): {e.strerror}") from None
    # Bound last: frames arrive only once the rings are ready.
    sock.bind((port.ifname, protocol if want_rx else 0))
    add_rings(port, &port.rxr, &port.txr, slots, want_rx, want_tx)
    sock.setblocking(False)
    return 0


register_backend("afpacket", open_afpacket)
