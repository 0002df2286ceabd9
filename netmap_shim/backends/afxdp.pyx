# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# distutils: libraries = xdp bpf
"""AF_XDP ports: ``afxdp:IFNAME`` (options below), through libxdp's xsk API.

An XDP program (libxdp's default, which redirects each frame of a queue to
the AF_XDP socket bound to that queue) is attached when a receiving port
opens and removed when the last one on the interface closes. A program left
behind by a process that died is found and removed on the next open: a
lock file held while a port is open tells a live owner from a dead one.

UMEM. By default the UMEM *is* the runtime's small buffer pool: frame
address = buffer index * buffer size. The kernel writes a received frame
straight into a pool buffer, which becomes a packet without a copy, and a
packet's buffer is handed to the kernel for transmission without a copy;
every AF_XDP port of the process shares the one UMEM, so a frame forwarded
between two such ports is never copied in user space. The cost: the whole
pool is registered, so its pages are pinned in memory while a port is open.
``umem="private"`` (or CLICKPY_AFXDP_UMEM=private in the environment)
gives a port its own small UMEM instead, with one copy
into (or out of) a pool buffer per frame; ``bench/veth_forwarding.py``
measures both.

Options: ``queue`` (default 0), ``mode`` (``auto``: native, i.e. driver,
XDP where the driver has it, else skb mode; or ``native``/``skb``),
``umem`` (``pool``/``private``), ``ring_size`` (AF_XDP ring descriptors,
power of two, default 2048), ``slots`` (shim ring slots, default 1024),
``rx``/``tx`` (which directions; a transmit-only port attaches no program
and steals nothing), ``zerocopy`` (ask the driver for zero-copy mode;
default copy mode), ``promisc``. ``sniffer`` and ``outbound`` are refused:
XDP takes frames away from the host and never sees outgoing ones.
"""
import errno as _errno
import fcntl
import os
import socket
import sys
import time

from cpython.bytes cimport PyBytes_AS_STRING
from libc.errno cimport EAGAIN, EBUSY, ENOBUFS, errno
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, strerror
from posix.mman cimport MAP_ANONYMOUS, MAP_FAILED, MAP_POPULATE, MAP_PRIVATE, PROT_READ, PROT_WRITE, mmap, munmap

from clickpy.netmap_shim.backends.checksum cimport finish_l4_checksum
from clickpy.netmap_shim.backends.common cimport add_rings, free_rings
from clickpy.netmap_shim.ring cimport NS_BUF_CHANGED, Port, RingHeader, Slot, ring_next, ring_slot, ring_space
from clickpy.runtime.packet cimport Pool, buffer_alloc, buffer_free, small_pool_state

from clickpy.netmap_shim.backends.common import check_device_options, device_error, interface_index
from clickpy.netmap_shim.ring import PortError, register_backend

cdef extern from "<sys/socket.h>" nogil:
    ssize_t sendto(int fd, const void *buf, size_t n, int flags, const void *addr, unsigned int addrlen)
    ssize_t recvfrom(int fd, void *buf, size_t n, int flags, void *addr, unsigned int *addrlen)
    int getsockopt(int fd, int level, int name, void *val, unsigned int *len)
    enum:
        MSG_DONTWAIT

# libxdp and libbpf print their complaints to stderr; keep the last one to
# put in our own error messages instead.
cdef extern from *:
    """
    #include <stdarg.h>
    #include <stdio.h>
    #include <xdp/libxdp.h>
    #include <bpf/libbpf.h>
    static char clickpy_xdp_last_msg[512];
    static int clickpy_xdp_verbose = 0;
    static int clickpy_xdp_print(enum libxdp_print_level level, const char *fmt, va_list args) {
        va_list copy;
        va_copy(copy, args);
        if (level == LIBXDP_WARN)
            vsnprintf(clickpy_xdp_last_msg, sizeof clickpy_xdp_last_msg, fmt, args);
        if (clickpy_xdp_verbose)
            vfprintf(stderr, fmt, copy);
        va_end(copy);
        return 0;
    }
    static int clickpy_bpf_print(enum libbpf_print_level level, const char *fmt, va_list args) {
        return clickpy_xdp_print(level == LIBBPF_WARN ? LIBXDP_WARN : LIBXDP_DEBUG, fmt, args);
    }
    static void clickpy_xdp_quiet(int verbose) {
        clickpy_xdp_verbose = verbose;
        libxdp_set_print(clickpy_xdp_print);
        libbpf_set_print(clickpy_bpf_print);
    }
    """
    char clickpy_xdp_last_msg[512]
    void clickpy_xdp_quiet(int verbose)

clickpy_xdp_quiet(1 if os.environ.get("CLICKPY_XDP_DEBUG") else 0)

# The name libxdp gives its redirect-to-socket program.
XSK_PROGRAM = b"xsk_def_prog"
LOCK_DIR = "/run/clickpy"

cdef PoolUmem _pool_umem            # the shared UMEM over the buffer pool
_locks = {}                         # ifname key -> [file, users]: this process's device locks
_attached = {}                      # ifindex -> ports of this process receiving on it


def _last_libxdp_message():
    msg = (<bytes> clickpy_xdp_last_msg).decode("utf-8", "replace").strip()
    clickpy_xdp_last_msg[0] = 0
    return msg


def _netns_id():
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return 0


def _lock_device(ifname):
    """Hold a lock on (network namespace, interface) while a port is open; a
    process that dies lets go of it, so a program found attached without a
    lock holder is stale. The lock file is removed by the last user (while
    it still holds the lock); a process that locked a file removed meanwhile
    tries again with the new one."""
    key = f"{_netns_id()}-{ifname}"
    entry = _locks.get(key)
    if entry is not None:
        entry[1] += 1
        return key
    os.makedirs(LOCK_DIR, exist_ok=True)
    path = os.path.join(LOCK_DIR, f"afxdp-{key}.lock")
    while True:
        f = open(path, "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise PortError(f"afxdp:{ifname}: the interface is in use by another clickpy process "
                            f"(lock {path})") from None
        try:
            if os.stat(path).st_ino == os.fstat(f.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        f.close()   # removed by its last holder after we opened it: take the new one
    _locks[key] = [f, 1, path]
    return key


def _unlock_device(key):
    entry = _locks.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] == 0:
        del _locks[key]
        try:
            os.unlink(entry[2])
        except OSError:
            pass
        entry[0].close()


cdef list _program_names(int ifindex, int *mode):
    """Names of the XDP programs attached to ifindex (empty if none)."""
    cdef xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex)
    cdef xdp_program *prog
    names = []
    mode[0] = XDP_MODE_UNSPEC
    if mp == NULL or libxdp_get_error(mp) != 0:
        return names
    mode[0] = xdp_multiprog__attach_mode(mp)
    if xdp_multiprog__is_legacy(mp):
        prog = xdp_multiprog__main_prog(mp)
        if prog != NULL:
            names.append(<bytes> xdp_program__name(prog))
    else:
        prog = xdp_multiprog__next_prog(NULL, mp)
        while prog != NULL:
            names.append(<bytes> xdp_program__name(prog))
            prog = xdp_multiprog__next_prog(prog, mp)
    xdp_multiprog__close(mp)
    return names


cdef int _detach_all(int ifindex) noexcept:
    cdef xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex)
    cdef int r
    if mp == NULL or libxdp_get_error(mp) != 0:
        return 0
    r = xdp_multiprog__detach(mp)
    xdp_multiprog__close(mp)
    return r


def _remove_stale_program(ifname, ifindex):
    """Under the device lock: a libxdp socket program attached now was left by
    a process that died; remove it. Any other program is the user's: refuse."""
    cdef int mode
    names = _program_names(ifindex, &mode)
    if not names:
        return
    if all(n == XSK_PROGRAM for n in names):
        if _detach_all(ifindex) == 0:
            print(f"afxdp:{ifname}: removed a stale XDP socket program left by an earlier run",
                  file=sys.stderr)
            return
        raise PortError(f"afxdp:{ifname}: cannot remove the stale XDP program left by an earlier run "
                        f"({_last_libxdp_message() or 'detach failed'}); try 'xdp-loader unload -a {ifname}'")
    others = ", ".join(n.decode("ascii", "replace") for n in names if n != XSK_PROGRAM)
    raise PortError(f"afxdp:{ifname}: the interface already has an XDP program ({others}); "
                    f"remove it first (xdp-loader unload -a {ifname})")


cdef class XdpPort(Port):
    def __cinit__(self, *args, **kwargs):
        self.xsk = NULL
        self.umem = NULL
        self.area = NULL
        self.frame_stack = NULL
        self.rxr = NULL
        self.txr = NULL
        self.ifname = ""
        self.ifindex = 0
        self.mode = ""
        self.lock_file = None
        self._given = NULL

    def __dealloc__(self):
        self._close()

    # --- buffers handed to the kernel (pool UMEM): tracked so that closing
    # the port gives every one back to the pool.

    cdef inline void _give(self, uint32_t buf) noexcept nogil:
        self._given[buf >> 6] |= (<uint64_t> 1) << (buf & 63)

    cdef inline void _taken(self, uint32_t buf) noexcept nogil:
        self._given[buf >> 6] &= ~((<uint64_t> 1) << (buf & 63))

    # --- the data path ---------------------------------------------------

    cdef int rxsync(self, int ring) noexcept:
        if self.xsk == NULL or self.rxr == NULL:
            return -1
        if self.pool_umem:
            return self._rx_pool()
        return self._rx_private()

    cdef int _rx_pool(self) noexcept nogil:
        cdef RingHeader *r = self.rxr
        cdef uint32_t room = r.num_slots - 1 - ring_space(r)
        cdef uint32_t idx = 0, got, i, buf
        cdef const xdp_desc *d
        cdef Slot *s
        cdef uint32_t shift = self._shift
        cdef unsigned char *umem_base = small_pool_state().base  # the UMEM is the pool
        if room:
            got = xsk_ring_cons__peek(&self.rx, room, &idx)
            for i in range(got):
                d = xsk_ring_cons__rx_desc(&self.rx, idx + i)
                buf = <uint32_t> (d.addr >> shift)
                self._taken(buf)
                s = ring_slot(r, r.tail)
                buffer_free(s.buf_idx)
                s.buf_idx = buf
                s.offset = <uint16_t> (d.addr & (self.frame_size - 1))
                s.len = d.len
                if finish_l4_checksum(umem_base + d.addr, d.len, True):
                    self.rx_checksums_finished += 1
                s.flags = NS_BUF_CHANGED
                r.tail = ring_next(r, r.tail)
            if got:
                xsk_ring_cons__release(&self.rx, got)
                self.rx_packets += got
            self._refill()
            if got == 0 and xsk_ring_prod__needs_wakeup(&self.fq):
                recvfrom(self.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL)
        return ring_space(r)

    cdef int _rx_private(self) noexcept nogil:
        cdef RingHeader *r = self.rxr
        cdef uint32_t room = r.num_slots - 1 - ring_space(r)
        cdef uint32_t idx = 0, fidx = 0, got, i, nf, len
        cdef const xdp_desc *d
        cdef Slot *s
        cdef uint64_t frame
        cdef Pool *pool = small_pool_state()
        if room:
            got = xsk_ring_cons__peek(&self.rx, room, &idx)
            nf = xsk_ring_prod__reserve(&self.fq, got, &fidx) if got else 0
            for i in range(got):
                d = xsk_ring_cons__rx_desc(&self.rx, idx + i)
                s = ring_slot(r, r.tail)
                len = d.len
                if len > pool.buffer_size - self.headroom:
                    len = pool.buffer_size - self.headroom
                memcpy(pool.base + <size_t> s.buf_idx * pool.buffer_size + self.headroom,
                       self.area + d.addr, len)
                if finish_l4_checksum(pool.base + <size_t> s.buf_idx * pool.buffer_size + self.headroom,
                                      len, True):
                    self.rx_checksums_finished += 1
                s.offset = <uint16_t> self.headroom
                s.len = len
                s.flags = 0
                r.tail = ring_next(r, r.tail)
                # The frame goes straight back to the fill ring.
                frame = d.addr & ~(<uint64_t> self.frame_size - 1)
                if i < nf:
                    xsk_ring_prod__fill_addr(&self.fq, fidx + i)[0] = frame
                else:
                    self.frame_stack[self.nframes_free] = <uint32_t> (frame >> self._shift)
                    self.nframes_free += 1
            if got:
                xsk_ring_cons__release(&self.rx, got)
                xsk_ring_prod__submit(&self.fq, nf)
                self.rx_packets += got
            if got == 0 and xsk_ring_prod__needs_wakeup(&self.fq):
                recvfrom(self.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL)
        return ring_space(r)

    cdef void _refill(self) noexcept nogil:
        """Keep the fill ring full of free buffers."""
        cdef uint32_t idx = 0, want, n, i
        cdef int64_t b
        want = xsk_prod_nb_free(&self.fq, self.fill_target)
        if want == 0:
            return
        n = xsk_ring_prod__reserve(&self.fq, want, &idx)
        for i in range(n):
            if self.pool_umem:
                b = buffer_alloc()
                if b < 0:
                    break
                self._give(<uint32_t> b)
            else:
                if self.nframes_free == 0:
                    break
                self.nframes_free -= 1
                b = self.frame_stack[self.nframes_free]
            xsk_ring_prod__fill_addr(&self.fq, idx + i)[0] = (<uint64_t> b) << self._shift
        else:
            i = n
        if i < n:
            # Out of buffers: give back the reservation we cannot fill by
            # submitting only what was written (the rest stays reserved
            # locally and is overwritten next time).
            self.fq.cached_prod -= n - i
        xsk_ring_prod__submit(&self.fq, i)

    cdef void _complete(self) noexcept nogil:
        cdef uint32_t idx = 0, n, i, buf
        cdef uint64_t addr
        if self.tx_outstanding == 0:
            return
        n = xsk_ring_cons__peek(&self.cq, self.tx_outstanding, &idx)
        for i in range(n):
            addr = xsk_ring_cons__comp_addr(&self.cq, idx + i)[0]
            buf = <uint32_t> (addr >> self._shift)
            if self.pool_umem:
                self._taken(buf)
                buffer_free(buf)
            else:
                self.frame_stack[self.nframes_free] = buf
                self.nframes_free += 1
        if n:
            xsk_ring_cons__release(&self.cq, n)
            self.tx_outstanding -= n

    cdef int _kick(self) noexcept nogil:
        """Make the kernel send what the tx ring holds (copy mode sends only
        when asked, a bounded number per call). EBUSY from the kernel means
        the device dropped one frame (it is down, or has no carrier) and
        stopped there: count it and go on with the rest."""
        cdef int tries = 0
        cdef ssize_t r
        while tries < 64:
            tries += 1
            r = sendto(self.fd, NULL, 0, MSG_DONTWAIT, NULL, 0)
            if r >= 0:
                return 0
            if errno == EBUSY:
                self.tx_errors += 1
                self.last_errno = errno
            elif errno != EAGAIN:
                if errno == ENOBUFS:
                    return 0
                self.last_errno = errno
                return -1
            if xsk_prod_nb_free(&self.tx, self.tx.size) == self.tx.size:
                return 0
        return 0

    cdef int txsync(self, int ring) noexcept:
        cdef RingHeader *r = self.txr
        cdef uint32_t pending, n, idx = 0, i, k = 0, fresh_needed
        cdef xdp_desc *d
        cdef Slot *s
        cdef int64_t fresh
        cdef uint64_t frame
        cdef Pool *pool = small_pool_state()
        if self.xsk == NULL or r == NULL:
            return -1
        self._complete()
        pending = r.head - self.tx_hwcur if r.head >= self.tx_hwcur else r.head + r.num_slots - self.tx_hwcur
        if pending:
            n = xsk_prod_nb_free(&self.tx, pending)
            if n > pending:
                n = pending
            if self.pool_umem:
                if n > pool.nfree:
                    n = pool.nfree
            elif n > self.nframes_free:
                n = self.nframes_free
            if n:
                n = xsk_ring_prod__reserve(&self.tx, n, &idx)
            for i in range(n):
                s = ring_slot(r, self.tx_hwcur)
                self.tx_hwcur = ring_next(r, self.tx_hwcur)
                if s.len == 0 or s.offset + s.len > self.frame_size:
                    self.tx_errors += 1
                    continue
                d = xsk_ring_prod__tx_desc(&self.tx, idx + k)
                if self.pool_umem:
                    # The slot's buffer goes to the kernel; the slot gets a fresh one.
                    fresh = buffer_alloc()
                    d.addr = ((<uint64_t> s.buf_idx) << self._shift) + s.offset
                    self._give(s.buf_idx)
                    s.buf_idx = <uint32_t> fresh
                    s.flags = NS_BUF_CHANGED
                else:
                    self.nframes_free -= 1
                    frame = (<uint64_t> self.frame_stack[self.nframes_free]) << self._shift
                    memcpy(self.area + frame, pool.base + <size_t> s.buf_idx * pool.buffer_size + s.offset, s.len)
                    d.addr = frame
                d.len = s.len
                d.options = 0
                s.len = 0
                k += 1
            if n:
                if k < n:  # invalid slots skipped: hand back their descriptors
                    self.tx.cached_prod -= n - k
                xsk_ring_prod__submit(&self.tx, k)
                self.tx_outstanding += k
                self.tx_packets += k
        if self.tx_outstanding and self._kick() < 0:
            self._complete()
            r.tail = self.tx_hwcur - 1 if self.tx_hwcur else r.num_slots - 1
            return -1
        self._complete()
        # Everything handed over (or skipped) is the user's again.
        r.tail = self.tx_hwcur - 1 if self.tx_hwcur else r.num_slots - 1
        return ring_space(r)

    # --- Python side -------------------------------------------------------

    def _close(self):
        cdef uint32_t w, nwords
        cdef uint64_t bits
        cdef int bit
        if self.xsk != NULL:
            xsk_socket__delete(self.xsk)
            self.xsk = NULL
            self._release_program()
        if self.pool_umem:
            if self._given != NULL:
                # Every buffer the kernel still had goes back to the pool.
                nwords = (small_pool_state().nbuffers + 63) >> 6
                for w in range(nwords):
                    bits = self._given[w]
                    while bits:
                        bit = 0
                        while not (bits & ((<uint64_t> 1) << bit)):
                            bit += 1
                        bits &= ~((<uint64_t> 1) << bit)
                        buffer_free((w << 6) + bit)
                free(self._given)
                self._given = NULL
            if self.umem != NULL:
                _pool_umem.users -= 1
                if _pool_umem.users == 0:
                    xsk_umem__delete(_pool_umem.umem)
                    _pool_umem.umem = NULL
                self.umem = NULL
        elif self.umem != NULL:
            xsk_umem__delete(self.umem)
            self.umem = NULL
        if self.area != NULL:
            munmap(self.area, self.area_size)
            self.area = NULL
        free(self.frame_stack)
        self.frame_stack = NULL
        free_rings(&self.rxr, &self.txr)
        if self.lock_file is not None:
            _unlock_device(self.lock_file)
            self.lock_file = None
        self.fd = -1

    def _release_program(self):
        ports = _attached.get(self.ifindex)
        if ports is None or self not in ports:
            return
        ports.remove(self)
        if ports:
            return
        del _attached[self.ifindex]
        # libxdp detaches its program with the last socket; make sure, so
        # that the interface goes back to the host stack.
        cdef int mode
        try:
            names = _program_names(self.ifindex, &mode)
        except Exception:
            return
        if names and all(n == XSK_PROGRAM for n in names):
            _detach_all(self.ifindex)

    def error_state(self):
        """None while the port works; else why it does not (device gone or down)."""
        cdef int err = 0
        cdef unsigned int elen = sizeof(int)
        if self.xsk == NULL:
            return "port closed"
        getsockopt(self.fd, socket.SOL_SOCKET, socket.SO_ERROR, &err, &elen)
        if err == 0:
            err = self.last_errno
            self.last_errno = 0
        return device_error(self.ifname, err)

    def stats(self):
        cdef xdp_statistics st
        cdef unsigned int slen = sizeof(st)
        out = {"rx_packets": self.rx_packets, "tx_packets": self.tx_packets,
               "rx_drops": self.rx_drops, "tx_errors": self.tx_errors, "kernel_drops": None,
               "rx_checksums_finished": self.rx_checksums_finished}
        if self.xsk != NULL and getsockopt(self.fd, SOL_XDP, XDP_STATISTICS, &st, &slen) == 0:
            out["kernel_drops"] = st.rx_dropped + st.rx_ring_full + st.rx_fill_ring_empty_descs
            out["rx_ring_full"] = st.rx_ring_full
            out["fill_ring_empty"] = st.rx_fill_ring_empty_descs
        return out

    @property
    def umem_kind(self):
        return "pool" if self.pool_umem else "private"


cdef int _create_pool_umem(XdpPort port, uint32_t ring_size) except -1:
    cdef Pool *pool = small_pool_state()
    cdef xsk_umem_config cfg
    cdef int r
    if _pool_umem.umem != NULL:
        _pool_umem.users += 1
        port.umem = _pool_umem.umem
        return 0
    cfg.fill_size = ring_size * 2
    cfg.comp_size = ring_size * 2
    cfg.frame_size = pool.buffer_size
    cfg.frame_headroom = 0
    cfg.flags = 0
    r = xsk_umem__create(&_pool_umem.umem, pool.base, <uint64_t> pool.nbuffers * pool.buffer_size,
                         &port.fq, &port.cq, &cfg)
    if r != 0:
        _pool_umem.umem = NULL
        raise PortError(f"afxdp:{port.ifname}: cannot register the buffer pool as UMEM: "
                        f"{os.strerror(-r)}{_detail()}")
    _pool_umem.users = 1
    _pool_umem.frame_size = pool.buffer_size
    port.umem = _pool_umem.umem
    return 0


cdef int _create_private_umem(XdpPort port, uint32_t ring_size) except -1:
    cdef xsk_umem_config cfg
    cdef uint32_t i
    cdef int r
    port.nframes = ring_size * 4
    port.area_size = <size_t> port.nframes * port.frame_size
    cdef void *area = mmap(NULL, port.area_size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
    if area == MAP_FAILED:
        raise PortError(f"afxdp:{port.ifname}: cannot map a {port.area_size}-byte UMEM")
    port.area = <unsigned char *> area
    port.frame_stack = <uint32_t *> malloc(port.nframes * sizeof(uint32_t))
    if port.frame_stack == NULL:
        raise MemoryError()
    for i in range(port.nframes):
        port.frame_stack[i] = port.nframes - 1 - i
    port.nframes_free = port.nframes
    cfg.fill_size = ring_size * 2
    cfg.comp_size = ring_size * 2
    cfg.frame_size = port.frame_size
    cfg.frame_headroom = 0
    cfg.flags = 0
    r = xsk_umem__create(&port.umem, port.area, port.area_size, &port.fq, &port.cq, &cfg)
    if r != 0:
        port.umem = NULL
        raise PortError(f"afxdp:{port.ifname}: cannot create a UMEM: {os.strerror(-r)}{_detail()}")
    return 0


def _detail():
    msg = _last_libxdp_message()
    return f" ({msg})" if msg else ""


_BUSY_RETRIES = 25              # EBUSY retries when a queue was just released ...
_BUSY_WAIT = 0.02               # ... this many seconds apart

_MODES = {"auto": ("native", "skb"), "native": ("native",), "drv": ("native",), "skb": ("skb",),
          "generic": ("skb",)}
_OPTIONS = {"queue", "mode", "umem", "ring_size", "slots", "rx", "tx", "zerocopy", "promisc",
            "sniffer", "outbound", "headroom", "burst"}


def open_afxdp(rest, **options):
    """Open ``afxdp:IFNAME`` (see the module documentation for options)."""
    ifname = rest
    check_device_options("afxdp", ifname, options, _OPTIONS)
    if options.get("sniffer"):
        raise PortError(f"afxdp:{ifname}: AF_XDP takes frames away from the host stack, so it "
                        f"cannot run as a sniffer (use SNIFFER false, or METHOD AFPACKET)")
    if options.get("outbound"):
        raise PortError(f"afxdp:{ifname}: AF_XDP does not see frames the host sends (OUTBOUND); "
                        f"use METHOD AFPACKET")
    modes = _MODES.get(str(options.get("mode", "auto")).lower())
    if modes is None:
        raise PortError(f"afxdp:{ifname}: mode must be auto, native or skb")
    umem = str(options.get("umem", os.environ.get("CLICKPY_AFXDP_UMEM", "pool"))).lower()
    if umem not in ("pool", "private"):
        raise PortError(f"afxdp:{ifname}: umem must be pool or private")
    ring_size = int(options.get("ring_size", 2048))
    if ring_size < 64 or ring_size & (ring_size - 1):
        raise PortError(f"afxdp:{ifname}: ring_size must be a power of two >= 64")
    slots = int(options.get("slots", 1024))
    queue = int(options.get("queue", 0))
    want_rx = bool(options.get("rx", True))
    want_tx = bool(options.get("tx", True))
    ifindex = interface_index(f"afxdp:{ifname}", ifname)
    if not os.path.exists("/proc/sys/net") or os.geteuid() != 0 and not _has_net_raw():
        raise PortError(f"afxdp:{ifname}: permission denied (AF_XDP needs CAP_NET_RAW and CAP_BPF)")

    cdef XdpPort port = XdpPort.__new__(XdpPort)
    port.name = f"afxdp:{ifname}"
    port.ifname = ifname
    port.ifindex = ifindex
    port.queue = queue
    port.has_rx = want_rx
    port.pool_umem = umem == "pool"
    port.headroom = int(options.get("headroom", 0)) or 48
    port.lock_file = _lock_device(ifname)
    try:
        if want_rx:
            _remove_stale_program(ifname, ifindex)
        _open_socket(port, modes, ring_size, want_rx, want_tx, bool(options.get("zerocopy", False)))
        add_rings(port, &port.rxr, &port.txr, slots, want_rx, want_tx)
        if options.get("promisc"):
            port._promisc = _promisc_holder(ifindex)
    except BaseException:
        port.close()
        raise
    return port


def _has_net_raw():
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError:
        return False
    s.close()
    return True


def _promisc_holder(ifindex):
    """A packet socket holding a promiscuous membership: the kernel drops it,
    and the interface leaves promiscuous mode, when the socket closes (even
    if the process dies)."""
    import struct

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC = 1, 1
    s.setsockopt(263, PACKET_ADD_MEMBERSHIP, struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b""))
    return s


cdef int _open_socket(XdpPort port, modes, uint32_t ring_size, bint want_rx, bint want_tx,
                      bint zerocopy) except -1:
    cdef xsk_socket_config cfg
    cdef int r = 0
    cdef int attach_mode
    cdef bytes name = port.ifname.encode()
    cdef Pool *pool = small_pool_state()
    port.frame_size = pool.buffer_size if port.pool_umem else 2048
    port._shift = 0
    while (1 << port._shift) < port.frame_size:
        port._shift += 1
    if port.pool_umem:
        port._given = <uint64_t *> calloc((pool.nbuffers + 63) >> 6, sizeof(uint64_t))
        if port._given == NULL:
            raise MemoryError()
    errors = []
    for mode in modes:
        # A socket just closed on this queue (ours, or the attempt in the
        # mode before, which the kernel refused after binding) keeps the
        # queue busy until the kernel's deferred release has run: EBUSY for
        # a few milliseconds. Try again for a while before calling it busy.
        for attempt in range(_BUSY_RETRIES):
            if port.pool_umem:
                _create_pool_umem(port, ring_size)
            else:
                _create_private_umem(port, ring_size)
            cfg.rx_size = ring_size if want_rx else 0
            cfg.tx_size = ring_size if want_tx else 0
            cfg.libxdp_flags = 0 if want_rx else XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD
            cfg.xdp_flags = (XDP_FLAGS_DRV_MODE if mode == "native" else XDP_FLAGS_SKB_MODE)
            cfg.bind_flags = XDP_USE_NEED_WAKEUP | (XDP_ZEROCOPY if zerocopy else XDP_COPY)
            r = xsk_socket__create_shared(&port.xsk, PyBytes_AS_STRING(name), port.queue, port.umem,
                                          &port.rx if want_rx else NULL, &port.tx if want_tx else NULL,
                                          &port.fq, &port.cq, &cfg)
            if r == 0:
                break
            port.xsk = NULL
            # Undo the UMEM for the next try.
            if port.pool_umem:
                _pool_umem.users -= 1
                if _pool_umem.users == 0:
                    xsk_umem__delete(_pool_umem.umem)
                    _pool_umem.umem = NULL
            else:
                xsk_umem__delete(port.umem)
                munmap(port.area, port.area_size)
                port.area = NULL
                free(port.frame_stack)
                port.frame_stack = NULL
            port.umem = NULL
            if r != -_errno.EBUSY or attempt == _BUSY_RETRIES - 1:
                break
            _last_libxdp_message()
            time.sleep(_BUSY_WAIT)
        if r == 0:
            port.mode = mode if want_rx else "none"
            break
        errors.append(f"{mode} mode: {_explain(-r, port, mode)}")
    if port.xsk == NULL:
        raise PortError(f"afxdp:{port.ifname}: cannot open an AF_XDP socket on queue {port.queue}: "
                        + "; ".join(errors))
    port.fd = xsk_socket__fd(port.xsk)
    if want_rx:
        _attached.setdefault(port.ifindex, []).append(port)
        names = _program_names(port.ifindex, &attach_mode)
        if attach_mode == XDP_MODE_SKB:
            port.mode = "skb"
        elif attach_mode == XDP_MODE_NATIVE:
            port.mode = "native"
    port.fill_target = port.fq.size if want_rx else 0
    port._refill()
    return 0


def _explain(err, XdpPort port, mode):
    detail = _last_libxdp_message()
    if err == _errno.EPERM:
        text = "permission denied (needs CAP_NET_RAW and CAP_BPF)"
    elif err == _errno.EINVAL and port.queue:
        text = f"invalid argument (does {port.ifname} have a queue {port.queue}?)"
    elif err == _errno.EBUSY:
        text = "device or resource busy (another socket on this queue, or another XDP program)"
    elif err == _errno.EOPNOTSUPP:
        text = f"the driver does not support XDP in {mode} mode"
    else:
        text = os.strerror(err)
    return f"{text} ({detail})" if detail and detail not in text else text


register_backend("afxdp", open_afxdp)
