# cython: language_level=3
"""The pipe backend: ``pipe:NAME{N`` (master end) and ``pipe:NAME}N`` (slave end).

See pipe.pxd for the shared layout and the wake-up protocol, and
netmap_shim/README.md for the rules users follow. In one process (threads)
opening either end by name makes the pair; between processes the pair is
made with ``PipePair.create`` and reaches the other process by fork
(``attach``) or over a Unix socket (``send_fds`` / ``PipePair.receive``).
"""
import os
import socket
import weakref

from libc.errno cimport ECONNRESET, EPIPE, errno
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t, uint64_t
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec
from libc.stdlib cimport free, malloc
from libc.string cimport memset, strncpy
from posix.mman cimport MAP_ANONYMOUS, MAP_FAILED, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, mmap, munmap
from posix.unistd cimport getpid, sysconf

from clickpy.netmap_shim.ring cimport (NR_SHARED_BUFFERS, Port, RingHeader, Slot, make_ring, nm_cas_i32,
                                       nm_fence, nm_load_acquire, nm_store_release, nm_xchg_u32,
                                       ring_dist, ring_slot, ring_space)
from clickpy.runtime.packet cimport (BUFFER_FOREIGN, MAX_DOMAIN, Pool, domain_mark, small_pool_export,
                                     small_pool_import, small_pool_lent_count, small_pool_reclaim,
                                     small_pool_separate, small_pool_state)

from clickpy.netmap_shim.ring import PortError, _detach_rings, register_backend, split_port_options
from clickpy.runtime import packet as _packet


cdef extern from "<sys/socket.h>" nogil:
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    ssize_t recv(int fd, void *buf, size_t n, int flags)
    enum:
        MSG_DONTWAIT
        MSG_NOSIGNAL

cdef extern from "<unistd.h>" nogil:
    enum:
        _SC_PAGESIZE

cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    int poll(pollfd *fds, unsigned long nfds, int timeout)
    enum:
        POLLHUP
        POLLERR

# Why a sync failed (PipePort.error_state says it in words).
cdef enum:
    SYNC_OK = 0
    SYNC_BAD_INDEX = 1            # head or cur outside [the last sync's head, tail]
    SYNC_PEER_GONE = 2            # the other end hung up and nothing is left to read
    SYNC_CORRUPT = 3              # a shared index out of range: the region was damaged
    SYNC_CLOSED = 4
    # An end that finds nothing to do looks for a hang-up at most this often (ns).
    HUP_CHECK_NS = 1000000

DEFAULT_SLOTS = 256
DEFAULT_GRANT = 1024
MAX_SLOTS = 1 << 16
# The wake-up sockets' send buffer (the kernel doubles it): small, so that
# filling it to say "my transmit ring is full" is cheap, and large enough
# for the one or two one-byte doorbells that can be outstanding.
SOCKET_SNDBUF = 16384

cdef char _junk[65536]          # what a full send buffer is filled with, and drained into

# (name, index) -> PipePair, for the pairs this process can open by name.
_pairs = {}
# (name, index, end) -> PipePort opened ahead of time (open_early), for the
# first open_port of that end.
_early = {}
# Pairs made here and not yet reclaimed, per buffer domain: the last one's
# close takes back what the peer still holds.
cdef int _domain_pairs[MAX_DOMAIN + 1]


cdef inline bint _fill(int fd) noexcept nogil:
    """Make fd unwritable: fill its send buffer (the peer drains it). True
    when the peer hung up (the send fails with EPIPE)."""
    while send(fd, _junk, sizeof(_junk), MSG_DONTWAIT | MSG_NOSIGNAL) > 0:
        pass
    return errno == EPIPE or errno == ECONNRESET


cdef inline bint _drain(int fd) noexcept nogil:
    """Read fd dry: it stops being readable and the peer's send buffer
    empties. True when the peer hung up (end of stream)."""
    cdef ssize_t n
    while True:
        n = recv(fd, _junk, sizeof(_junk), MSG_DONTWAIT)
        if n <= 0:
            return n == 0


cdef inline bint _hung_up(int fd) noexcept nogil:
    """Whether the other socket of the pair is closed everywhere (its process
    exited or let go of it), without reading anything."""
    cdef pollfd p
    p.fd = fd
    p.events = 0
    p.revents = 0
    if poll(&p, 1, 0) <= 0:
        return False
    return (p.revents & (POLLHUP | POLLERR)) != 0


cdef inline void _ring(int fd) noexcept nogil:
    """The doorbell: one byte makes the peer's socket readable."""
    send(fd, _junk, 1, MSG_DONTWAIT | MSG_NOSIGNAL)


cdef inline bint _hup_check_due(int64_t *last) noexcept nogil:
    """Whether an idle sync should look for a hang-up now: at most once per
    HUP_CHECK_NS, so spinning on an empty ring costs no system call per
    sync, while a sync after a sleep in poll always looks."""
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    cdef int64_t now = <int64_t> t.tv_sec * 1000000000 + t.tv_nsec
    if now - last[0] < HUP_CHECK_NS:
        return False
    last[0] = now
    return True


cdef size_t _page() noexcept:
    return <size_t> sysconf(_SC_PAGESIZE)


cdef size_t _round_page(size_t n) noexcept:
    cdef size_t pg = _page()
    return (n + pg - 1) // pg * pg


# The pid other processes see for this one, written in the shared region for
# the ends it opens: a process in a PID namespace of its own (a sandboxed
# guest) is told its pid outside (announce_pid); others use getpid().
cdef int _announced_pid = 0
cdef int _announced_for = 0


def announce_pid(int pid):
    """Say this process's pid as the processes outside its PID namespace see
    it (a sandboxed guest, pid 1 inside, calls this before opening its ends)."""
    global _announced_pid, _announced_for
    _announced_pid = pid
    _announced_for = getpid()


cdef inline int _visible_pid() noexcept:
    cdef int me = getpid()
    return _announced_pid if _announced_pid and _announced_for == me else me


def pid_alive(int pid):
    """Whether process pid runs (an exited child not yet reaped does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2:][:1] not in (b"Z", b"X")
    except (OSError, ValueError):
        return True


def _check_name(str name, int index):
    if not name:
        raise PortError("pipe: the pipe needs a NAME (pipe:NAME{N or pipe:NAME}N)")
    if any(c in name for c in "{}?&\0"):
        raise PortError(f"pipe:{name}: a pipe NAME cannot contain {{, }}, ?, & or NUL")
    if len(name.encode()) > PIPE_NAME_MAX:
        raise PortError(f"pipe:{name}: NAME is longer than {PIPE_NAME_MAX} bytes")
    if index < 0:
        raise PortError(f"pipe:{name}{{{index}: the pipe number must be 0 or more")


cdef class PipePair:
    """The shared region of one pipe and the descriptors that reach it.

    ``PipePair.create(name, index, slots, grant)`` in the process that owns
    the buffers (the switch); ``attach()`` in a child forked after that;
    ``send_fds(sock, end)`` and ``PipePair.receive(sock)`` for a process
    started on its own. Then each process opens its end by name with
    ``open_port(pair.master)`` / ``open_port(pair.slave)`` (or
    ``pair.open(end)``).
    """

    def __cinit__(self):
        self.ctrl_fd = -1
        self.socks[0] = -1
        self.socks[1] = -1
        self.sh = NULL
        self.ports = []

    def __dealloc__(self):
        if self.sh != NULL:
            munmap(self.sh, self.ctrl_size)
            self.sh = NULL
        # Descriptors are closed by close(); a pair dropped without it keeps
        # them (they may be shared with a child).

    @property
    def master(self):
        """The master end's port name: pipe:NAME{N."""
        return f"pipe:{self.name}{{{self.index}"

    @property
    def slave(self):
        """The slave end's port name: pipe:NAME}N."""
        return f"pipe:{self.name}}}{self.index}"

    @property
    def closed(self):
        return self.sh == NULL

    @property
    def grant_waiting(self):
        """Buffers still in the grant area for an attaching process."""
        return self.sh.grant_count if self.sh != NULL else 0

    @property
    def buffers(self):
        """Buffers the pair holds in its rings (2 x slots) plus its grant."""
        return 2 * self.slots + self.grant

    def fds(self):
        """{'ctrl', 'pool', 'master', 'slave'}: the descriptors a process
        needs (ctrl and pool, plus the socket of the end it will open)."""
        self._live()
        return {"ctrl": self.ctrl_fd, "pool": _packet.small_pool().fd,
                "master": self.socks[0], "slave": self.socks[1]}

    cdef _live(self):
        if self.sh == NULL:
            raise PortError(f"pipe:{self.name} ({self.index}): the pair is closed")

    @staticmethod
    def create(str name, int index=0, uint32_t slots=DEFAULT_SLOTS, grant=DEFAULT_GRANT, int domain=0):
        """Make a pipe pair in this process and register its two ends.

        slots: slots per direction (2 .. 65536); each holds a buffer of this
        process's pool. grant: buffers set aside for a process that will
        attach (a forked child or one reached over a socket); it owns
        exactly these afterwards. 0 for a pair used by threads of this process.
        domain (1 .. 4095): the attaching process's buffer domain, the same
        for all the pairs of one peer. This process then knows every buffer
        that peer holds, accepts from the pair's rings only buffers lent to
        that peer, and takes all of them back when the peer is gone, even
        killed (close). 0: no domain (a killed peer's grant stays lost).
        """
        if domain < 0 or domain > MAX_DOMAIN:
            raise PortError(f"pipe:{name}{{{index}: domain must be 0 to {MAX_DOMAIN}, not {domain}")
        return PipePair._make(name, index, slots, DEFAULT_GRANT if grant is None else grant, False, domain)

    @staticmethod
    cdef PipePair _make(str name, int index, uint32_t slots, long grant, bint auto, int domain):
        _check_name(name, index)
        if slots < 2 or slots > MAX_SLOTS:
            raise PortError(f"pipe:{name}{{{index}: slots must be 2 to {MAX_SLOTS}, not {slots}")
        if grant < 0:
            raise PortError(f"pipe:{name}{{{index}: grant cannot be negative")
        if not _packet.small_pool_is_own():
            raise PortError(f"pipe:{name}{{{index}: this process was forked from a clickpy process and "
                            "still shares its buffers; attach one of the parent's pipes first")
        old = _pairs.get((name, index))
        if old is not None and not (<PipePair> old).closed and (<PipePair> old).pid == getpid():
            raise PortError(f"pipe:{name}{{{index}: a pipe of that name exists in this process")
        cdef Pool *pool = small_pool_state()
        cdef uint32_t need = 2 * slots + <uint32_t> grant
        if need > pool.nfree:
            raise PortError(f"pipe:{name}{{{index}: needs {need} buffers, the pool has {pool.nfree} free")
        cdef PipePair pair = PipePair.__new__(PipePair)
        pair.name = name
        pair.index = index
        pair.slots = slots
        pair.grant = <uint32_t> grant
        pair.creator = True
        pair.auto = auto
        pair.pid = getpid()
        pair.domain = domain
        pair.mark = domain_mark(domain)
        if domain:
            _domain_pairs[domain] += 1
        cdef size_t pg = _page()
        cdef size_t grant_off = pg
        cdef size_t slots0 = grant_off + _round_page(max(<size_t> grant, 1) * sizeof(uint32_t))
        cdef size_t slot_bytes = _round_page(slots * sizeof(Slot))
        cdef size_t total = slots0 + 2 * slot_bytes
        fd = os.memfd_create(f"clickpy-pipe:{name}{{{index}")
        pair.ctrl_fd = fd
        try:
            os.ftruncate(fd, total)
        except OSError as e:
            os.close(fd)
            pair.ctrl_fd = -1
            raise PortError(f"pipe:{name}{{{index}: cannot size its shared region: {e.strerror}") from None
        cdef void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        if base == MAP_FAILED:
            os.close(fd)
            pair.ctrl_fd = -1
            raise PortError(f"pipe:{name}{{{index}: cannot map its shared region")
        pair.sh = <PipeShared *> base
        pair.ctrl_size = total
        cdef PipeShared *sh = pair.sh
        sh.version = PIPE_VERSION
        sh.num_slots = slots
        sh.buf_size = pool.buffer_size
        sh.nbuffers = pool.nbuffers
        sh.pipe_index = index
        sh.grant_cap = <uint32_t> grant
        sh.creator_pid = _visible_pid()
        sh.ctrl_size = total
        sh.grant_off = grant_off
        sh.slots_off[0] = slots0
        sh.slots_off[1] = slots0 + slot_bytes
        encoded = name.encode()
        strncpy(sh.name, encoded, PIPE_NAME_MAX)
        # Every slot holds a buffer from the start; they leave this process.
        cdef uint32_t *tmp = <uint32_t *> malloc(slots * sizeof(uint32_t))
        cdef uint32_t d, i, got
        cdef Slot *s
        if tmp == NULL:
            pair._unmap_close()
            raise MemoryError()
        for d in range(2):
            got = small_pool_export(tmp, slots, pair.mark)
            for i in range(slots):
                s = (<Slot *> (<char *> base + sh.slots_off[d])) + i
                s.buf_idx = tmp[i] if i < got else 0xFFFFFFFF
                s.len = 0
                s.offset = 0
                s.flags = 0
        free(tmp)
        sh.grant_count = small_pool_export(<uint32_t *> (<char *> base + grant_off), <uint32_t> grant, pair.mark)
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        for so in (a, b):
            so.setblocking(False)
            so.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SNDBUF)
        pair.socks[0] = a.detach()
        pair.socks[1] = b.detach()
        nm_store_release(&sh.magic, PIPE_MAGIC)
        _pairs[(name, index)] = pair
        return pair

    @staticmethod
    def receive(sock):
        """In a process started on its own: take a pair sent with send_fds
        over the connected Unix socket sock, share the sender's buffer
        region, take the pair's grant as this process's buffers, and
        register the end it may open. Do it before making any packet."""
        msg, fds, _flags, _addr = socket.recv_fds(sock, 64, 4)
        if not msg.startswith(b"clickpy-pipe") or len(msg) < 13 or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            raise PortError("pipe: the message on the socket is not a pipe pair")
        return PipePair.from_fds(fds[0], fds[1], fds[2], msg[12])

    @staticmethod
    def from_fds(int ctrl_fd, int pool_fd, int sock_fd, int end):
        """As receive, given the descriptors (this object takes them over):
        the pair's control memfd, the sender's pool memfd and the socket of
        end (0 master, 1 slave)."""
        if end not in (0, 1):
            raise PortError(f"pipe: end must be 0 (master) or 1 (slave), not {end}")
        cdef PipePair pair = PipePair.__new__(PipePair)
        pair.ctrl_fd = ctrl_fd
        pair.socks[end] = sock_fd
        pair.pid = getpid()
        pair.creator = False
        pair.mark = BUFFER_FOREIGN
        try:
            size = os.fstat(ctrl_fd).st_size
        except OSError as e:
            pair._close_fds()
            os.close(pool_fd)
            raise PortError(f"pipe: bad control descriptor: {e.strerror}") from None
        cdef void *base = MAP_FAILED
        if size >= sizeof(PipeShared):
            base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ctrl_fd, 0)
        if base == MAP_FAILED:
            pair._close_fds()
            os.close(pool_fd)
            raise PortError("pipe: cannot map the control region (not a pipe pair?)")
        pair.sh = <PipeShared *> base
        pair.ctrl_size = size
        cdef PipeShared *sh = pair.sh
        cdef Pool *pool = small_pool_state()
        try:
            if nm_load_acquire(&sh.magic) != PIPE_MAGIC or sh.version != PIPE_VERSION:
                raise PortError("pipe: the control region is not a pipe pair of this version")
            if sh.ctrl_size > size or not _layout_ok(sh):
                raise PortError("pipe: the control region's layout is inconsistent")
            if sh.buf_size != pool.buffer_size or sh.nbuffers != pool.nbuffers:
                raise PortError(f"pipe: the sender's pool has {sh.nbuffers} buffers of {sh.buf_size} bytes, "
                                f"this one {pool.nbuffers} of {pool.buffer_size}")
            pair.name = bytes(sh.name[:PIPE_NAME_MAX]).split(b"\0")[0].decode()
            pair.index = sh.pipe_index
            pair.slots = sh.num_slots
            pair.grant = sh.grant_cap
            try:
                remapped = _packet.share_small_pool(pool_fd)
            except _packet.PoolError as e:
                raise PortError(f"pipe:{pair.name}: {e}") from None
        except BaseException:
            pair._unmap_close()
            os.close(pool_fd)
            raise
        os.close(pool_fd)
        pair.pid = -1           # not attached yet: _take_grant attaches
        pair._take_grant(bool(remapped))
        _pairs[(pair.name, pair.index)] = pair
        return pair

    def send_fds(self, sock, int end=PIPE_SLAVE):
        """Send what a separately started process needs to open one end
        (end: 1 slave, 0 master) over the connected Unix socket sock."""
        self._live()
        if end not in (0, 1) or self.socks[end] < 0:
            raise PortError(f"{self.master}: this process has no descriptor for end {end}")
        socket.send_fds(sock, [b"clickpy-pipe" + bytes([end])],
                        [self.ctrl_fd, _packet.small_pool().fd, self.socks[end]])

    def attach(self):
        """In a child forked after create(): take the grant as this process's
        buffers (and nothing else: what the child inherited stays the
        parent's), so the child can open an end. Returns the number of
        buffers received. In the creating process it does nothing."""
        self._live()
        if self.pid == getpid():
            return 0
        return self._take_grant(False)

    cdef uint32_t _take_grant(self, bint fresh_region) except? 0:
        cdef PipeShared *sh = self.sh
        cdef uint32_t n = nm_xchg_u32(&sh.grant_count, 0)
        cdef uint32_t *bufs = <uint32_t *> (<char *> sh + sh.grant_off)
        if n > sh.grant_cap:
            n = sh.grant_cap
        cdef uint32_t got
        if fresh_region or not _packet.small_pool_is_own():
            # This process's free lists were the parent's (or another
            # region's): from now on it owns the grant and nothing else.
            if not fresh_region:
                _packet.privatize_large_pool()
            got = small_pool_separate(bufs, n)
        else:
            got = small_pool_import(bufs, n, BUFFER_FOREIGN)
        self.pid = getpid()
        self.creator = False
        self.mark = BUFFER_FOREIGN
        self.taken = got
        return got

    def open(self, int end):
        """Open end 0 (master, same as open_port(pair.master)) or 1 (slave)."""
        return _open_end(self, end)

    def open_early(self, int end):
        """Open an end now, before anything asks for it: the first
        open_port of its name gets this port (a pooled guest maps its
        rings while it waits for its Plan, not after)."""
        port = _open_end(self, end)
        _early[(self.name, self.index, end)] = port
        return port

    def release_end(self, int end):
        """Close this process's descriptor for an end that another process
        holds (after fork(), or after send_fds). Then, when that process
        exits, the end opened here sees it: its descriptor polls as hung up
        and its syncs fail once every frame sent before has been read
        (``PipePort.peer_gone``). An attached process does this by itself
        when it opens its end."""
        if end not in (0, 1):
            raise PortError(f"{self.master}: end must be 0 (master) or 1 (slave), not {end}")
        self._live()
        if self.sh.end_pid[end] == _visible_pid():
            raise PortError(f"{self.master if end == 0 else self.slave}: the end is open in this process")
        if self.socks[end] >= 0:
            os.close(self.socks[end])
            self.socks[end] = -1

    def close(self):
        """Close this process's ends and let go of the pair.

        In the creating process, once no process holds an end open (or the
        ones that did have exited), the buffers in the rings and any grant
        not taken or given back return to the pool; while an end is still
        open elsewhere they stay with the pair. A process that attached gives
        back as many free buffers as it was granted. Returns False when the
        creator could not take its buffers back (an end is still open in a
        live process), True otherwise."""
        if self.sh == NULL:
            return True
        for ref in list(self.ports):
            port = ref()
            if port is not None:
                port.close()
        self.ports = []
        _early.pop((self.name, self.index, 0), None)
        _early.pop((self.name, self.index, 1), None)
        cdef int me = getpid()
        cdef int e
        cdef bint free_to_reclaim = True
        if self.pid == me and self.creator:
            for e in range(2):
                if not self._end_free(e):
                    free_to_reclaim = False
            if free_to_reclaim:
                self._reclaim()
        elif self.pid == me and self.taken:
            self._give_back()
        if _pairs.get((self.name, self.index)) is self:
            del _pairs[(self.name, self.index)]
        self._unmap_close()
        return free_to_reclaim

    cdef bint _end_free(self, int e):
        """Whether end e is held open by no live process (then it is marked
        destroyed): nobody opened it, its process closed it, or its process
        is gone: the end's socket, which this process let go of, hung up (a
        guest in its own PID namespace says a pid we cannot check), or its
        pid runs no more."""
        cdef PipeShared *sh = self.sh
        cdef int me = _visible_pid()
        cdef bint hung_up = self.socks[e] < 0 and self.socks[1 - e] >= 0 and _hung_up(self.socks[1 - e])
        while True:
            holder = sh.end_pid[e]
            if holder == 0 or holder == PIPE_DESTROYED or (holder != me and (hung_up or not pid_alive(holder))):
                if nm_cas_i32(&sh.end_pid[e], holder, PIPE_DESTROYED):
                    return True
                continue
            return False

    cdef void _reclaim(self):
        """Take back the pair's buffers: the rings' buffers and the grant as
        given back or never taken; and, with a domain, once the peer's last
        pair is closed, every buffer still lent to the peer (it was killed
        holding its grant, packets, frames in flight)."""
        cdef PipeShared *sh = self.sh
        cdef uint32_t d, i, n
        cdef uint32_t *tmp = <uint32_t *> malloc(sh.num_slots * sizeof(uint32_t))
        if tmp != NULL:
            for d in range(2):
                for i in range(sh.num_slots):
                    tmp[i] = ((<Slot *> (<char *> sh + sh.slots_off[d])) + i).buf_idx
                small_pool_import(tmp, sh.num_slots, self.mark)
            free(tmp)
        cdef uint32_t *area = <uint32_t *> (<char *> sh + sh.grant_off)
        n = nm_xchg_u32(&sh.grant_count, 0)
        small_pool_import(area, min(n, sh.grant_cap), self.mark)
        n = nm_xchg_u32(&sh.returned, 0)
        small_pool_import(area, min(n, sh.grant_cap), self.mark)
        if self.domain:
            _domain_pairs[self.domain] -= 1
            if _domain_pairs[self.domain] == 0 and small_pool_lent_count(self.mark):
                # The peer's last pair, and it did not give everything back
                # (killed, or it still held packets): take back what it holds.
                small_pool_reclaim(self.mark)

    cdef void _give_back(self):
        cdef PipeShared *sh = self.sh
        cdef uint32_t n = min(self.taken, sh.grant_cap)
        if sh.grant_count != 0 or sh.returned != 0:
            return
        n = small_pool_export(<uint32_t *> (<char *> sh + sh.grant_off), n, BUFFER_FOREIGN)
        nm_store_release(&sh.returned, n)
        self.taken = 0

    cdef void _close_fds(self):
        if self.ctrl_fd >= 0:
            os.close(self.ctrl_fd)
            self.ctrl_fd = -1
        for e in range(2):
            if self.socks[e] >= 0:
                os.close(self.socks[e])
                self.socks[e] = -1

    cdef void _unmap_close(self):
        if self.sh != NULL:
            munmap(self.sh, self.ctrl_size)
            self.sh = NULL
        self._close_fds()

    def __repr__(self):
        state = "closed" if self.sh == NULL else f"{self.slots} slots, grant {self.grant}"
        return f"<PipePair {self.name} {self.index}: {state}>"


cdef bint _layout_ok(PipeShared *sh) noexcept:
    cdef uint64_t slot_bytes = <uint64_t> sh.num_slots * sizeof(Slot)
    cdef uint64_t pg = _page()
    if sh.num_slots < 2 or sh.num_slots > MAX_SLOTS:
        return False
    if sh.grant_off % pg or sh.slots_off[0] % pg or sh.slots_off[1] % pg:
        return False
    if sh.grant_off < sizeof(PipeShared) or sh.grant_off + <uint64_t> sh.grant_cap * 4 > sh.ctrl_size:
        return False
    for d in range(2):
        if sh.slots_off[d] < sh.grant_off or sh.slots_off[d] + slot_bytes > sh.ctrl_size:
            return False
    return True


cdef RingHeader *_map_ring(int fd, uint64_t offset, uint32_t nslots, size_t *maplen) except NULL:
    """A private header page followed by the shared slots: the header sits
    at the end of its page so that ring_slot() lands on the shared ones."""
    cdef size_t pg = _page()
    cdef size_t slot_bytes = _round_page(nslots * sizeof(Slot))
    cdef size_t total = pg + slot_bytes
    cdef char *base = <char *> mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if <void *> base == MAP_FAILED:
        raise PortError("pipe: cannot map a ring")
    if mmap(base + pg, slot_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, offset) == MAP_FAILED:
        munmap(base, total)
        raise PortError("pipe: cannot map a ring's slots")
    maplen[0] = total
    return <RingHeader *> (base + pg - sizeof(RingHeader))


cdef void _unmap_ring(RingHeader *r, size_t maplen) noexcept:
    if r != NULL:
        munmap(<char *> r + sizeof(RingHeader) - _page(), maplen)


cdef inline int _user_state(RingHeader *r, int ring, uint32_t done) noexcept nogil:
    """SYNC_CLOSED for no ring (or not ring 0); SYNC_BAD_INDEX if the user
    moved head or cur off the slots it owns: out of range, head outside
    [done, tail] (done: the backend's own position, head at the last sync)
    or cur outside [head, tail]; else SYNC_OK."""
    cdef uint32_t h
    if r == NULL or ring != 0:
        return SYNC_CLOSED
    h = r.head
    if h >= r.num_slots or r.cur >= r.num_slots \
            or ring_dist(r, done, h) > ring_dist(r, done, r.tail) or ring_dist(r, h, r.cur) > ring_dist(r, h, r.tail):
        return SYNC_BAD_INDEX
    return SYNC_OK


cdef inline bint _publish(uint32_t *index, uint32_t value, uint32_t *other_wait) noexcept nogil:
    """Publish this end's index (release), then whether the other end asked
    to be woken (its wait flag was set; it is cleared here, once)."""
    nm_store_release(index, value)
    nm_fence()
    return nm_load_acquire(other_wait) != 0 and nm_xchg_u32(other_wait, 0) != 0


cdef class PipePort(Port):
    """One end of a pipe: one receive ring and one transmit ring."""

    def __cinit__(self, *args, **kwargs):
        self.txr = NULL
        self.rxr = NULL
        self.sock = -1
        self.pid = 0

    def __dealloc__(self):
        self._unmap()
        if self.sh != NULL and self.pair is not None and not self.pair.closed:
            nm_cas_i32(&self.sh.end_pid[self.end], _visible_pid(), 0)

    cdef void _unmap(self) noexcept:
        _unmap_ring(self.txr, self.txmap_len)
        _unmap_ring(self.rxr, self.rxmap_len)
        self.txr = NULL
        self.rxr = NULL

    cdef int txsync(self, int ring) noexcept:
        cdef RingHeader *r = self.txr
        cdef PipeDir *d = self.txd
        cdef uint32_t h, c, old_tail, n
        cdef int done
        self.sync_error = _user_state(r, ring, self.tx_prod)
        if self.sync_error != SYNC_OK:
            return -1
        n = r.num_slots
        h = r.head
        if h != self.tx_prod:
            self.tx_packets += ring_dist(r, self.tx_prod, h)
            self.tx_prod = h
            if _publish(&d.prod, h, &d.c_wait):
                _ring(self.sock)
                self.wakeups += 1
        c = nm_load_acquire(&d.cons)
        if c >= n:
            self.sync_error = SYNC_CORRUPT
            return -1
        old_tail = r.tail
        r.tail = c - 1 if c > 0 else n - 1
        done = ring_dist(r, old_tail, r.tail)
        if r.cur == r.tail:
            if nm_load_acquire(&d.p_wait) == 0:
                # Full as far as cur: say so, then look again (the receiver may
                # have released slots before it could see the flag).
                nm_store_release(&d.p_wait, 1)
                if _fill(self.sock):
                    self.peer_gone = True
                self.waits += 1
                nm_fence()
                c = nm_load_acquire(&d.cons)
                if c >= n:
                    self.sync_error = SYNC_CORRUPT
                    return -1
                old_tail = r.tail
                r.tail = c - 1 if c > 0 else n - 1
                done += ring_dist(r, old_tail, r.tail)
            elif not self.peer_gone:
                if _hup_check_due(&self.last_hup_check) and _hung_up(self.sock):
                    self.peer_gone = True
        if self.peer_gone:
            # Nobody will release the slots: what was published is lost with the peer.
            self.sync_error = SYNC_PEER_GONE
            return -1
        self.sync_error = SYNC_OK
        return done

    cdef int rxsync(self, int ring) noexcept:
        cdef RingHeader *r = self.rxr
        cdef PipeDir *d = self.rxd
        cdef uint32_t h, p, n
        self.sync_error = _user_state(r, ring, self.rx_cons)
        if self.sync_error != SYNC_OK:
            return -1
        n = r.num_slots
        h = r.head
        if h != self.rx_cons:
            self.rx_packets += ring_dist(r, self.rx_cons, h)
            self.rx_cons = h
            if _publish(&d.cons, h, &d.p_wait):
                _drain(self.sock)     # the sender becomes writable
        p = nm_load_acquire(&d.prod)
        if p >= n:
            self.sync_error = SYNC_CORRUPT
            return -1
        r.tail = p
        if r.cur == r.tail:
            if nm_load_acquire(&d.c_wait) == 0:
                # Nothing past cur: forget old doorbells, ask for one, look again.
                if _drain(self.sock):
                    self.peer_gone = True
                nm_store_release(&d.c_wait, 1)
                self.waits += 1
                nm_fence()
                p = nm_load_acquire(&d.prod)
                if p >= n:
                    self.sync_error = SYNC_CORRUPT
                    return -1
                r.tail = p
            elif not self.peer_gone:
                if _hup_check_due(&self.last_hup_check) and _hung_up(self.sock):
                    self.peer_gone = True
                    # The peer may have published its last frames, then exited,
                    # since prod was read above: read it again before saying gone.
                    p = nm_load_acquire(&d.prod)
                    if p >= n:
                        self.sync_error = SYNC_CORRUPT
                        return -1
                    r.tail = p
        if self.peer_gone and r.head == r.tail:
            # Every frame the peer published has been read: say it is gone.
            self.sync_error = SYNC_PEER_GONE
            return -1
        self.sync_error = SYNC_OK
        return ring_space(r)

    def error_state(self):
        """None while the port works; else why the last sync failed, in words."""
        if self.closed:
            return "port closed"
        other = self.pair.slave if self.end == PIPE_MASTER else self.pair.master
        if self.sync_error == SYNC_BAD_INDEX:
            return "head or cur was moved outside the slots the user owns (head <= cur <= tail)"
        if self.sync_error == SYNC_CORRUPT:
            return "the pipe's shared indices are out of range (the shared region was damaged)"
        if self.peer_gone or self.sync_error == SYNC_PEER_GONE:
            return f"the other end ({other}) is gone: its process exited or closed the pipe"
        return None

    @property
    def drains_itself(self):
        """True: frames published by txsync reach the peer without another
        sync (a sender waits only for a full ring)."""
        return True

    @property
    def peer_pid(self):
        """The process holding the other end open (0: nobody)."""
        if self.sh == NULL or self.closed:
            return 0
        return max(self.sh.end_pid[1 - self.end], 0)

    def close(self):
        if self.closed:
            return
        self.closed = True
        _detach_rings(self)
        self._unmap()
        self.rx_rings = []
        self.tx_rings = []
        self.fd = -1
        cdef PipePair pair = self.pair
        if pair is None or pair.closed:
            return
        nm_cas_i32(&self.sh.end_pid[self.end], _visible_pid(), 0)
        pair.ports = [ref for ref in pair.ports if ref() is not None and ref() is not self]
        if pair.auto and pair.creator and not pair.ports:
            if self.sh.end_pid[0] in (0, PIPE_DESTROYED) and self.sh.end_pid[1] in (0, PIPE_DESTROYED):
                pair.close()


cdef PipePort _open_end(PipePair pair, int end):
    pair._live()
    name = pair.master if end == PIPE_MASTER else pair.slave
    cdef int me = getpid()
    if pair.pid != me:
        raise PortError(f"{name}: the pair was made by process {pair.pid}; call attach() in this process first")
    if not _packet.small_pool_is_own():
        raise PortError(f"{name}: this process still shares its parent's buffers; call attach() first")
    if pair.socks[end] < 0:
        raise PortError(f"{name}: this process was given the other end of the pipe only")
    cdef PipeShared *sh = pair.sh
    me = _visible_pid()
    while True:
        holder = sh.end_pid[end]
        if holder == PIPE_DESTROYED:
            raise PortError(f"{name}: the pipe was closed by the process that made it")
        if holder == me:
            raise PortError(f"{name}: already open in this process")
        if holder != 0 and pid_alive(holder):
            raise PortError(f"{name}: already open in process {holder}")
        if nm_cas_i32(&sh.end_pid[end], holder, me):
            break
    cdef PipePort port = PipePort.__new__(PipePort)
    port.name = name
    port.pair = pair
    port.end = end
    port.sh = sh
    port.pid = me
    port.sock = pair.socks[end]
    port.txd = &sh.dir[end]
    port.rxd = &sh.dir[1 - end]
    try:
        port.txr = _map_ring(pair.ctrl_fd, sh.slots_off[end], sh.num_slots, &port.txmap_len)
        port.rxr = _map_ring(pair.ctrl_fd, sh.slots_off[1 - end], sh.num_slots, &port.rxmap_len)
    except BaseException:
        port._unmap()
        nm_cas_i32(&sh.end_pid[end], me, 0)
        raise
    cdef RingHeader *r
    cdef uint32_t n = sh.num_slots
    cdef uint32_t c
    cdef int k
    for k in range(2):
        r = port.txr if k == 0 else port.rxr
        r.num_slots = n
        r.flags = NR_SHARED_BUFFERS
        r.foreign = pair.mark
        r.buf_size = sh.buf_size
        r.drops = 0
    port.tx_prod = nm_load_acquire(&port.txd.prod) % n
    c = nm_load_acquire(&port.txd.cons) % n
    port.txr.head = port.txr.cur = port.tx_prod
    port.txr.tail = c - 1 if c > 0 else n - 1
    port.rx_cons = nm_load_acquire(&port.rxd.cons) % n
    port.rxr.head = port.rxr.cur = port.rx_cons
    port.rxr.tail = nm_load_acquire(&port.rxd.prod) % n
    port.rx_rings = [make_ring(port.rxr, port, False, 0)]
    port.tx_rings = [make_ring(port.txr, port, True, 0)]
    port.fd = port.sock
    pair.ports.append(weakref.ref(port))
    if not pair.creator and pair.socks[1 - end] >= 0:
        # An attached process serves one end: let go of the other's socket,
        # so that this process's exit shows on it (see release_end).
        os.close(pair.socks[1 - end])
        pair.socks[1 - end] = -1
    return port


def _parse(str rest):
    """NAME{N or NAME}N -> (name, index, end)."""
    cut = max(rest.rfind("{"), rest.rfind("}"))
    if cut < 0:
        raise PortError(f"pipe:{rest}: expected pipe:NAME{{N (master end) or pipe:NAME}}N (slave end)")
    name, brace, number = rest[:cut], rest[cut], rest[cut + 1:]
    if not number.isdigit() or not number.isascii():
        raise PortError(f"pipe:{rest}: the pipe number '{number}' is not a number "
                        "(expected pipe:NAME{N or pipe:NAME}N)")
    index = int(number)
    if index >= 1 << 31:
        raise PortError(f"pipe:{rest}: the pipe number is too large")
    _check_name(name, index)
    return name, index, PIPE_MASTER if brace == "{" else PIPE_SLAVE


def _open(str rest, **options):
    base, opts = split_port_options(f"pipe:{rest}", rest, options, {"slots": int})
    name, index, end = _parse(base)
    early = _early.pop((name, index, end), None)
    if early is not None and not early.closed and "slots" not in opts:
        return early
    pair = _pairs.get((name, index))
    if pair is not None and (<PipePair> pair).closed:
        pair = None
    if pair is None:
        slots = opts.get("slots", DEFAULT_SLOTS)
        if not 2 <= slots <= MAX_SLOTS:
            raise PortError(f"pipe:{rest}: slots must be 2 to {MAX_SLOTS}, not {slots}")
        pair = PipePair._make(name, index, slots, 0, True, 0)
    elif "slots" in opts and opts["slots"] != (<PipePair> pair).slots:
        raise PortError(f"pipe:{rest}: the pipe exists with {(<PipePair> pair).slots} slots, not {opts['slots']}")
    return _open_end(pair, end)


def pairs():
    """The pipe pairs this process can open by name."""
    return dict(_pairs)


register_backend("pipe", _open)
