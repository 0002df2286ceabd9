"""A sandboxed guest, made as the zygote makes one, with the real kernel: its
own namespaces and /proc, no way to a host interface or a socket outside, no
way into another guest's memory or namespaces, killed at its memory cap, and
still able to run a Router from a Plan and talk over what it inherited.

Each scenario runs in a forked, single-threaded zygote (a pytest worker has
threads, and clone_sandboxed refuses a caller with threads). Guests report
over a socketpair made before the clone; every guest and cgroup a scenario
makes is killed or removed on the way out, whatever happened."""
import ctypes
import dataclasses
import errno
import mmap
import os
import pickle
import select
import shutil
import signal
import socket
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager

import pytest

from clickpy import pipeline
from clickpy.guest import sandbox, syscalls
from clickpy.guest.sandbox import MemoryCgroup, SandboxLimits
from clickpy.runtime.router import Router

pytestmark = pytest.mark.root

TIMEOUT = 60      # seconds a zygote or a guest may take to answer
PTRACE_ATTACH = 16
ETH_P_ALL = socket.htons(3)
LIBC = ctypes.CDLL(None, use_errno=True)


# --- the zygote and its guests -------------------------------------------------


def in_zygote(scenario):
    """Run scenario() in a forked single-threaded process; return its result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            try:
                result = ("ok", scenario())
            except BaseException:
                result = ("failed", traceback.format_exc())
            with os.fdopen(w, "wb") as out:
                pickle.dump(result, out)
        finally:
            os._exit(0)
    os.close(w)
    try:
        data = _read_until_closed(r, time.monotonic() + TIMEOUT)
    finally:
        os.close(r)
        if os.waitpid(pid, os.WNOHANG)[0] == 0:     # not exited: not reaped, so still ours to kill
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    if not data:
        pytest.fail("the zygote said nothing (it hung or died)")
    status, value = pickle.loads(data)
    if status != "ok":
        pytest.fail(f"in the zygote:\n{value}")
    return value


def _read_until_closed(fd, deadline):
    chunks = []
    while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _send(sock, value):
    data = pickle.dumps(value)
    sock.sendall(len(data).to_bytes(4, "big") + data)


def _receive(sock):
    def exactly(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("the guest closed its socket")
            buf += chunk
        return buf

    return pickle.loads(exactly(int.from_bytes(exactly(4), "big")))


class Guest:
    """A sandboxed child of the zygote running body(sock) under limits; it
    sends ("ok", what body returned) or ("failed", a traceback) on sock."""

    def __init__(self, body, limits):
        self.sock, theirs = socket.socketpair()
        self.status = None
        if limits.keep_fds is not None:
            limits = dataclasses.replace(limits, keep_fds=limits.keep_fds | {theirs.fileno()})
        pid = sandbox.clone_sandboxed()
        if pid == 0:
            try:
                self.sock.close()
                try:
                    sandbox.enter_sandbox(limits)
                    result = ("ok", body(theirs))
                except BaseException:
                    result = ("failed", traceback.format_exc())
                _send(theirs, result)
            finally:
                os._exit(0)
        theirs.close()
        self.pid = pid
        self.sock.settimeout(TIMEOUT / 2)    # a silent guest fails the scenario before the zygote times out

    def receive(self):
        """The next thing the guest sends."""
        return _receive(self.sock)

    def result(self):
        status, value = self.receive()
        assert status == "ok", f"in the guest:\n{value}"
        return value

    def wait(self) -> int:
        """Reap the guest; its wait status."""
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
        return self.status

    def stop(self):
        if self.status is None:
            if os.waitpid(self.pid, os.WNOHANG)[0] == 0:
                os.kill(self.pid, signal.SIGKILL)
            self.wait()
        self.sock.close()


@contextmanager
def guests():
    """start(body, limits=SandboxLimits()) -> Guest; all stopped at the end."""
    made = []

    def start(body, limits=SandboxLimits()):
        made.append(Guest(body, limits))
        return made[-1]

    try:
        yield start
    finally:
        for guest in made:
            guest.stop()


@contextmanager
def memory_cgroup(tag, limit):
    cg = MemoryCgroup(f"test-{os.getpid()}-{tag}", limit).create()
    try:
        yield cg
    finally:
        if cg.exists:
            cg.remove()


def failure(call) -> str:
    """The errno name call() fails with, or 'ok'."""
    try:
        call()
    except OSError as e:
        return errno.errorcode[e.errno]
    return "ok"


def libc_failure(name, *args) -> str:
    """The errno name of a libc call returning -1, or 'ok'."""
    if getattr(LIBC, name)(*args) == -1:
        return errno.errorcode[ctypes.get_errno()]
    return "ok"


# --- a guest's view ------------------------------------------------------------

NAMESPACES = ("net", "mnt", "ipc", "pid", "uts", "user", "cgroup")


def _look_around(sock):
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines())
    return {
        "ns": {ns: os.readlink(f"/proc/self/ns/{ns}") for ns in NAMESPACES},
        "pid": os.getpid(), "host_pid": sandbox.host_pid(),
        "tid": (threading.get_native_id(), ctypes.c_int.from_address(syscalls.tid_address()).value),
        "processes": sorted(d for d in os.listdir("/proc") if d.isdigit()),
        "interfaces": [line.split(":")[0].strip()
                       for line in open("/proc/net/dev").read().splitlines()[2:]],
        "uid": os.getuid(), "gid": os.getgid(),
        "status": {k: status[k].strip() for k in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp")},
    }


def test_a_guest_has_its_own_namespaces_and_sees_only_lo_and_itself():
    def scenario():
        with guests() as start:
            guest = start(_look_around)
            mine = {ns: os.readlink(f"/proc/self/ns/{ns}") for ns in NAMESPACES}
            return mine, guest.pid, guest.result(), guest.wait()

    zygote_ns, pid, view, status = in_zygote(scenario)
    assert os.waitstatus_to_exitcode(status) == 0
    for ns in ("net", "mnt", "ipc", "pid"):
        assert view["ns"][ns] != zygote_ns[ns], ns
    for ns in ("uts", "user", "cgroup"):        # not asked for: shared
        assert view["ns"][ns] == zygote_ns[ns], ns
    assert (view["pid"], view["host_pid"]) == (1, pid)
    assert view["tid"] == (1, 1)            # the C library's copy of its thread id too
    assert view["processes"] == ["1"]
    assert view["interfaces"] == ["lo"]
    assert (view["uid"], view["gid"]) == (sandbox.NOBODY, sandbox.NOBODY)
    assert view["status"] == {"CapEff": "0000000000000000", "CapPrm": "0000000000000000",
                              "CapBnd": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2"}


# --- no way out ------------------------------------------------------------------


def test_a_guest_cannot_open_a_host_interface_or_a_socket(tmp_path):
    path = str(tmp_path / "host.sock")

    def scenario():
        host = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        host.bind(path)
        host.listen()
        host.setblocking(False)         # without the filter, accept says EAGAIN rather than hang
        unconnected = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)   # inherited, connected to nothing

        def body(sock):
            tried = {
                "packet": failure(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, ETH_P_ALL)),
                "inet": failure(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
                "raw": failure(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)),
                "inet6": failure(lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)),
                "netlink": failure(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)),
                "unix": failure(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)),
                "inet pair": failure(lambda: socket.socketpair(socket.AF_INET)),
                "connect": failure(lambda: unconnected.connect(path)),
                "bind": failure(lambda: unconnected.bind(path + ".guest")),
                "accept": failure(host.accept),
            }
            a, b = socket.socketpair()          # in-process pipes still get theirs
            a.send(b"x")
            tried["unix pair"] = "ok" if b.recv(1) == b"x" else "no data"
            return tried

        with guests() as start:
            guest = start(body)
            return guest.result(), guest.wait()

    tried, status = in_zygote(scenario)
    assert os.waitstatus_to_exitcode(status) == 0
    assert tried.pop("unix pair") == "ok"
    assert tried == dict.fromkeys(tried, "EPERM") and len(tried) == 10


def test_a_guest_keeps_only_the_descriptors_it_is_given():
    def scenario():
        port = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, ETH_P_ALL)   # as a switch holds one
        pool = os.memfd_create("pool")
        os.write(pool, b"pool")

        def body(sock):
            return failure(lambda: os.fstat(port.fileno())), os.pread(pool, 4, 0)

        with guests() as start:
            guest = start(body, SandboxLimits(keep_fds=frozenset({pool})))
            return guest.result(), guest.wait()

    (port, pool), status = in_zygote(scenario)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (port, pool) == ("EBADF", b"pool")


def test_a_guest_cannot_reach_another_guests_memory_or_namespaces():
    def victim(sock):
        secret = ctypes.create_string_buffer(b"the victim's secret")
        _send(sock, ctypes.addressof(secret))
        sock.recv(1)                    # stays alive until told
        return secret.value

    def scenario():
        with guests() as start:
            a = start(victim)
            address = a.receive()
            host_proc = os.open("/proc", os.O_PATH | os.O_DIRECTORY)   # the zygote's /proc, inherited
            a_net = os.open(f"/proc/{a.pid}/ns/net", os.O_RDONLY)
            a_mnt = os.open(f"/proc/{a.pid}/ns/mnt", os.O_RDONLY)

            def attacker(sock):
                local = ctypes.create_string_buffer(64)
                iov_local = (ctypes.c_void_p * 2)(ctypes.addressof(local), 64)
                iov_remote = (ctypes.c_void_p * 2)(address, 64)
                tried = {
                    "ptrace": libc_failure("ptrace", PTRACE_ATTACH, a.pid, None, None),
                    "process_vm_readv": libc_failure("process_vm_readv", a.pid, iov_local, 1,
                                                     iov_remote, 1, 0),
                    "mem": failure(lambda: open(f"/proc/{a.pid}/mem", "rb")),
                    "mem via the host's /proc": failure(
                        lambda: os.open(f"{a.pid}/mem", os.O_RDONLY, dir_fd=host_proc)),
                    "setns net": libc_failure("setns", a_net, sandbox.CLONE_NEWNET),
                    "setns mnt": libc_failure("setns", a_mnt, sandbox.CLONE_NEWNS),
                    "kill": failure(lambda: os.kill(a.pid, signal.SIGKILL)),
                    "unshare": libc_failure("unshare", sandbox.CLONE_NEWNET),
                    "clone into a new netns": failure(lambda: _clone_and_exit(sandbox.CLONE_NEWNET)),
                    "mount": failure(lambda: syscalls.mount("tmpfs", "/tmp", "tmpfs", 0)),
                }
                # A child process and a thread: plain clone and clone3 (the C
                # library falls back to clone) still work.
                tried["fork"] = _fork_exit_status(7)
                ran = []
                thread = threading.Thread(target=ran.append, args=(1,))
                thread.start()
                thread.join()
                tried["thread"] = ran
                return tried

            b = start(attacker)
            tried = b.result()
            b_status = b.wait()
            a.sock.send(b"x")
            return tried, b_status, a.result(), a.wait()

    tried, b_status, secret, a_status = in_zygote(scenario)
    assert os.waitstatus_to_exitcode(b_status) == 0
    assert tried.pop("fork") == 7 and tried.pop("thread") == [1]
    assert tried == {
        "ptrace": "EPERM", "process_vm_readv": "EPERM",
        "mem": "ENOENT",                            # not in its /proc at all
        "mem via the host's /proc": "EACCES",       # not dumpable, and another uid's anyway
        "setns net": "EPERM", "setns mnt": "EPERM",
        "kill": "ESRCH",                            # not in its PID namespace
        "unshare": "EPERM", "clone into a new netns": "EPERM", "mount": "EPERM",
    }
    assert (secret, os.waitstatus_to_exitcode(a_status)) == (b"the victim's secret", 0)


def _clone_and_exit(flags):
    if syscalls.clone(flags) == 0:
        os._exit(0)


def _fork_exit_status(code):
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_guest_cannot_read_or_write_roots_files():
    """As root without capabilities it still could (owner permissions): it
    runs as another uid."""
    folder = tempfile.mkdtemp(prefix="clickpy-sandbox-")
    try:
        os.chmod(folder, 0o755)
        secret, config = os.path.join(folder, "secret"), os.path.join(folder, "config")
        for path, mode in ((secret, 0o600), (config, 0o644)):
            with open(path, "w") as f:
                f.write("root's")
            os.chmod(path, mode)

        def body(sock):
            return {"read secret": failure(lambda: open(secret).read()),
                    "write config": failure(lambda: open(config, "a").write("guest's")),
                    "read config": failure(lambda: open(config).read())}

        def scenario():
            with guests() as start:
                guest = start(body)
                return guest.result(), guest.wait()

        tried, status = in_zygote(scenario)
    finally:
        shutil.rmtree(folder)
    assert os.waitstatus_to_exitcode(status) == 0
    assert tried == {"read secret": "EACCES", "write config": "EACCES", "read config": "ok"}


# --- the memory cap ------------------------------------------------------------


def test_a_guest_is_killed_at_its_memory_cap_and_cannot_lift_it():
    def scenario():
        with memory_cgroup("cap", 32 << 20) as cg:
            def body(sock):
                lift = failure(lambda: open(cg.path / "memory.limit_in_bytes", "w").write(str(1 << 30)))
                _send(sock, lift)
                hog = bytearray(b"\x01") * (100 << 20)      # every page written
                return len(hog)

            with guests() as start:
                guest = start(body, SandboxLimits(memory=cg))
                lift = guest.receive()
                status = guest.wait()
                try:
                    result = guest.receive()
                except EOFError:
                    result = None
            seen = {"lift": lift, "status": status, "result": result, "oom_kills": cg.oom_kills,
                    "max_usage": cg.max_usage}
        seen["removed"] = not cg.exists
        return seen

    seen = in_zygote(scenario)
    assert seen["lift"] == "EACCES"
    assert os.WIFSIGNALED(seen["status"]) and os.WTERMSIG(seen["status"]) == signal.SIGKILL
    assert seen["result"] is None
    assert seen["oom_kills"] >= 1
    assert seen["max_usage"] <= 32 << 20
    assert seen["removed"]


# --- still a data plane ----------------------------------------------------------


def test_a_guest_runs_a_router_from_a_plan_and_talks_over_what_it_inherited():
    config = "InfiniteSource(LIMIT 50, BURST 8, STOP true) -> Strip(14) -> c :: Counter -> Discard;"
    plan = pipeline.plan(pipeline.Source(config, "guest.click"))

    def body(sock):
        router = Router.from_plan(plan)
        router.run()
        # The zygote sends a handler's name and a memfd, as it would a packet pool.
        names, fds, _flags, _addr = socket.recv_fds(sock, 256, 1)
        with mmap.mmap(fds[0], 4096) as pool:
            pool[:6] = b"filled"
        wake = os.eventfd(0)           # the scheduler's kind of descriptors
        os.eventfd_write(wake, 3)
        answer = router.read(names.decode()), os.eventfd_read(wake)
        router.cleanup()
        return answer

    def scenario():
        with memory_cgroup("router", 64 << 20) as cg, guests() as start:
            guest = start(body, SandboxLimits(memory=cg))
            pool = os.memfd_create("pool")
            os.ftruncate(pool, 4096)
            socket.send_fds(guest.sock, [b"c.count"], [pool])
            answer = guest.result()
            return answer, os.pread(pool, 6, 0), guest.wait()

    answer, pool, status = in_zygote(scenario)
    assert os.waitstatus_to_exitcode(status) == 0
    assert answer == ("50", 3)
    assert pool == b"filled"
