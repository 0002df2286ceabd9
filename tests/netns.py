"""Network namespaces and veth pairs for tests and benchmarks, cleaned up always.

A ``Lab`` owns everything it makes: namespaces (their interfaces go with
them) and the processes started inside them. Leaving the ``with`` block,
normally or by an exception, stops those processes by their PID and removes
the namespaces. Names carry the owner's PID, so a lab left behind by a
process that was killed is removed by the next one (``sweep_stale``).

    with Lab() as lab:
        a, b = lab.namespace("a"), lab.namespace("b")
        lab.veth(a, "a0", b, "b0")
        a.addr("a0", "10.0.0.1/24"); b.addr("b0", "10.0.0.2/24")
        a.run(["ping", "-c1", "10.0.0.2"], check=True)

Nothing here touches the host's own namespace except to create and remove
the named namespaces: no interface, address or route is added to it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from clickpy import netns as clickpy_netns

NETNS_DIR = clickpy_netns.NETNS_DIR
PREFIX = "clkt"          # clkt<pid>-<tag>: namespaces made by this harness


def is_root() -> bool:
    return os.geteuid() == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL what is left of the process group proc leads (its forked children)."""
    try:
        if os.getpgid(proc.pid) != proc.pid:
            return                      # not a group leader: nothing of ours to end
    except ProcessLookupError:
        pass                            # the leader is gone; its group may not be
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def sweep_stale() -> list[str]:
    """Remove namespaces made by a harness process that no longer runs."""
    from pyroute2 import netns

    removed = []
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return removed
    for name in names:
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                netns.remove(name)
                removed.append(name)
            except OSError:
                pass
    return removed


class Namespace(clickpy_netns.Namespace):
    """A namespace of a Lab: the programs it starts end with the lab."""

    def __init__(self, lab: "Lab", name: str):
        super().__init__(name)
        self.lab = lab
        self.link_up("lo")

    def popen(self, argv, **kwargs) -> subprocess.Popen:
        """Start argv inside the namespace; the lab stops it at the end.

        It leads a process group of its own, so that what it forks (trafgen's
        sender, a shell's children) is stopped with it.
        """
        kwargs.setdefault("start_new_session", True)
        proc = super().popen(argv, **kwargs)
        self.lab.processes.append(proc)
        return proc


class Lab:
    """Namespaces, veth pairs and processes that disappear with the lab."""

    def __init__(self):
        self.tag = f"{PREFIX}{os.getpid()}-{id(self) & 0xffff:x}"
        self.namespaces: list[Namespace] = []
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> "Lab":
        sweep_stale()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def namespace(self, short: str) -> Namespace:
        from pyroute2 import netns

        name = f"{self.tag}-{short}"
        netns.create(name)
        try:
            ns = Namespace(self, name)
        except BaseException:
            netns.remove(name)
            raise
        self.namespaces.append(ns)
        return ns

    def veth(self, ns1: Namespace, name1: str, ns2: Namespace, name2: str, *, up=True, **kwargs) -> None:
        """A veth pair with one end in each namespace (created inside ns1).

        Extra keyword arguments go to the link (e.g. numrxqueues=2)."""
        clickpy_netns.veth(ns1, name1, ns2, name2, up=up, **kwargs)

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0):
        """Stop one process the lab started (SIGTERM, then SIGKILL); returns its exit code."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _kill_group(proc)
        return proc.returncode

    def close(self) -> None:
        from pyroute2 import netns

        for proc in self.processes:
            if proc.poll() is None:
                try:
                    proc.kill()
                except ProcessLookupError:
                    pass
            _kill_group(proc)
        for proc in self.processes:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        self.processes.clear()
        for ns in reversed(self.namespaces):
            ns.close()
            try:
                netns.remove(ns.name)
            except OSError:
                pass
        self.namespaces.clear()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll predicate until it returns a true value (returned) or timeout (None)."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# --- running clickpy and moving frames, for tests and benchmarks -------------

def control_read(path: str, handler: str, timeout: float = 5.0) -> str:
    """Read one handler through a ControlSocket on a Unix socket (Click's protocol)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        f = s.makefile("rwb")
        f.readline()  # greeting
        f.write(f"READ {handler}\n".encode())
        f.flush()
        status = f.readline().decode()
        if not status.startswith("200"):
            raise RuntimeError(f"{handler}: {status.strip()}")
        n = int(f.readline().decode().split()[1])
        return f.read(n).decode().strip()


def start_clickpy(ns: Namespace, args, ctl: str, timeout: float = 60.0, env=None) -> subprocess.Popen:
    """Start 'clickpy run -u CTL ARGS...' in ns and wait until its ControlSocket
    answers (device elements initialize before it, so their ports are open)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = ns.popen([sys.executable, "-m", "clickpy", "run", "-u", ctl, *args],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
    ok = wait_for(lambda: proc.poll() is not None or os.path.exists(ctl), timeout)
    if not ok or proc.poll() is not None:
        out, err = proc.communicate(timeout=10) if proc.poll() is not None else ("", "timed out")
        raise RuntimeError(f"clickpy did not start (rc {proc.returncode}): {err}{out}")
    return proc


# A receiver that prints every frame it sees on an interface as hex, one per
# line, VLAN tags put back from PACKET_AUXDATA, until it is quiet for IDLE s.
RECEIVER = r"""
import socket, struct, sys
ifname, idle, marker = sys.argv[1], float(sys.argv[2]), bytes.fromhex(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(263, 8, 1)            # PACKET_AUXDATA
s.setsockopt(263, 23, 1)           # PACKET_IGNORE_OUTGOING
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)   # SO_RCVBUFFORCE: no drops here
s.bind((ifname, 3))
print("ready", flush=True)
s.settimeout(idle)
try:
    while True:
        data, anc, flags, addr = s.recvmsg(65536, 256)
        for level, kind, value in anc:
            if level == 263 and kind == 8:
                status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", value[:20])
                if status & (1 << 4):
                    data = data[:12] + struct.pack("!HH", tpid if status & (1 << 6) else 0x8100, tci) + data[12:]
        if marker in data:
            print(data.hex(), flush=True)
except socket.timeout:
    pass
"""

# Tries a TCP connection to argv[1]:argv[2]; prints "connected", "timeout" or "error ERRNO".
CONNECT = r"""
import socket, sys
s = socket.socket(); s.settimeout(2)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e.errno)
"""

SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for line in sys.stdin:
    if line.strip():
        s.send(bytes.fromhex(line.strip()))
"""


def exchange(src: Namespace, src_if: str, dst: Namespace, dst_if: str, frames, marker: bytes,
             idle: float = 2.0) -> list[bytes]:
    """Send frames (bytes) from src_if; return the frames containing marker that
    arrive at dst_if, in arrival order."""
    rx = dst.popen([sys.executable, "-c", RECEIVER, dst_if, str(idle), marker.hex()],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert rx.stdout.readline().strip() == "ready", rx.stderr.read()
    src.run([sys.executable, "-c", SENDER, src_if], input="\n".join(f.hex() for f in frames) + "\n",
            check=True, capture_output=True, text=True)
    out, _ = rx.communicate(timeout=60)
    return [bytes.fromhex(line) for line in out.split() if line]


try:
    import pytest
except ImportError:  # benchmarks run without pytest too
    pytest = None


# --- what the kernel has: tests that need a facility skip, saying which,
# only when the running kernel lacks it (never for a missing program or
# package: those are installed by CI and a test that needs one fails).

def kernel_has_afxdp() -> bool:
    """AF_XDP sockets (CONFIG_XDP_SOCKETS)."""
    import errno
    import socket

    try:
        socket.socket(44, socket.SOCK_RAW).close()   # AF_XDP
    except OSError as e:
        return e.errno not in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT, errno.EINVAL)
    return True


def kernel_has_tap() -> bool:
    """tun/tap devices (CONFIG_TUN)."""
    return os.path.exists("/dev/net/tun")


def kernel_has_tcx() -> bool:
    """tcx BPF links (Linux 6.6+): AF_PACKET's SNIFFER false uses one."""
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    except ValueError:
        return True
    return (major, minor) >= (6, 6)


def afxdp_built() -> bool:
    """clickpy's AF_XDP backend was built (setup.py found libxdp's headers)."""
    from clickpy.netmap_shim.backends import afxdp_built

    return afxdp_built()


def has_afxdp() -> bool:
    return kernel_has_afxdp() and afxdp_built()


if pytest is not None:
    needs_root = pytest.mark.skipif(not is_root(), reason="needs root (network namespaces, raw sockets)")
    needs_afxdp = pytest.mark.skipif(
        not has_afxdp(),
        reason="the kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)" if not kernel_has_afxdp()
        else "clickpy was built without AF_XDP: install libxdp-dev and libbpf-dev, then reinstall")
    needs_tap = pytest.mark.skipif(not kernel_has_tap(), reason="the kernel has no tun/tap (/dev/net/tun)")
    needs_tcx = pytest.mark.skipif(not kernel_has_tcx(),
                                   reason="the kernel has no tcx links (Linux < 6.6): SNIFFER false on AFPACKET")

    @pytest.fixture
    def lab():
        """A Lab for one test: everything it makes is gone afterwards, pass or fail."""
        if not is_root():
            pytest.skip("needs root (network namespaces, raw sockets)")
        with Lab() as the_lab:
            yield the_lab
