"""'clickpy switch' between client and server namespaces: two tenants, a firewall guest and a NAT guest,
TCP through each, each tenant under its own policy, a killed guest restarted.

The tenants are told apart by their hosts' MAC addresses (each host is a macvlan interface of its own
MAC): this kernel has no 802.1Q module, so VLAN interfaces cannot be made here; tests/switch/
test_guest_switch.py covers VLAN tenants over pipes."""
import os
import signal
import subprocess
import sys
import time

import pytest
from netns import CONNECT, Lab, control_read, is_root, wait_for
from support import REPO

pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(not is_root(), reason="needs root (network namespaces)")]

# tenant: (client MAC, client address, server MAC, server address, what the server sees)
TENANTS = {
    "red": ("02:00:00:00:01:02", "10.1.1.2", "02:00:00:00:01:12", "10.1.2.2", "10.1.1.2"),
    "blue": ("02:00:00:00:02:02", "10.2.1.2", "02:00:00:00:02:12", "10.2.2.2", "10.2.2.1"),
}

POLICY = """
[switch]
idle_timeout = "60s"

[[tenant]]
name = "red"
image = "firewall.guest"
match = ["mac 02:00:00:00:01:02", "mac 02:00:00:00:01:12"]

[tenant.parameters]
CLIENT_IP = "10.1.1.1"
CLIENT_NET = "10.1.1.0/24"
CLIENT_MAC = "02:00:0a:01:01:01"
SERVER_IP = "10.1.2.1"
SERVER_NET = "10.1.2.0/24"
SERVER_MAC = "02:00:0a:01:02:01"
GATEWAY = "10.1.2.254"

[[tenant]]
name = "blue"
image = "nat.guest"
match = ["mac 02:00:00:00:02:02", "mac 02:00:00:00:02:12"]

[tenant.parameters]
CLIENT_IP = "10.2.1.1"
CLIENT_NET = "10.2.1.0/24"
CLIENT_MAC = "02:00:0a:02:01:01"
SERVER_IP = "10.2.2.1"
SERVER_NET = "10.2.2.0/24"
SERVER_MAC = "02:00:0a:02:02:01"
GATEWAY = "10.2.2.254"
"""

# Receives one stream per connection; answers with its length and the peer's address.
SINK = r"""
import socket, sys, threading
def serve(addr):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 9000)); s.listen(8)
    while True:
        c, peer = s.accept()
        n = 0
        while True:
            b = c.recv(65536)
            if not b:
                break
            n += len(b)
        c.sendall(f"{n} {peer[0]}".encode()); c.close()
for a in sys.argv[1:]:
    threading.Thread(target=serve, args=(a,), daemon=True).start()
print("listening", flush=True)
threading.Event().wait()
"""

SEND = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], 9000), timeout=10)
data = bytes(range(256)) * (int(sys.argv[2]) // 256)
s.sendall(data); s.shutdown(socket.SHUT_WR)
print(s.recv(100).decode())
"""

def _host(ns, dev, name, mac, address, route=None, via=None):
    """A host of its own MAC on dev (a macvlan interface)."""
    ns.ipr.link("add", ifname=name, kind="macvlan", link=ns.index(dev), macvlan_mode="bridge", address=mac)
    ns.link_up(name)
    ns.addr(name, address)
    if route:
        ns.route(route, via)


def _guests(ctl) -> dict:
    rows = control_read(ctl, "sw.guests").splitlines()[1:]
    return {r.split()[1]: r.split() for r in rows if not r.startswith(" ")}


def test_two_tenants_each_through_its_own_guest(tmp_path):
    from clickpy import pipeline
    from clickpy.guest.image import build

    for name, config in (("firewall", "stateful-firewall.click"), ("nat", "nat-gateway.click")):
        source = pipeline.Source((REPO / "configs" / config).read_text(), config)
        (tmp_path / f"{name}.guest").write_bytes(build(pipeline.plan(source, {}), source=source,
                                                       definitions={}).pack())
    (tmp_path / "policy.toml").write_text(POLICY)
    ctl = str(tmp_path / "switch.sock")
    with Lab() as lab:
        cl, sw, sv = lab.namespace("cl"), lab.namespace("sw"), lab.namespace("sv")
        lab.veth(cl, "c0", sw, "sw-c")
        lab.veth(sv, "s0", sw, "sw-s")
        red, blue = TENANTS["red"], TENANTS["blue"]
        _host(cl, "c0", "cr", red[0], red[1] + "/24", "10.1.2.0/24", "10.1.1.1")
        _host(cl, "c0", "cb", blue[0], blue[1] + "/24", "10.2.2.0/24", "10.2.1.1")
        _host(sv, "s0", "sr", red[2], red[3] + "/24", "10.1.1.0/24", "10.1.2.1")
        _host(sv, "s0", "sb", blue[2], blue[3] + "/24")
        log = tmp_path / "switch.log"
        switch = sw.popen([sys.executable, "-m", "clickpy", "switch", str(tmp_path / "policy.toml"),
                           "--port", "sw-c", "--port", "sw-s", "-u", ctl],
                          stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        assert wait_for(lambda: switch.poll() is not None or os.path.exists(ctl), 60)
        assert switch.poll() is None, log.read_text()
        sink = sv.popen([sys.executable, "-c", SINK, "10.1.2.2", "10.2.2.2"], stdout=subprocess.PIPE, text=True)
        assert sink.stdout.readline().strip() == "listening"

        def transfer(tenant, size=1 << 20):
            server = TENANTS[tenant][3]
            r = cl.python(SEND, server, size, timeout=30)
            return r.stdout.strip() or r.stderr

        for tenant, (_, _, _, _, seen) in TENANTS.items():
            assert transfer(tenant) == f"{1 << 20} {seen}", (tenant, control_read(ctl, "sw.guests"), log.read_text())
        guests = _guests(ctl)
        assert set(guests) == {"red", "blue"} and guests["red"][3] == guests["blue"][3] == "ready"
        assert guests["red"][4] != guests["blue"][4], "two guests, two processes"

        # Each tenant's own policy: the firewall lets nothing in from the outside; the NAT hides its client.
        assert sv.python(CONNECT, "10.1.1.2", 22).stdout.strip() == "timeout"
        assert control_read(ctl, "sw.count") != "0"
        status = subprocess.run([sys.executable, "-m", "clickpy", "switch", "status", ctl],
                                capture_output=True, text=True, timeout=30)
        assert status.returncode == 0 and "red" in status.stdout and "blue" in status.stdout, status.stderr

        # A killed guest comes back and its tenant's traffic flows again; the other tenant never stops.
        red_pid = int(guests["red"][4])
        os.kill(red_pid, signal.SIGKILL)
        assert wait_for(lambda: _guests(ctl)["red"][3] == "ready" and _guests(ctl)["red"][-1] == "1", 20), \
            control_read(ctl, "sw.guests")
        assert "killed by SIGKILL" in control_read(ctl, "sw.guests")
        assert transfer("blue", 1 << 16) == f"{1 << 16} 10.2.2.1"
        # The new firewall guest starts with an empty ARP table: give the retransmissions time.
        assert transfer("red", 1 << 16) == f"{1 << 16} 10.1.1.2"
        assert switch.poll() is None
        lab.stop(switch)
