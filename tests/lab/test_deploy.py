"""clickpy deploy on interfaces in a namespace: it brings them up, makes
them promiscuous and turns off GRO/LRO/GSO/TSO while the router runs, and
after SIGTERM puts back exactly what it changed.

    [a] a0 ==veth== a1 [m: clickpy deploy bridge.click] b1 ==veth== b0 [b]
"""
import json
import os
import subprocess
import sys

import pytest
from netns import control_read, lab, needs_afxdp, wait_for  # noqa: F401 (lab is a fixture)
from support import REPO

pytestmark = pytest.mark.root

BRIDGE = str(REPO / "configs" / "bridge.click")

STATE = r"""
import json, sys
from pyroute2 import IPRoute
from pyroute2.ethtool import Ethtool
ipr, eth = IPRoute(), Ethtool()
out = {}
for name in sys.argv[1:]:
    link = ipr.get_links(ipr.link_lookup(ifname=name)[0])[0]
    f = eth.get_features(name).features
    out[name] = {"up": bool(link["flags"] & 1), "promisc": bool(link["flags"] & 0x100),
                 "features": {k: f[k].enable for k in f if "gro" in k or "lro" in k
                              or k.endswith("segmentation")}}
print(json.dumps(out))
"""

SET_GRO = r"""
import sys
from pyroute2.ethtool import Ethtool
e = Ethtool(); f = e.get_features(sys.argv[1]); f.features["rx-gro"].enable = True
e.set_features(sys.argv[1], f)
"""

LISTEN = r"""
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 7000)); s.listen(1)
print("listening", flush=True)
c, addr = s.accept(); c.sendall(c.recv(100).upper()); c.close()
"""

TALK = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], 7000), timeout=10)
s.sendall(b"through the bridge"); print(s.recv(100).decode())
"""


def state(ns, *names):
    r = ns.python(STATE, *names, check=True)
    return json.loads(r.stdout)


def hosts_around_a_middlebox(lab, net: str):
    """[a] a0 ==veth== a1 [m] b1 ==veth== b0 [b]: the hosts' ends up and
    addressed NET.1 and NET.2, the middlebox's ends left down."""
    a, m, b = lab.namespace("a"), lab.namespace("m"), lab.namespace("b")
    lab.veth(a, "a0", m, "a1", up=False)
    lab.veth(b, "b0", m, "b1", up=False)
    a.link_up("a0")
    b.link_up("b0")
    a.addr("a0", f"{net}.1/24")
    b.addr("b0", f"{net}.2/24")
    return a, m, b


@pytest.fixture
def topo(lab, tmp_path):
    a, m, b = hosts_around_a_middlebox(lab, "10.71.0")
    a.no_offloads("a0")
    b.no_offloads("b0")
    # Start from a mixed state: a1 down with GRO on; b1 down but already
    # promiscuous. deploy must change what it needs and restore only that.
    m.python(SET_GRO, "a1", check=True)
    m.ipr.link("set", index=m.index("b1"), flags=0x100, change=0x100)
    return lab, a, m, b, str(tmp_path / "ctl")


def test_deploy_sets_up_runs_and_restores(topo):
    lab, a, m, b, ctl = topo
    before = state(m, "a1", "b1")
    assert before["a1"]["features"]["rx-gro"] and not before["a1"]["up"]
    assert before["b1"]["promisc"] and not before["a1"]["promisc"]
    assert before["a1"]["features"]["tx-tcp-segmentation"]

    proc = m.popen([sys.executable, "-m", "clickpy", "deploy", BRIDGE, "DEV0=a1", "DEV1=b1",
                    "METHOD=AFPACKET", "-u", ctl],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: proc.poll() is not None or os.path.exists(ctl), 60)
    assert proc.poll() is None, proc.communicate()

    during = state(m, "a1", "b1")
    for name in ("a1", "b1"):
        assert during[name]["up"] and during[name]["promisc"]
        for feature in ("rx-gro", "tx-generic-segmentation", "tx-tcp-segmentation",
                        "tx-tcp6-segmentation"):
            assert during[name]["features"][feature] is False, (name, feature)

    # Traffic passes: a TCP conversation from a to b through the bridge.
    server = b.popen([sys.executable, "-u", "-c", LISTEN, "10.71.0.2"], stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "listening"
    r = a.run([sys.executable, "-c", TALK, "10.71.0.2"], check=True)
    assert r.stdout.strip() == "THROUGH THE BRIDGE"

    assert lab.stop(proc) == 0
    out, err = proc.communicate(timeout=10)
    after = state(m, "a1", "b1")
    assert after == before, err
    # It says what it did, and what it undid.
    assert "a1: link up, promiscuous on, offloads off: rx-gro" in err
    assert "b1: link up, already promiscuous" in err
    assert "a1: restored: offloads on: rx-gro" in err and "promiscuous off, link down" in err
    assert "b1: restored:" in err and "b1: restored: offloads on" in err
    b1_restored = next(line for line in err.splitlines() if "b1: restored" in line)
    assert "promiscuous" not in b1_restored


def test_deploy_sigint_also_restores(topo):
    lab, a, m, b, ctl = topo
    before = state(m, "a1", "b1")
    proc = m.popen([sys.executable, "-m", "clickpy", "deploy", BRIDGE, "DEV0=a1", "DEV1=b1", "-u", ctl],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: proc.poll() is not None or os.path.exists(ctl), 60)
    proc.send_signal(2)
    proc.wait(20)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert state(m, "a1", "b1") == before


def test_deploy_unknown_interface_changes_nothing(topo):
    lab, a, m, b, ctl = topo
    before = state(m, "a1", "b1")
    r = m.run([sys.executable, "-m", "clickpy", "deploy", BRIDGE, "DEV0=a1", "DEV1=nosuch0"])
    assert r.returncode == 1
    assert "no interface named 'nosuch0'" in r.stderr
    assert "a1: restored" in r.stderr
    assert state(m, "a1", "b1") == before


def test_deploy_config_error_touches_nothing(topo):
    lab, a, m, b, ctl = topo
    before = state(m, "a1", "b1")
    r = m.run([sys.executable, "-m", "clickpy", "deploy", "-e", "FromDevice(a1) -> NoSuchElement"])
    assert r.returncode == 1 and "NoSuchElement" in r.stderr
    assert "link up" not in r.stderr
    assert state(m, "a1", "b1") == before


BULK_SERVER = r"""
import hashlib, socket, sys
s = socket.socket(); s.bind((sys.argv[1], 7001)); s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
data = b""
while len(data) < int(sys.argv[2]):
    chunk = c.recv(65536)
    if not chunk:
        break
    data += chunk
c.sendall(hashlib.sha256(data).hexdigest().encode() + b"\n" + data[::-1])
c.close()
"""

BULK_CLIENT = r"""
import hashlib, os, socket, sys
n = int(sys.argv[2]); data = os.urandom(n)
s = socket.create_connection((sys.argv[1], 7001), timeout=20)
s.sendall(data)
back = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    back += chunk
digest, _, rev = back.partition(b"\n")
print("ok" if digest.decode() == hashlib.sha256(data).hexdigest() and rev == data[::-1] else "MISMATCH")
"""


@pytest.mark.parametrize("method", [pytest.param("AFXDP", marks=needs_afxdp), "AFPACKET"])
def test_tcp_through_deploy_with_the_peers_default_offloads(lab, tmp_path, method):
    """Hosts that leave TCP checksums to offload (the default on veth): the
    router finishes them, so a transfer through it arrives intact."""
    a, m, b = hosts_around_a_middlebox(lab, "10.72.0")
    ctl = str(tmp_path / "ctl")
    proc = m.popen([sys.executable, "-m", "clickpy", "deploy", BRIDGE, "DEV0=a1", "DEV1=b1",
                    f"METHOD={method}", "-u", ctl], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: proc.poll() is not None or os.path.exists(ctl), 60)
    assert proc.poll() is None, proc.communicate()
    size = 2_000_000
    server = b.popen([sys.executable, "-u", "-c", BULK_SERVER, "10.72.0.2", str(size)],
                     stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "listening"
    r = a.run([sys.executable, "-c", BULK_CLIENT, "10.72.0.2", str(size)], timeout=60)
    finished = int(control_read(ctl, "from0.checksums_finished")) + int(control_read(ctl, "from1.checksums_finished"))
    assert lab.stop(proc) == 0
    assert r.stdout.strip() == "ok", r.stderr[-800:]
    assert finished > 0  # the peers did leave checksums partial: the test tests something


def test_deploy_without_the_capability_is_one_clear_line(topo):
    lab, a, m, b, ctl = topo
    before = state(m, "a1", "b1")
    # root's user id, but no capabilities: as a user without CAP_NET_ADMIN
    r = m.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--reuid=0",
               sys.executable, "-m", "clickpy", "deploy", BRIDGE, "DEV0=a1", "DEV1=b1"])
    assert r.returncode == 1
    assert "Traceback" not in r.stderr, r.stderr
    assert "clickpy deploy: not permitted to configure interfaces: run as root" in r.stderr
    assert state(m, "a1", "b1") == before


def test_device_names_come_from_the_flat_graph():
    from clickpy import pipeline
    from clickpy.cli.deploy import device_names

    text = ("elementclass Dev { $d | FromDevice($d) -> output; input -> Queue -> ToDevice($d) }"
            "x :: Dev($A); y :: Dev(\"eth9\"); x -> y -> x; FromDevice($A, SNIFFER false) -> Discard;")
    result = pipeline.load(pipeline.Source(text, "t"), {"A": "veth3"})
    assert result.ok, result.diagnostics.format()
    assert device_names(result.graph) == ["veth3", "eth9"]
