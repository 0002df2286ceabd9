"""The kernel backends as ports (afxdp, afpacket, tap): rings, frames, buffers, errors.

Each case runs a small script inside a namespace (the port must live where
the interface is) and checks what it reports.
"""
import json
import subprocess
import sys

import pytest
from netns import RECEIVER, afxdp_built, lab, needs_afxdp, needs_tap, needs_tcx  # noqa: F401

pytestmark = pytest.mark.root

MARK = b"port-test-frame!"

# Opens a port on x1, receives frames the peer sends, sends frames back,
# and reports what it saw and how the buffer pool fared.
PORT_SCRIPT = r"""
import json, select, sys, time
from clickpy.netmap_shim.ring import open_port
from clickpy.runtime.packet import small_pool

name, options, nexpect = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
to_send = json.loads(sys.stdin.readline())
pool = small_pool()
free0 = pool.free
port = open_port(name, **options)
info = {"repr": repr(port), "mode": getattr(port, "mode", None), "fd": port.fd,
        "tx_space": port.tx_rings[0].space if port.tx_rings else None,
        "slots": port.tx_rings[0].num_slots if port.tx_rings else None}
print("ready", flush=True)
got = []
deadline = time.time() + 10
while len(got) < nexpect and time.time() < deadline:
    select.select([port.fd], [], [], 0.2)
    got += [g.hex() for g in port.recv() if bytes.fromhex(sys.argv[4]) in g]
sent = port.send([bytes.fromhex(h) for h in to_send]) if to_send else 0
time.sleep(0.3)
if port.tx_rings:
    port.tx_sync(0)
info.update(got=got, sent=sent, stats=port.stats())
port.close()
info["leaked_buffers"] = free0 - pool.free
print(json.dumps(info), flush=True)
"""

SEND = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
"""


@pytest.fixture
def veth(lab):
    x, m = lab.namespace("x"), lab.namespace("m")
    lab.veth(x, "x0", m, "x1")
    return lab, x, m


def frame(i: int, size: int = 64, vlan: int | None = None) -> bytes:
    head = bytes.fromhex("020000000002" "020000000001")
    if vlan is not None:
        head += bytes.fromhex("8100") + vlan.to_bytes(2, "big")
    body = MARK + bytes([i]) * max(0, size - len(head) - 2 - len(MARK))
    return head + bytes.fromhex("88b5") + body


def run_port(veth, name, options, incoming, outgoing):
    lab, x, m = veth
    rx = x.popen([sys.executable, "-c", RECEIVER, "x0", "2", MARK.hex()], stdout=subprocess.PIPE, text=True)
    assert rx.stdout.readline().strip() == "ready"
    proc = m.popen([sys.executable, "-c", PORT_SCRIPT, name, json.dumps(options), str(len(incoming)), MARK.hex()],
                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write(json.dumps([f.hex() for f in outgoing]) + "\n")
    proc.stdin.close()
    proc.stdin = None
    line = proc.stdout.readline().strip()
    assert line == "ready", proc.stderr.read()
    x.run([sys.executable, "-c", SEND, "x0", *[f.hex() for f in incoming]], check=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    info = json.loads(out.strip().splitlines()[-1])
    arrived, _ = rx.communicate(timeout=30)
    info["arrived"] = [bytes.fromhex(h) for h in arrived.split()]
    info["got"] = [bytes.fromhex(h) for h in info["got"]]
    return info


CASES = [
    pytest.param("afxdp:x1", {}, marks=needs_afxdp),
    pytest.param("afxdp:x1", {"umem": "private"}, marks=needs_afxdp),
    pytest.param("afxdp:x1", {"mode": "skb"}, marks=needs_afxdp),
    ("afpacket:x1", {}),
    pytest.param("afpacket:x1", {"sniffer": False, "qdisc_bypass": False}, marks=needs_tcx),
]


@pytest.mark.parametrize("name, options", CASES)
def test_frames_in_and_out_byte_identical(veth, name, options):
    incoming = [frame(i, size) for i, size in enumerate((60, 64, 200, 1000, 1514))]
    outgoing = [frame(100 + i, size) for i, size in enumerate((42, 60, 128, 1514))] * 50
    info = run_port(veth, name, options, incoming, outgoing)
    assert info["got"] == incoming
    assert info["sent"] == len(outgoing)
    assert info["arrived"] == outgoing
    assert info["stats"]["rx_packets"] >= len(incoming)
    assert info["stats"]["tx_packets"] == len(outgoing)
    assert info["leaked_buffers"] == 0
    # A transmit ring starts with every slot but one free for the user.
    assert info["tx_space"] == info["slots"] - 1
    if name.startswith("afxdp"):
        assert info["mode"] == ("skb" if options.get("mode") == "skb" else "native")


def test_afpacket_puts_vlan_tags_back(veth):
    incoming = [frame(1, 80, vlan=5), frame(2, 80, vlan=0x2007)]
    info = run_port(veth, "afpacket:x1", {}, incoming, [])
    assert info["got"] == incoming


@needs_afxdp
def test_afxdp_leaves_the_interface_clean(veth):
    lab, x, m = veth
    run_port(veth, "afxdp:x1", {}, [frame(1)], [])
    assert "xdp" not in m.run(["ip", "link", "show", "x1"]).stdout


OPEN_ERROR = r"""
import json, sys
from clickpy.netmap_shim.ring import PortError, open_port
try:
    open_port(sys.argv[1], **json.loads(sys.argv[2]))
    print("opened")
except PortError as e:
    print(e)
"""


@pytest.mark.parametrize("name, options, message", [
    pytest.param("afxdp:nosuch0", {}, "afxdp:nosuch0: no such network interface", marks=needs_afxdp),
    ("afpacket:nosuch0", {}, "afpacket:nosuch0: no such network interface"),
    pytest.param("afxdp:x1", {"sniffer": True}, "cannot run as a sniffer", marks=needs_afxdp),
    pytest.param("afxdp:x1", {"outbound": True}, "does not see frames the host sends", marks=needs_afxdp),
    pytest.param("afxdp:x1", {"mode": "turbo"}, "mode must be auto, native or skb", marks=needs_afxdp),
    pytest.param("afxdp:x1", {"ring_size": 1000}, "ring_size must be a power of two", marks=needs_afxdp),
    pytest.param("afxdp:x1", {"queue": 4}, "cannot open an AF_XDP socket on queue 4", marks=needs_afxdp),
    pytest.param("afxdp:x1", {"colour": "blue"}, "unknown option(s) colour", marks=needs_afxdp),
    ("afpacket:x1", {"queue": 2}, "cannot select a receive queue"),
    ("tap:" + "x" * 20, {}, "a name of 1 to 15 characters"),
    pytest.param("tap:x1", {}, "cannot create the tap device", marks=needs_tap),
    ("nosuchkind:x1", {}, "unknown port kind 'nosuchkind'"),
    ("nosuch0", {}, "nosuch0: no backend could open it"),
])
def test_open_errors_say_what_and_where(veth, name, options, message):
    lab, x, m = veth
    r = m.run([sys.executable, "-c", OPEN_ERROR, name, json.dumps(options)])
    assert message in r.stdout, r.stdout + r.stderr


TAP_SCRIPT = r"""
import json, select, socket, subprocess, time
from clickpy.netmap_shim.ring import open_port
from clickpy.runtime.packet import small_pool
free0 = small_pool().free
port = open_port("tap:clkp0", addr="10.62.0.1/24", ether="02:00:00:00:00:01", mtu=1300)
link = subprocess.run(["ip", "-o", "link", "show", "clkp0"], capture_output=True, text=True).stdout
# The host sends a datagram to a neighbour behind the tap; it comes out of the port.
subprocess.run(["ip", "neigh", "replace", "10.62.0.2", "lladdr", "02:00:00:00:00:02", "dev", "clkp0"], check=True)
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"to-the-tap", ("10.62.0.2", 4444))
got = []
deadline = time.time() + 5
while not any(b"to-the-tap" in g for g in got) and time.time() < deadline:
    select.select([port.fd], [], [], 0.2)
    got += port.recv()
frame = next(g for g in got if b"to-the-tap" in g)
# The same frame, addressed back to the host, goes in through the tap.
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("10.62.0.1", 4444)); r.settimeout(5)
import struct
back = bytearray(frame)
back[0:6], back[6:12] = frame[6:12], frame[0:6]
back[26:30], back[30:34] = frame[30:34], frame[26:30]
port.send([bytes(back)])
data = r.recvfrom(100)[0]
port.close()
gone = subprocess.run(["ip", "link", "show", "clkp0"], capture_output=True).returncode != 0
print(json.dumps({"link": link, "frame_dst": frame[:6].hex(), "data": data.decode(), "gone": gone,
                  "leaked": free0 - small_pool().free}))
"""


@needs_tap
def test_tap_port_both_ways(lab):
    ns = lab.namespace("t")
    r = ns.python(TAP_SCRIPT, timeout=60)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert "02:00:00:00:00:01" in info["link"] and "mtu 1300" in info["link"]
    assert info["frame_dst"] == "020000000002"
    assert info["data"] == "to-the-tap"
    assert info["gone"] and info["leaked"] == 0


AFXDP_UNAVAILABLE = r"""
import sys
class NoLibxdp:  # as if libxdp were missing: the backend's module cannot load
    def find_spec(self, name, path=None, target=None):
        if name.endswith("backends.afxdp"):
            raise ImportError("libxdp.so.1: cannot open shared object file")
sys.meta_path.insert(0, NoLibxdp())
from clickpy.netmap_shim.ring import PortError, open_port
try:
    open_port("afxdp:lo")
except PortError as e:
    print(e)
"""


@pytest.mark.skipif(not afxdp_built(), reason="simulates a built AF_XDP backend whose libxdp is missing")
def test_a_missing_afxdp_backend_says_what_to_install():
    r = subprocess.run([sys.executable, "-c", AFXDP_UNAVAILABLE], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == ("afxdp:lo: the AF_XDP backend did not load (libxdp.so.1: cannot open shared "
                                "object file): install libxdp1 and libbpf1 (Debian, Ubuntu)"), r.stdout + r.stderr
