"""The sandbox a guest runs in: a process cloned from the zygote into its own
network, mount, IPC and PID namespaces, under a memory cap, without
privileges, behind a seccomp filter.

The zygote (single-threaded, clickpy imported) calls ``clone_sandboxed()``;
the child then calls ``enter_sandbox(limits)``, whose steps run in this order:

0. ``close_descriptors_except``: when the limits list the descriptors the
   guest keeps, every other one it inherited is closed;
1. ``isolate_mounts``: mount propagation private, so nothing the guest mounts
   reaches the host, and a fresh /proc for its PID namespace (it sees only
   its own processes, and /proc/net shows only its own ``lo``);
2. ``MemoryCgroup.join``: into a cgroup v1 memory cgroup the parent made
   ahead of time (a pool of ready sandboxes makes them before any guest asks);
3. ``drop_privileges``: the capability bounding set emptied, then an
   unprivileged uid and gid (a uid-0 process without capabilities still
   passes the owner's permission checks on root's files: it could raise its
   own memory.limit_in_bytes or write /proc/sys/kernel), capabilities cleared
   with capset, not dumpable (no other process of the uid can ptrace it or
   open its /proc/PID/mem), killed with its parent, no new privileges;
4. ``apply_filter``: the seccomp filter (see ``DENIED``), compiled once by
   libseccomp in the zygote and installed in the child with one system call.

A guest is the init of its PID namespace: the kernel delivers it only the
signals it has a handler for, apart from SIGKILL and SIGSTOP. Stop guests
with SIGKILL (or have them handle SIGTERM). Its ``os.getpid()`` is 1: tell
the switch ``host_pid()``.

A guest runs as an unprivileged uid, so it imports only what the zygote
imported or what that uid can read: where the interpreter lives in /root
(mode 700), a lazy import in a guest fails (IPClassifier's configure, through
AddressInfo's interface lookup, imports pyroute2 so). The zygote imports such
modules before it clones.

Costs on this machine (kernel 6.18, Python 3.11 with clickpy imported), p50 /
p99 over 1,000 runs, the child exiting at once; two runs, while other work
kept the 2 cores busy (load average 5-7), so the p99s are mostly waiting for
a CPU:

                         returned in the parent      until the child is reaped
    os.fork              385-449 / 1240-1846 us      1457-3845 / 11603-13189 us
    clone_sandboxed      1251-1640 / 7971-14566 us   5280-6474 / 15878-31356 us

In the child: isolate_mounts 87-118 / 209-3236 us, MemoryCgroup.join 209-268
/ 15328-16874 us (moving a task between cgroups waits for an RCU grace
period, 5-16 ms, unless the kernel favours moves: ``favor_cgroup_moves``
below, which the guest manager holds; then 0.3-0.4 ms),
drop_privileges 117-154 / 1512-4229 us, apply_filter 113-134 / 2001-4240 us;
all four 548-696 us p50. compile_filter, once per zygote: 0.7 ms, and 12 ms
more the first time, to import pyseccomp.
"""
from __future__ import annotations

import errno
import functools
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

from clickpy.guest import syscalls

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID

MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4

NOBODY = 65534
MEMORY_HIERARCHY = Path("/sys/fs/cgroup/memory")

# Denied with EPERM once the filter is on. Everything else is allowed: a
# Python data plane makes a wide and version-dependent set of calls (lazy
# imports, epoll, memfds, mmap, futex, signals), and an allow-list that
# missed one would break a guest at an unforeseen moment. The namespaces, the
# unprivileged uid and the empty capability sets confine what is left; this
# list closes what reaches outside the guest and the kernel's riskiest
# surfaces.
DENIED = (
    # the network: no new sockets (inherited ones still send and receive)
    "socket", "connect", "bind", "listen", "accept", "accept4",
    # other processes' memory
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    # the file system tree and namespaces, old and new mount APIs
    "mount", "umount2", "pivot_root", "chroot", "setns", "unshare", "mount_setattr",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
    "open_by_handle_at", "name_to_handle_at",
    # kernel surfaces a data plane never needs
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "acct", "syslog", "iopl", "ioperm",
)
NAMESPACE_FLAGS = (CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                   CLONE_NEWPID, CLONE_NEWNET)

_host_pid: int | None = None      # set in a sandboxed child: its pid outside


class SandboxError(Exception):
    """A sandbox that cannot be made or used; says why in one line."""


# --- the clone ----------------------------------------------------------------


def clone_sandboxed() -> int:
    """Fork the calling process into new network, mount, IPC and PID
    namespaces with one clone(2). Returns the child's pid (as the caller sees
    it) in the parent, 0 in the child; raises OSError on failure.

    The child is pid 1 of its namespace (``os.getpid()`` is 1 there);
    ``host_pid()`` tells it its pid outside. The caller must be
    single-threaded (a zygote): another thread could hold a lock of the C
    library that the child would then wait on forever. It should also have
    imported every module its guests use: a guest runs as an unprivileged
    uid, which may not be able to read the interpreter's library folders.
    """
    global _host_pid
    threads = os.stat("/proc/self/task").st_nlink - 2
    if threads != 1:
        raise OSError(errno.EINVAL, f"clone_sandboxed: the caller has {threads} threads; "
                      "only a single-threaded process (a zygote) may clone a sandbox")
    compile_filter()    # here, once: the child may no longer read pyseccomp's files
    pid = syscalls.clone(NAMESPACES)
    if pid == 0:
        # /proc is still the parent's: it names this process by its outside pid.
        _host_pid = int(os.readlink("/proc/self"))
    return pid


def host_pid() -> int:
    """The calling process's pid in the zygote's PID namespace."""
    return _host_pid if _host_pid is not None else os.getpid()


# --- the steps in the child ---------------------------------------------------


@dataclass(frozen=True)
class SandboxLimits:
    memory: MemoryCgroup | None = None   # made by the parent; None: no cap
    uid: int = NOBODY                    # 0 keeps root's file permissions (not advised)
    gid: int = NOBODY
    die_with_parent: bool = True         # SIGKILL when the zygote exits
    # Descriptors the guest keeps besides 0-2 (its control socket, the pool's
    # memfds); the rest are closed. None keeps all: whatever the zygote holds
    # (a host port's socket, say) is then the guest's too.
    keep_fds: frozenset[int] | None = None


def enter_sandbox(limits: SandboxLimits) -> None:
    """Confine the calling process, a child of ``clone_sandboxed``, for good."""
    if limits.keep_fds is not None:
        close_descriptors_except(limits.keep_fds)
    isolate_mounts()
    if limits.memory is not None:
        limits.memory.join()
    drop_privileges(limits.uid, limits.gid, limits.die_with_parent)
    apply_filter()


def close_descriptors_except(keep) -> None:
    """Close every descriptor but 0, 1, 2 and those in keep (close_range(2))."""
    low = 3
    for fd in sorted(fd for fd in keep if fd >= low):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 2**31 - 1)


def isolate_mounts() -> None:
    """Stop mount events flowing to or from the host, then mount a /proc of
    this PID namespace over the host's."""
    syscalls.mount(None, "/", None, MS_REC | MS_PRIVATE)
    syscalls.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def drop_privileges(uid: int = NOBODY, gid: int = NOBODY, die_with_parent: bool = True) -> None:
    """Leave root for good; see the module docstring for the order's reasons."""
    # The bounding set and ambient set need CAP_SETPCAP: empty them first.
    syscalls.drop_bounding_set()
    syscalls.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    syscalls.clear_capabilities()   # already empty after leaving uid 0; says so for uid 0
    # A change of uid resets both of these: set them after it.
    syscalls.prctl(PR_SET_DUMPABLE, 0)
    if die_with_parent:
        syscalls.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    syscalls.prctl(PR_SET_NO_NEW_PRIVS, 1)


def apply_filter() -> None:
    """Install the seccomp filter (compiled once per zygote)."""
    syscalls.load_seccomp_program(compile_filter())


@functools.cache
def compile_filter() -> bytes:
    """The seccomp filter as a BPF program: allow all but ``DENIED`` (EPERM),
    socketpair of a family other than AF_UNIX, clone with a namespace flag;
    clone3 says ENOSYS, so the C library falls back to clone, whose flags the
    filter can see. A call from another architecture (i386, x32) kills."""
    # Imported here: importing it looks the library up with ldconfig (~10 ms).
    try:
        import pyseccomp as seccomp
    except (ImportError, RuntimeError) as e:    # RuntimeError: it found no libseccomp
        raise SandboxError(f"the sandbox's seccomp filter needs the pyseccomp package and "
                           f"the libseccomp2 library: {e}") from None

    deny = seccomp.ERRNO(errno.EPERM)
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    for name in DENIED:
        f.add_rule(deny, name)
    f.add_rule(deny, "socketpair", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    for flag in NAMESPACE_FLAGS:
        f.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    fd = os.memfd_create("clickpy-seccomp")
    with os.fdopen(fd, "w+b") as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()


# --- the memory cap -----------------------------------------------------------


class MemoryCgroup:
    """A cgroup v1 memory cgroup, MEMORY_HIERARCHY/clickpy/NAME, capping its
    processes at limit bytes (memory and swap together where the kernel
    accounts swap). The parent creates it (ahead of time if it likes), the
    guest joins it, the parent removes it once the guest is reaped."""

    def __init__(self, name: str, limit: int, hierarchy: Path = MEMORY_HIERARCHY):
        if not name or "/" in name or name in (".", ".."):
            raise SandboxError(f"memory cgroup name {name!r}: one path component, please")
        if limit <= 0:
            raise SandboxError(f"memory cgroup {name}: limit {limit} is not a positive byte count")
        self.name = name
        self.limit = limit
        self.hierarchy = Path(hierarchy)
        self.path = self.hierarchy / "clickpy" / name

    def __repr__(self) -> str:
        return f"MemoryCgroup({self.name!r}, {self.limit})"

    @property
    def exists(self) -> bool:
        return self.path.is_dir()

    def create(self) -> MemoryCgroup:
        if not (self.hierarchy / "memory.limit_in_bytes").exists():
            raise SandboxError(f"no cgroup v1 memory controller mounted at {self.hierarchy}")
        try:
            (self.hierarchy / "clickpy").mkdir(exist_ok=True)
            self.path.mkdir()
        except FileExistsError:
            raise SandboxError(f"memory cgroup {self.path} exists already "
                               "(a guest's, not yet removed?)") from None
        except OSError as e:
            raise SandboxError(f"cannot create memory cgroup {self.path}: {e.strerror}") from None
        try:
            self._write("memory.limit_in_bytes", self.limit)
            if self._swap_counted():
                self._write("memory.memsw.limit_in_bytes", self.limit)
        except BaseException:
            self.path.rmdir()
            raise
        return self

    def resize(self, limit: int) -> None:
        """Change the cap (a pooled sandbox learns its guest's cap late); only
        the parent can, as a guest may not write its cgroup's files."""
        if limit <= 0:
            raise SandboxError(f"memory cgroup {self.name}: limit {limit} is not a positive byte count")
        # memsw may never be below the memory limit: raise it first, lower it last.
        order = ["memory.limit_in_bytes"]
        if self._swap_counted():
            order.append("memory.memsw.limit_in_bytes")
        for leaf in (reversed(order) if limit > self.limit else order):
            self._write(leaf, limit)
        self.limit = limit

    def _swap_counted(self) -> bool:
        # Swap counts too where the kernel accounts it, or a guest could
        # outgrow its cap by swapping.
        return (self.path / "memory.memsw.limit_in_bytes").exists()

    def join(self, pid: int = 0) -> None:
        """Move process pid into the cgroup (0: the calling process; a guest
        joins itself, as its pid outside means nothing in its namespace)."""
        self._write("cgroup.procs", pid)

    @property
    def usage(self) -> int:
        return int(self._read("memory.usage_in_bytes"))

    @property
    def max_usage(self) -> int:
        return int(self._read("memory.max_usage_in_bytes"))

    @property
    def oom_kills(self) -> int:
        """Processes of this cgroup the OOM killer killed at the cap."""
        for line in self._read("memory.oom_control").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        raise SandboxError(f"{self.path}/memory.oom_control has no oom_kill count (kernel before 4.13?)")

    def pids(self) -> list[int]:
        return [int(x) for x in self._read("cgroup.procs").split()]

    def remove(self) -> None:
        """Remove the cgroup; its processes must have exited and been reaped."""
        try:
            self.path.rmdir()
        except FileNotFoundError:
            raise SandboxError(f"memory cgroup {self.path} does not exist (removed already?)") from None
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
            raise SandboxError(f"memory cgroup {self.path} still holds processes {self.pids()}") from None

    def _read(self, leaf: str) -> str:
        try:
            fd = os.open(self.path / leaf, os.O_RDONLY)
        except FileNotFoundError:
            raise self._missing() from None
        try:
            return os.read(fd, 4096).decode()
        finally:
            os.close(fd)

    def _write(self, leaf: str, value: int) -> None:
        try:
            fd = os.open(self.path / leaf, os.O_WRONLY)
        except FileNotFoundError:
            raise self._missing() from None
        try:
            os.write(fd, str(value).encode())
        except OSError as e:
            raise SandboxError(f"memory cgroup {self.path}: writing {value} to {leaf}: "
                               f"{e.strerror}") from None
        finally:
            os.close(fd)

    def _missing(self) -> SandboxError:
        if not (self.hierarchy / "memory.limit_in_bytes").exists():
            return SandboxError(f"no cgroup v1 memory controller mounted at {self.hierarchy}")
        return SandboxError(f"memory cgroup {self.path} does not exist (not created, or removed)")


# --- moving guests into their cgroups without waiting ---------------------------
#
# By default Linux keeps fork and exit cheap at the expense of moving a task
# between cgroups: a move waits for an RCU grace period (5-16 ms on this
# machine; a new guest waits for it while joining its memory cgroup, and it
# was most of a zygote start). A cgroup hierarchy mounted with
# ``favordynmods`` flips that trade for the whole kernel while it is
# mounted: a move takes about 0.3 ms, and fork and exit everywhere take the
# lock's slower shared path. The memory hierarchy cannot be remounted with
# the option, so a switch mounts an empty named cgroup v1 hierarchy of its
# own (no controllers, ``name=clickpy-PID``) at FAVOR_FOLDER/favor-PID while
# its guest managers live. A switch that died leaves its mount behind: the
# next one removes it. (Measured on this machine's 6.18 kernel: the kernel
# goes on favouring moves after the mount is gone, until the next boot.)

FAVOR_FOLDER = Path("/run/clickpy")
MNT_DETACH = 2
_favor = {"path": None, "users": 0}


def favor_cgroup_moves(folder: Path = FAVOR_FOLDER) -> Path:
    """Have the kernel favour cgroup moves until as many
    ``unfavor_cgroup_moves`` calls; the mount point. SandboxError says why
    not (no privileges, a kernel before 6.1 without favordynmods)."""
    if _favor["path"] is None:
        sweep_favor_mounts(folder)
        path = Path(folder) / f"favor-{os.getpid()}"
        try:
            path.mkdir(parents=True, exist_ok=True)
            syscalls.mount("cgroup", str(path), "cgroup", 0, f"none,name=clickpy-{os.getpid()},favordynmods")
        except OSError as e:
            try:
                path.rmdir()
            except OSError:
                pass
            raise SandboxError(f"cannot mount a cgroup hierarchy with favordynmods at {path}: "
                               f"{e.strerror or e} (moving a guest into its cgroup may wait "
                               "5-16 ms)") from None
        _favor["path"] = path
    _favor["users"] += 1
    return _favor["path"]


def unfavor_cgroup_moves() -> None:
    """One user fewer; the last one unmounts."""
    if _favor["users"] == 0:
        return
    _favor["users"] -= 1
    if _favor["users"] == 0:
        path, _favor["path"] = _favor["path"], None
        _unmount(path)


def sweep_favor_mounts(folder: Path = FAVOR_FOLDER) -> list[Path]:
    """Unmount the hierarchies of switches that are gone; the ones removed."""
    from clickpy.netmap_shim.backends.pipe import pid_alive

    gone = []
    for path in sorted(Path(folder).glob("favor-*")):
        pid = path.name.partition("-")[2]
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        _unmount(path)
        gone.append(path)
    return gone


def _unmount(path: Path) -> None:
    """Detach a mount (lazily: guests' mount namespaces may hold copies) and remove its folder."""
    try:
        syscalls.umount(str(path), MNT_DETACH)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOENT):     # EINVAL: not a mount point
            raise SandboxError(f"cannot unmount {path}: {e.strerror}") from None
    try:
        path.rmdir()
    except OSError:
        pass
