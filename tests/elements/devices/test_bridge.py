"""configs/bridge.click between two veth pairs: real frames and a real TCP
connection through FromDevice/ToDevice, with each backend and the default
(AUTO: the fastest that opens); an idle bridge that sleeps; a device that
goes down and comes back while the bridge runs.

    [a] a0 ==veth== a1 [m: clickpy bridge] b1 ==veth== b0 [b]
"""
import os
import random
import subprocess
import sys
import time

import pytest
from netns import (control_read, exchange, has_afxdp, lab, needs_afxdp, needs_tcx,  # noqa: F401
                   start_clickpy, wait_for)
from support import REPO

pytestmark = pytest.mark.root

BRIDGE = str(REPO / "configs" / "bridge.click")
MARKER = b"clickpy-bridge-test"


@pytest.fixture
def topo(lab, tmp_path):
    a, m, b = lab.namespace("a"), lab.namespace("m"), lab.namespace("b")
    lab.veth(a, "a0", m, "a1")
    lab.veth(b, "b0", m, "b1")
    a.addr("a0", "10.70.0.1/24")
    b.addr("b0", "10.70.0.2/24")
    # Frames from a host stack through a user-space forwarder must carry
    # real checksums: no transmit offloads on the hosts' ends.
    a.no_offloads("a0")
    b.no_offloads("b0")
    return lab, a, m, b, str(tmp_path / "ctl")


def run_bridge(topo, method, *extra):
    lab, a, m, b, ctl = topo
    return start_clickpy(m, [BRIDGE, "DEV0=a1", "DEV1=b1", f"METHOD={method}", *extra], ctl)


def stop(lab, proc):
    lab.stop(proc)
    out, err = proc.communicate(timeout=10)
    return proc.returncode, out, err


# The bridge runs with SNIFFER false: AFPACKET then needs tcx links. Each is
# skipped only where the kernel lacks what it needs.
METHODS = [pytest.param("AFXDP", marks=needs_afxdp), pytest.param("AFPACKET", marks=needs_tcx), "AUTO"]
# What AUTO must choose: AF_XDP where the kernel has it (native XDP on veth).
EXPECTED = {"AFXDP": "AFXDP", "AFPACKET": "AFPACKET", "AUTO": "AFXDP" if has_afxdp() else "AFPACKET"}


def frames(src_mac: bytes, dst_mac: bytes):
    """A mix: sizes from 60 to 1514 bytes (the largest a 1500-byte MTU
    allows), broadcast, multicast, VLAN-tagged, IPv4/UDP."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Dot1Q, Ether

    rnd = random.Random(7)
    out = []
    for n in (0, 1, 18, 100, 500, 1000, 1400, 1472 - len(MARKER)):
        payload = MARKER + bytes(rnd.randrange(256) for _ in range(n))
        out.append(bytes(Ether(src=src_mac, dst=dst_mac) / IP(src="10.70.0.1", dst="10.70.0.2")
                         / UDP(sport=1234, dport=5678) / payload))
    out.append(bytes(Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff", type=0x88B5) / (MARKER + b"\x01" * 9)))
    out.append(bytes(Ether(src=src_mac, dst=dst_mac) / Dot1Q(vlan=5, prio=3)
                     / IP(src="10.70.0.1", dst="10.70.0.2") / UDP() / (MARKER + b"vlan")))
    out.append(bytes(Ether(src=src_mac, dst="01:00:5e:00:00:01", type=0x88B5) / (MARKER * 10)))
    return out


@pytest.mark.parametrize("method", METHODS)
def test_frames_arrive_byte_identical_both_ways(topo, method):
    lab, a, m, b, ctl = topo
    proc = run_bridge(topo, method)
    try:
        assert control_read(ctl, "from0.method") == EXPECTED[method]
        assert control_read(ctl, "to1.method") == EXPECTED[method]
        amac, bmac = a.mac("a0"), b.mac("b0")
        sent = frames(amac, bmac)
        assert max(map(len, sent)) == 1514 and min(map(len, sent)) <= 64
        got = exchange(a, "a0", b, "b0", sent, MARKER)
        assert got == sent
        back = frames(bmac, amac)
        got = exchange(b, "b0", a, "a0", back, MARKER)
        assert got == back
        assert int(control_read(ctl, "c01.count")) >= len(sent)
        assert int(control_read(ctl, "to0.count")) >= len(back)
    finally:
        rc, out, err = stop(lab, proc)
    assert rc == 0, err


# An echo server: everything the client sends comes back.
SERVER = r"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.70.0.2", 5555)); s.listen(1)
print("listening", flush=True)
c, _ = s.accept(); c.settimeout(30)
while True:
    d = c.recv(65536)
    if not d: break
    c.sendall(d)
c.close()
"""

# The client sends 4 MB of random bytes (a thread) while reading the echo,
# and checks that every byte came back in order.
CLIENT = r"""
import os, socket, threading
data = os.urandom(4 << 20)
s = socket.create_connection(("10.70.0.2", 5555), timeout=30)
def send():
    s.sendall(data); s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
back = bytearray()
while True:
    d = s.recv(1 << 16)
    if not d: break
    back += d
t.join()
assert len(back) == len(data), (len(back), len(data))
assert back == data, "echoed bytes differ"
print("ok", len(back))
"""


@pytest.mark.parametrize("method", METHODS)
def test_tcp_connection_through_the_bridge(topo, method):
    lab, a, m, b, ctl = topo
    proc = run_bridge(topo, method)
    try:
        assert control_read(ctl, "from0.method") == EXPECTED[method]
        server = b.popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "listening"
        r = a.python(CLIENT, timeout=120)
        assert r.returncode == 0 and r.stdout.strip() == f"ok {4 << 20}", r.stderr
        assert server.wait(10) == 0
        # 4 MB each way in frames of at most 1514 bytes
        assert int(control_read(ctl, "c01.count")) > 2800
        assert int(control_read(ctl, "c10.count")) > 2800
    finally:
        rc, out, err = stop(lab, proc)
    assert rc == 0, err


@needs_afxdp
def test_auto_method_prefers_afxdp_and_reports_mode(topo):
    """The default is the fastest method that opens: AF_XDP in native mode on veth."""
    lab, a, m, b, ctl = topo
    proc = run_bridge(topo, "AUTO")
    try:
        assert control_read(ctl, "from0.method") == "AFXDP"
        assert control_read(ctl, "to1.method") == "AFXDP"  # ToDevice shares FromDevice's port
        assert control_read(ctl, "from0.mode") == "native"   # veth has driver-mode XDP
        assert control_read(ctl, "from0.state") == "up"
    finally:
        stop(lab, proc)


def _cpu_seconds(pid):
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("method", METHODS)
def test_idle_bridge_does_not_spin(topo, method):
    """With no traffic every task sleeps (ToDevice on its queue's notifier,
    FromDevice on its descriptor): the process uses a small fraction of one
    CPU. A behaviour check with a wide margin, not a benchmark."""
    lab, a, m, b, ctl = topo
    proc = run_bridge(topo, method)
    try:
        # Some traffic first, so that every task has run and gone to sleep.
        amac, bmac = a.mac("a0"), b.mac("b0")
        assert len(exchange(a, "a0", b, "b0", frames(amac, bmac)[:3], MARKER, idle=0.5)) == 3
        time.sleep(0.5)
        wall0, cpu0 = time.monotonic(), _cpu_seconds(proc.pid)
        time.sleep(3.0)
        used = (_cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - wall0)
        for e in ("from0", "from1", "to0", "to1"):
            assert control_read(ctl, f"{e}.scheduled") == "false", e
        assert proc.poll() is None
    finally:
        stop(lab, proc)
    assert used < 0.20, f"an idle bridge used {used:.0%} of a CPU"


PROBE_SEND = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
"""


@pytest.mark.parametrize("method", METHODS)
def test_device_down_while_running_counts_drops_and_resumes(topo, method):
    """b1 goes down while the bridge forwards: the router keeps running,
    what it cannot send is counted in to1.drops (and never leaves late),
    and forwarding resumes when b1 is up again."""
    lab, a, m, b, ctl = topo
    proc = run_bridge(topo, method)
    amac, bmac = a.mac("a0"), b.mac("b0")

    def batch(tag):
        return [bytes.fromhex(bmac.replace(":", "") + amac.replace(":", "") + "88b5") + MARKER + tag
                + bytes([i]) * (46 + i) for i in range(10)]

    try:
        before = batch(b"-before-")
        assert exchange(a, "a0", b, "b0", before, MARKER, idle=1) == before

        m.link_down("b1")
        assert wait_for(lambda: control_read(ctl, "to1.state") == "down", 10)
        drops0 = int(control_read(ctl, "to1.drops"))
        during = batch(b"-during-")
        a.run([sys.executable, "-c", PROBE_SEND, "a0", *[f.hex() for f in during]], check=True)
        assert wait_for(lambda: int(control_read(ctl, "to1.drops")) >= drops0 + len(during), 10)
        assert proc.poll() is None
        assert control_read(ctl, "from0.state") == "up"

        m.link_up("b1")
        assert wait_for(lambda: control_read(ctl, "to1.state") == "up", 10)
        time.sleep(0.5)   # the veth carrier
        after = batch(b"-after-")
        got = exchange(a, "a0", b, "b0", after, MARKER, idle=1.5)
        # The frames of the down period were dropped, not kept and sent now.
        assert got == after
        # b1 receives again too.
        back = [bytes.fromhex(amac.replace(":", "") + bmac.replace(":", "") + "88b5") + MARKER + b"-back-"
                + bytes([i]) * 50 for i in range(5)]
        assert exchange(b, "b0", a, "a0", back, MARKER, idle=1) == back
    finally:
        rc, out, err = stop(lab, proc)
    assert rc == 0, err
    assert "to1 :: ToDevice: device b1 is down; dropping packets until it is up" in err
    assert "to1 :: ToDevice: device b1 is up again" in err


@needs_tcx
def test_sniffer_false_keeps_frames_from_the_host(topo):
    """AFPACKET with SNIFFER false: the bridge namespace's own stack does not
    answer a ping-like UDP probe to its address; with the default it does."""
    lab, a, m, b, ctl = topo
    m.addr("a1", "10.70.0.9/24")
    probe = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(1.5)
try:
    s.connect(("10.70.0.9", 9)); print("open")
except ConnectionRefusedError: print("refused")
except OSError: print("silent")
"""
    proc = start_clickpy(m, ["-e", "FromDevice(a1, SNIFFER false, METHOD AFPACKET) -> c :: Counter -> Discard"], ctl)
    try:
        assert a.python(probe).stdout.strip() == "silent"
        assert int(control_read(ctl, "c.count")) >= 1
    finally:
        stop(lab, proc)
    if os.path.exists(ctl):
        os.unlink(ctl)
    proc = start_clickpy(m, ["-e", "FromDevice(a1, METHOD AFPACKET) -> c :: Counter -> Discard"], ctl)
    try:
        assert a.python(probe).stdout.strip() == "refused"
        assert int(control_read(ctl, "c.count")) >= 1
    finally:
        stop(lab, proc)
