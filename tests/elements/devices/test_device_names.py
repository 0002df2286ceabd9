"""Device names beyond an interface name: a netmap-style port name that names
its backend (pipe:, pcap:), an Ethernet address, an AddressInfo name."""
import subprocess
import sys

import pytest
from netns import SENDER, control_read, lab, start_clickpy, wait_for  # noqa: F401
from support import run_config

def frames(n):
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    return [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.0.0.1", dst="10.0.0.2")
            / UDP(sport=1000 + i, dport=9) / (b"x" * (i * 37 % 1400)) for i in range(n)]


def write_pcap(path, pkts):
    from scapy.utils import wrpcap

    wrpcap(str(path), pkts)


def read_frames(path):
    from scapy.utils import rdpcap

    return [bytes(p) for p in rdpcap(str(path))]


def test_pcap_copy(tmp_path):
    src, dst = tmp_path / "in.pcap", tmp_path / "out.pcap"
    pkts = frames(40)
    write_pcap(src, pkts)
    r = run_config(f"f :: FromDevice(pcap:{src}) -> c :: Counter -> Queue -> ToDevice(pcap:{dst});"
                   "DriverManager(wait 0.5s, stop)", "-h", "c.count", "-h", "f.state")
    assert r.returncode == 0, r.stderr
    assert "c.count:\n40" in r.stdout
    assert "f.state:\neof" in r.stdout       # the element stops at the end of the file
    assert read_frames(dst) == [bytes(p) for p in pkts]


def test_pipe_pair_in_one_router(tmp_path):
    # Two clickpy processes cannot share a pipe: across processes the pair
    # is made by an owner that passes its descriptors over a Unix socket,
    # which 'clickpy run' does not receive. Both ends in one router:
    src, dst = tmp_path / "in.pcap", tmp_path / "out.pcap"
    pkts = frames(300)                  # more than a pipe ring's 256 slots
    write_pcap(src, pkts)
    r = run_config(f"FromDevice(pcap:{src}) -> a :: Counter -> Queue(1000) -> ToDevice(pipe:dn}}0);"
                   f"FromDevice(pipe:dn{{0) -> b :: Counter -> Queue(1000) -> ToDevice(pcap:{dst});"
                   "DriverManager(wait 0.5s, stop)", "-h", "a.count", "-h", "b.count")
    assert r.returncode == 0, r.stderr
    assert "a.count:\n300" in r.stdout and "b.count:\n300" in r.stdout
    assert read_frames(dst) == [bytes(p) for p in pkts]     # all, in order


@pytest.mark.parametrize("config, message", [
    ("FromDevice(pipe:dq{0, METHOD AFPACKET) -> Discard", "METHOD AFPACKET disagrees with the port's kind 'pipe'"),
    ("FromDevice(pipe:dq) -> Discard", "expected pipe:NAME{N"),
    ("FromDevice(pcap:/nonexistent/x.pcap) -> Discard", "/nonexistent/x.pcap"),
    ("FromDevice(02:00:00:00:99:99) -> Discard", "no network interface has Ethernet address 02:00:00:00:99:99"),
    ("AddressInfo(nowhere 02:00:00:00:99:98); FromDevice(nowhere) -> Discard",
     "no network interface has Ethernet address nowhere (02:00:00:00:99:98)"),
])
def test_bad_names(config, message):
    r = run_config(config)
    assert r.returncode != 0
    assert message in r.stderr


def test_damaged_pcap(tmp_path):
    src = tmp_path / "in.pcap"
    write_pcap(src, frames(5))
    data = src.read_bytes()
    src.write_bytes(data[:-10])         # the last record is cut short
    r = run_config(f"f :: FromDevice(pcap:{src}) -> c :: Counter -> Discard; DriverManager(wait 0.3s, stop)",
                   "-h", "c.count", "-h", "f.state")
    assert r.returncode == 0, r.stderr
    assert "c.count:\n4" in r.stdout and "f.state:\nfailed" in r.stdout
    assert "truncated record" in r.stderr


@pytest.mark.root
@pytest.mark.parametrize("devname", ["02:00:00:00:00:07", "dn_port", "dn_port:eth"])
def test_device_by_ethernet_address(lab, tmp_path, devname):  # noqa: F811
    a, m = lab.namespace("a"), lab.namespace("m")
    lab.veth(a, "a0", m, "m0")
    m.set_mac("m0", "02:00:00:00:00:07")
    ctl = str(tmp_path / "ctl")
    proc = start_clickpy(m, ["-e", "AddressInfo(dn_port 10.9.0.1 02:00:00:00:00:07);"
                             f"f :: FromDevice({devname}, METHOD AFPACKET) -> c :: Counter -> Discard"], ctl)
    try:
        frame = bytes(frames(1)[0])
        a.run([sys.executable, "-c", SENDER, "a0"], input=frame.hex() + "\n", check=True)
        assert wait_for(lambda: int(control_read(ctl, "c.count")) >= 1, 10)
    finally:
        lab.stop(proc)
        proc.communicate(timeout=10)
