"""FromHost and ToHost: the host stack through a tap device, in a namespace."""
import os
import subprocess
import sys

import pytest
from netns import control_read, lab, needs_tap, start_clickpy, wait_for  # noqa: F401
from support import run_config


def test_ports_and_processing_as_in_click():
    from clickpy.elements.devices.from_host import FromHost
    from clickpy.elements.devices.to_host import ToHost

    assert (FromHost.port_count, FromHost.processing) == ("0/1", "h")
    assert (ToHost.port_count, ToHost.processing) == ("1/0", "h")


def test_tohost_needs_a_fromhost():
    r = run_config("Idle -> ToHost(clk9)", "-q")
    assert r.returncode != 0
    assert "ToHost(clk9) requires an initialized FromHost with the same dev_name" in r.stderr


def test_bad_gateway():
    r = run_config("FromHost(clk9, 10.1.0.1/24, GATEWAY 10.2.0.1) -> Discard", "-q")
    assert r.returncode != 0 and "bad GATEWAY" in r.stderr


# The host (the namespace's stack) talks to 10.60.0.2 behind the tap; the
# router answers ARP for it and counts the IP packets the host then sends.
CONFIG = """
fh :: FromHost(clk0, 10.60.0.1/24, ETHER 02:00:00:00:00:01, MTU 1400)
  -> c :: Classifier(12/0806 20/0001, 12/0800, -);
c[0] -> arp :: ARPResponder(10.60.0.2 02:00:00:00:00:02) -> th :: ToHost(clk0);
c[1] -> ip :: Counter -> Print(ip, 60) -> Discard;
c[2] -> Discard;
"""

SEND_UDP = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3):
    s.sendto(b"hello-tap-%d" % i, ("10.60.0.2", 7777))
"""


@pytest.mark.root
@needs_tap
def test_host_traffic_through_the_tap(lab, tmp_path):
    ns = lab.namespace("h")
    ctl = str(tmp_path / "ctl")
    proc = start_clickpy(ns, ["-e", CONFIG], ctl)
    try:
        link = ns.run(["ip", "-o", "link", "show", "clk0"]).stdout
        assert "02:00:00:00:00:01" in link and "mtu 1400" in link and "UP" in link
        assert "10.60.0.1/24" in ns.run(["ip", "-o", "addr", "show", "clk0"]).stdout
        assert control_read(ctl, "fh.dev_name") == "clk0"
        ns.python(SEND_UDP, check=True)
        # The host ARPed (FromHost), took ARPResponder's reply (ToHost), then sent the datagrams.
        assert wait_for(lambda: control_read(ctl, "ip.count") == "3", 10)
        assert control_read(ctl, "th.drops") == "0"
        assert int(control_read(ctl, "th.count")) >= 1
    finally:
        lab.stop(proc)
        out, err = proc.communicate(timeout=10)
    assert err.count("ip:   53 |") == 3, err
    # The tap went away with the router.
    assert ns.run(["ip", "link", "show", "clk0"]).returncode != 0


RECEIVE_UDP = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.61.0.1", 9999)); s.settimeout(10)
print("ready", flush=True)
print(s.recvfrom(100)[0].decode())
"""


@pytest.mark.root
@needs_tap
def test_tohost_delivers_frames_to_the_host(lab, tmp_path):
    """A UDP datagram made by the router reaches a socket in the namespace."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    ns = lab.namespace("h")
    ctl = str(tmp_path / "ctl")
    frame = bytes(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
                  / IP(src="10.61.0.2", dst="10.61.0.1") / UDP(sport=1, dport=9999) / b"from-the-router")
    config = (f"FromHost(clk1, 10.61.0.1/24, ETHER 02:00:00:00:00:01) -> Discard;"
              f"src :: InfiniteSource(DATA \\<{frame.hex()}>, LIMIT 1, ACTIVE false) -> ToHost(clk1)")
    proc = start_clickpy(ns, ["-e", config, "-R"], ctl)
    try:
        rx = ns.popen([sys.executable, "-c", RECEIVE_UDP], stdout=subprocess.PIPE, text=True)
        assert rx.stdout.readline().strip() == "ready"
        ns.run(["ip", "neigh", "replace", "10.61.0.2", "lladdr", "02:00:00:00:00:02", "dev", "clk1"], check=True)
        import socket

        with socket.socket(socket.AF_UNIX) as s:
            s.connect(ctl)
            s.sendall(b"WRITE src.active true\nQUIT\n")
            s.recv(1000)
        out, _ = rx.communicate(timeout=15)
        assert out.strip() == "from-the-router"
    finally:
        lab.stop(proc)
