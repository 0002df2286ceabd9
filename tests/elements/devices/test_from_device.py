"""FromDevice and ToDevice: arguments, errors, filters, and devices that go
down or disappear while the router runs."""
import os
import subprocess
import sys
import time

import pytest
from netns import (afxdp_built, control_read, has_afxdp, lab, needs_afxdp, needs_tcx, start_clickpy,  # noqa: F401
                   wait_for)
from support import run_config

MARK = b"fromdevice-test!"

# Methods as test parameters, skipped only where the kernel lacks what they
# need (AF_XDP sockets; tcx links for AFPACKET with SNIFFER false).
AFXDP = pytest.param("AFXDP", marks=needs_afxdp)
AFPACKET_NOSNIFF = pytest.param("AFPACKET", marks=needs_tcx)


# --- configuration errors (no device needed) -------------------------------------

def test_bad_method_is_a_configure_error():
    r = run_config("FromDevice(lo, METHOD FOO) -> Discard", "-q")
    assert r.returncode != 0
    assert "bad METHOD 'FOO'" in r.stderr


def test_pcap_method_says_what_to_use_instead():
    r = run_config("FromDevice(lo, METHOD PCAP) -> Discard", "-q")
    assert r.returncode != 0
    assert "METHOD PCAP is not available" in r.stderr and "AFPACKET" in r.stderr


@pytest.mark.parametrize("config, message", [
    ("FromDevice(lo, BURST 0) -> Discard", "BURST out of range"),
    ("FromDevice(lo, SNAPLEN 5) -> Discard", "SNAPLEN out of range"),
    ("FromDevice(lo, ENCAP IP) -> Discard", "ENCAP IP is not supported"),
    ("FromDevice(lo, NOSUCH 1) -> Discard", "NOSUCH"),
    ("FromDevice() -> Discard", "DEVNAME"),
    ("Idle -> ToDevice(lo, BURST 0)", "bad BURST"),
    ("Idle -> ToDevice(lo, METHOD SPLAT)", "bad METHOD"),
])
def test_argument_errors(config, message):
    r = run_config(config, "-q")
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def test_ports_and_processing_as_in_click():
    from clickpy.elements.devices.from_device import FromDevice
    from clickpy.elements.devices.to_device import ToDevice

    assert (FromDevice.port_count, FromDevice.processing) == ("0/1-2", "h")
    assert (ToDevice.port_count, ToDevice.processing) == ("1/0-2", "l/h")


@pytest.mark.root
def test_missing_interface_names_device_and_every_method_tried():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    r = run_config("FromDevice(nosuch7, SNIFFER false) -> Discard", "-q")
    assert r.returncode != 0
    assert "nosuch7" in r.stderr
    if has_afxdp():
        assert "afxdp:nosuch7: no such network interface" in r.stderr
    elif not afxdp_built():  # every method tried is named, the missing one with what to install
        assert "afxdp:nosuch7: AF_XDP is not built into this clickpy: install libxdp-dev" in r.stderr
    assert "afpacket:nosuch7: no such network interface" in r.stderr
    r = run_config("Idle -> ToDevice(nosuch7, METHOD AFPACKET)", "-q")
    assert "afpacket:nosuch7: no such network interface" in r.stderr


# --- with devices -------------------------------------------------------------------

@pytest.fixture
def pair(lab, tmp_path):
    """[x] x0 ==veth== x1 [m], and y0/y1 likewise; clickpy runs in m."""
    x, m = lab.namespace("x"), lab.namespace("m")
    lab.veth(x, "x0", m, "x1")
    lab.veth(x, "y0", m, "y1")
    return lab, x, m, str(tmp_path / "ctl")


def _stop(lab, proc):
    lab.stop(proc)
    return proc.communicate(timeout=10)


def _raw(dst="02:00:00:00:00:02", ethertype=0x88B5, size=64, tag=MARK):
    dst_b = bytes.fromhex(dst.replace(":", ""))
    body = tag + bytes(max(0, size - 14 - len(tag)))
    return dst_b + bytes.fromhex("020000000001") + ethertype.to_bytes(2, "big") + body


# Runs clickpy as the unprivileged user nobody (uid/gid 65534, no groups, no
# capabilities). The interpreter starts as root and drops privileges before
# the router is built, because it may live where nobody cannot read (a pyenv
# under /root): the modules the configurations use are imported first.
AS_NOBODY = r"""
import importlib, os, sys
import clickpy.cli.main as cli
for m in ("clickpy.elements.devices.from_device", "clickpy.elements.devices.to_device",
          "clickpy.elements.devices.from_host", "clickpy.elements.devices.to_host",
          "clickpy.elements.standard.discard", "clickpy.elements.standard.idle",
          "clickpy.netmap_shim.backends", "pyroute2"):
    importlib.import_module(m)
os.setgroups([]); os.setgid(65534); os.setuid(65534)
assert os.geteuid() == 65534
assert open("/proc/self/status").read().split("CapEff:")[1].split()[0].strip("0") == ""
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.root
@pytest.mark.parametrize("config, messages", [
    ("FromDevice(x1) -> Discard",
     ["afpacket:x1: permission denied (AF_PACKET needs CAP_NET_RAW)"]),
    pytest.param("FromDevice(x1, SNIFFER false) -> Discard",
                 ["x1: cannot open the device with any method",
                  "afxdp:x1: permission denied (AF_XDP needs CAP_NET_RAW and CAP_BPF)",
                  "afpacket:x1: permission denied (AF_PACKET needs CAP_NET_RAW)"], marks=needs_afxdp),
    pytest.param("FromDevice(x1, SNIFFER false, METHOD AFXDP) -> Discard",
                 ["afxdp:x1: permission denied (AF_XDP needs CAP_NET_RAW and CAP_BPF)"], marks=needs_afxdp),
    ("Idle -> ToDevice(x1, METHOD AFPACKET)",
     ["afpacket:x1: permission denied (AF_PACKET needs CAP_NET_RAW)"]),
    ("FromHost(clk5, 10.5.0.1/24) -> Discard",
     ["tap:clk5: permission denied opening /dev/net/tun (needs CAP_NET_ADMIN)"]),
])
def test_unprivileged_user_is_told_why(pair, config, messages):
    lab, x, m, ctl = pair
    r = m.run([sys.executable, "-c", AS_NOBODY, "run", "-q", "-e", config], cwd="/")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr, r.stderr
    for message in messages:
        assert message in r.stderr, r.stderr
    assert "Router could not be initialized" in r.stderr


@pytest.mark.root
@pytest.mark.parametrize("method", [AFXDP, "AFPACKET"])
def test_root_without_capabilities_is_told_why(pair, method):
    """uid 0 with the network capabilities taken away (setpriv): the kernel
    refuses, and the message says so."""
    lab, x, m, ctl = pair
    sniffer = "false" if method == "AFXDP" else "true"
    r = m.run(["setpriv", "--bounding-set=-net_raw,-net_admin,-bpf,-sys_admin,-perfmon,-ipc_lock",
               sys.executable, "-m", "clickpy", "run", "-q", "-e",
               f"FromDevice(x1, SNIFFER {sniffer}, METHOD {method}) -> Discard"])
    assert r.returncode != 0
    assert "x1" in r.stderr and ("permission" in r.stderr.lower() or "not permitted" in r.stderr.lower()), r.stderr


@pytest.mark.root
@needs_afxdp
def test_afxdp_cannot_sniff_and_afpacket_cannot_pick_a_queue(pair):
    lab, x, m, ctl = pair
    r = m.run([sys.executable, "-m", "clickpy", "run", "-q", "-e", "FromDevice(x1, METHOD AFXDP) -> Discard"])
    assert r.returncode != 0 and "cannot run as a sniffer" in r.stderr
    r = m.run([sys.executable, "-m", "clickpy", "run", "-q", "-e",
               "FromDevice(x1, METHOD AFPACKET, QUEUE 1) -> Discard"])
    assert r.returncode != 0 and "cannot select a receive queue" in r.stderr
    r = m.run([sys.executable, "-m", "clickpy", "run", "-q", "-e",
               "FromDevice(x1, METHOD AFXDP, SNIFFER false, QUEUE 3) -> Discard"])
    assert r.returncode != 0 and "queue 3" in r.stderr


@pytest.mark.root
@needs_afxdp
@needs_tcx
def test_default_method_falls_back_with_a_message(pair):
    """Someone else's XDP program on the device: AF_XDP refuses to replace it,
    so (METHOD not pinned) AF_PACKET is used and a warning says why."""
    lab, x, m, ctl = pair
    import glob

    # xdp-loader (Debian xdp-tools) and libxdp's own filter program (libxdp1):
    # CI installs both, so neither missing is a reason to skip.
    objs = glob.glob("/usr/lib/*/bpf/xdpfilt_alw_all.o") + glob.glob("/usr/lib/bpf/xdpfilt_alw_all.o")
    assert objs, "libxdp's xdpfilt_alw_all.o not found (Debian package libxdp1)"
    r = m.run(["xdp-loader", "load", "-m", "skb", "x1", objs[0]])
    assert r.returncode == 0, f"cannot load a foreign XDP program: {r.stderr}"
    r = m.run([sys.executable, "-m", "clickpy", "run", "-q", "-e",
               "fd :: FromDevice(x1, SNIFFER false) -> Discard", "-h", "fd.method"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "AFPACKET"
    assert "x1: using AFPACKET; tried first: afxdp:x1: the interface already has an XDP program" in r.stderr
    r = m.run([sys.executable, "-m", "clickpy", "run", "-q", "-e",
               "fd :: FromDevice(x1, SNIFFER false, METHOD AFXDP) -> Discard"])
    assert r.returncode != 0 and "already has an XDP program" in r.stderr


@pytest.mark.root
@needs_afxdp
@pytest.mark.parametrize("kind", ["bridge", "tun"])
def test_afxdp_without_driver_support_runs_in_skb_mode(pair, kind):
    """A driver without native XDP (a Linux bridge, a tun device): the
    default tries native mode, the kernel refuses, and the socket opens in
    skb (generic) mode; the mode handler says which."""
    lab, x, m, ctl = pair
    if kind == "bridge":
        m.run(["ip", "link", "add", "nx0", "type", "bridge"], check=True)
    else:
        m.run(["ip", "tuntap", "add", "nx0", "mode", "tun"], check=True)
    m.link_up("nx0")
    r = m.run([sys.executable, "-m", "clickpy", "run", "-q", "-e",
               "fd :: FromDevice(nx0, SNIFFER false) -> Discard", "-h", "fd.method", "-h", "fd.mode"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["fd.method:", "AFXDP", "fd.mode:", "skb"], r.stdout + r.stderr
    assert "xdp" not in m.run(["ip", "link", "show", "nx0"]).stdout   # removed on exit


@pytest.mark.root
@pytest.mark.parametrize("method", [AFXDP, AFPACKET_NOSNIFF])
def test_protocol_snaplen_force_ip_and_handlers(pair, method):
    lab, x, m, ctl = pair
    config = (f"fd :: FromDevice(x1, SNIFFER false, METHOD {method}, PROTOCOL 0x88b5, SNAPLEN 100)"
              " -> c :: Counter -> Print(got, 200) -> Discard;"
              f"fi :: FromDevice(y1, SNIFFER false, METHOD {method}, FORCE_IP true) -> ip :: Counter -> Discard;"
              " fi[1] -> nonip :: Counter -> Discard")
    proc = start_clickpy(m, ["-e", config], ctl)
    try:
        frames = [_raw(size=300), _raw(ethertype=0x0800, size=80), _raw(size=64)]
        x.run([sys.executable, "-c", "import socket,sys\ns=socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
               "s.bind(('x0',0))\nfor h in sys.argv[1:]: s.send(bytes.fromhex(h))", *[f.hex() for f in frames]],
              check=True)
        ipv4 = bytes.fromhex("020000000002020000000001" "0800" "45000014000040004011" "0000" "0a000001" "0a000002")
        x.run([sys.executable, "-c", "import socket,sys\ns=socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
               "s.bind(('y0',0))\nfor h in sys.argv[1:]: s.send(bytes.fromhex(h))", ipv4.hex(), _raw().hex()],
              check=True)
        # (the host's IPv6 neighbour discovery adds non-IPv4 frames of its own)
        assert wait_for(lambda: control_read(ctl, "c.count") == "2" and int(control_read(ctl, "nonip.count")) >= 1
                        and control_read(ctl, "ip.count") == "1", 10)
        assert control_read(ctl, "ip.count") == "1"
        assert control_read(ctl, "fd.count") == "2"   # the 0x0800 frame was filtered out
        assert control_read(ctl, "fd.method") == method
        assert control_read(ctl, "fd.encap") == "ETHER"
        assert control_read(ctl, "fd.drops") == "0"
    finally:
        out, err = _stop(lab, proc)
    # SNAPLEN cut the 300-byte frame to 100 bytes.
    assert "got:  100 |" in err and "got:   64 |" in err, err


@pytest.mark.root
@pytest.mark.parametrize("method", [AFXDP, AFPACKET_NOSNIFF])
def test_device_that_disappears_stops_only_its_element(pair, method):
    lab, x, m, ctl = pair
    config = (f"a :: FromDevice(x1, SNIFFER false, METHOD {method}, PROTOCOL 0x88b5) -> ca :: Counter -> Discard;"
              f"b :: FromDevice(y1, SNIFFER false, METHOD {method}, PROTOCOL 0x88b5) -> cb :: Counter -> Discard")
    proc = start_clickpy(m, ["-e", config], ctl)
    try:
        m.link_delete("x1")
        assert wait_for(lambda: control_read(ctl, "a.state") == "gone", 10)
        assert proc.poll() is None
        x.run([sys.executable, "-c", "import socket,sys\ns=socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
               "s.bind(('y0',0))\ns.send(bytes.fromhex(sys.argv[1]))", _raw().hex()], check=True)
        assert wait_for(lambda: control_read(ctl, "cb.count") == "1", 10)
    finally:
        out, err = _stop(lab, proc)
    assert "device x1 disappeared; this element stops (the router keeps running)" in err


@pytest.mark.root
def test_device_going_down_and_up_is_reported_and_survived(pair):
    lab, x, m, ctl = pair
    proc = start_clickpy(m, ["-e", "a :: FromDevice(x1, METHOD AFPACKET, PROTOCOL 0x88b5) -> c :: Counter -> Discard"], ctl)
    send = ("import socket,sys\ns=socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
            "s.bind(('x0',0))\ns.send(bytes.fromhex(sys.argv[1]))")
    try:
        m.link_down("x1")
        assert wait_for(lambda: control_read(ctl, "a.state") == "down", 10)
        m.link_up("x1")
        assert wait_for(lambda: control_read(ctl, "a.state") == "up", 10)
        x.run([sys.executable, "-c", send, _raw().hex()], check=True)
        assert wait_for(lambda: control_read(ctl, "c.count") == "1", 10)
    finally:
        out, err = _stop(lab, proc)
    assert "device x1 is down" in err and "device x1 is up again" in err


def _xdp_attached(ns, ifname):
    return "xdp" in ns.run(["ip", "link", "show", ifname]).stdout


@pytest.mark.root
@needs_afxdp
def test_xdp_program_removed_on_exit_and_stale_one_cleaned_after_a_crash(pair):
    lab, x, m, ctl = pair
    config = "FromDevice(x1, SNIFFER false, METHOD AFXDP, PROTOCOL 0x88b5) -> c :: Counter -> Discard"
    proc = start_clickpy(m, ["-e", config], ctl)
    assert _xdp_attached(m, "x1")
    _stop(lab, proc)
    assert not _xdp_attached(m, "x1")
    # A crash leaves the program behind ...
    os.path.exists(ctl) and os.unlink(ctl)
    proc = start_clickpy(m, ["-e", config], ctl)
    proc.kill()
    proc.wait()
    assert _xdp_attached(m, "x1")
    # ... and the next run removes it and works.
    os.path.exists(ctl) and os.unlink(ctl)
    proc = start_clickpy(m, ["-e", config], ctl)
    try:
        x.run([sys.executable, "-c", "import socket,sys\ns=socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
               "s.bind(('x0',0))\ns.send(bytes.fromhex(sys.argv[1]))", _raw().hex()], check=True)
        assert wait_for(lambda: control_read(ctl, "c.count") == "1", 10)
    finally:
        out, err = _stop(lab, proc)
    assert "removed a stale XDP socket program" in err
    assert not _xdp_attached(m, "x1")


@pytest.mark.root
@needs_afxdp
def test_two_processes_cannot_take_one_device(pair):
    lab, x, m, ctl = pair
    config = "FromDevice(x1, SNIFFER false, METHOD AFXDP) -> Discard"
    proc = start_clickpy(m, ["-e", config], ctl)
    try:
        r = m.run([sys.executable, "-m", "clickpy", "run", "-q", "-e", config])
        assert r.returncode != 0 and "in use by another clickpy process" in r.stderr
        assert _xdp_attached(m, "x1")  # the first one's program is left alone
    finally:
        _stop(lab, proc)


@pytest.mark.root
def test_duplicate_writer_is_an_error(pair):
    lab, x, m, ctl = pair
    r = m.run([sys.executable, "-m", "clickpy", "run", "-q", "-e",
               "Idle -> ToDevice(x1, METHOD AFPACKET); Idle -> ToDevice(x1, METHOD AFPACKET)"])
    assert r.returncode != 0 and "duplicate writer for device 'x1'" in r.stderr


@pytest.mark.root
@pytest.mark.parametrize("method", [AFXDP, "AFPACKET"])
def test_todevice_sends_and_pushes_sent_packets_on(pair, method):
    """ToDevice alone (no FromDevice): what it pulls arrives on the wire, and
    with output 0 connected the sent packets come out there too."""
    lab, x, m, ctl = pair
    data = MARK.hex() + "00" * 30
    config = (f"InfiniteSource(DATA \\<020000000002 020000000001 88b5 {data}>, LIMIT 25, STOP false)"
              f" -> Queue -> t :: ToDevice(x1, METHOD {method}, BURST 8) -> sent :: Counter -> Discard")
    rx = x.popen([sys.executable, "-c", __import__("netns").RECEIVER, "x0", "3", MARK.hex()],
                 stdout=subprocess.PIPE, text=True)
    assert rx.stdout.readline().strip() == "ready"
    proc = start_clickpy(m, ["-e", config], ctl)
    try:
        out, _ = rx.communicate(timeout=30)
        got = [bytes.fromhex(h) for h in out.split()]
        assert len(got) == 25
        assert set(got) == {bytes.fromhex("020000000002020000000001" "88b5" + data)}
        assert control_read(ctl, "t.count") == "25"
        assert control_read(ctl, "sent.count") == "25"
        assert control_read(ctl, "t.method") == method
    finally:
        _stop(lab, proc)


@pytest.mark.root
@pytest.mark.parametrize("method, sniffer", [pytest.param("AFXDP", "false", marks=needs_afxdp),
                                             ("AFPACKET", "true")])
def test_promisc_while_running_only(pair, method, sniffer):
    """PROMISC true: the device is promiscuous while the router runs, and not
    after (the kernel drops the membership with the socket)."""
    lab, x, m, ctl = pair

    def promisc():
        # (a packet socket's membership counts in "promiscuity", not in the flags ip shows)
        words = m.run(["ip", "-d", "-o", "link", "show", "x1"], check=True).stdout.split()
        return int(words[words.index("promiscuity") + 1])

    assert promisc() == 0
    proc = start_clickpy(m, ["-e", f"FromDevice(x1, PROMISC true, SNIFFER {sniffer}, METHOD {method}) -> Discard"],
                         ctl)
    try:
        assert promisc() == 1
    finally:
        _stop(lab, proc)
    assert promisc() == 0


@pytest.mark.root
@pytest.mark.parametrize("method", [AFXDP, "AFPACKET"])
def test_small_burst_delivers_everything(pair, method):
    """BURST 4: a burst of 20 frames is read 4 at a time (the task comes
    back while the ring holds more), and every frame comes out."""
    lab, x, m, ctl = pair
    sniffer = "false" if method == "AFXDP" else "true"
    config = (f"fd :: FromDevice(x1, SNIFFER {sniffer}, METHOD {method}, BURST 4, PROTOCOL 0x88b5)"
              " -> c :: Counter -> Discard")
    proc = start_clickpy(m, ["-e", config], ctl)
    try:
        x.run([sys.executable, "-c", "import socket,sys\ns=socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
               "s.bind(('x0',0))\nfor h in sys.argv[1:]: s.send(bytes.fromhex(h))",
               *[_raw(size=60 + i).hex() for i in range(20)]], check=True)
        assert wait_for(lambda: control_read(ctl, "c.count") == "20", 10)
        assert control_read(ctl, "fd.count") == "20"
        assert control_read(ctl, "fd.drops") == "0"
    finally:
        _stop(lab, proc)


def test_frames_waiting_before_the_first_run_still_leave_the_next_frame_a_wakeup():
    """A pipe's frames sent before FromDevice first ran arrive with no wake-up; the frames after them must
    still wake it (a guest gets its first packet so, from the switch's backlog)."""
    from guest_harness import run_until

    from clickpy import pipeline
    from clickpy.netmap_shim.ring import open_port
    from clickpy.runtime.router import Router

    router = Router.from_plan(pipeline.plan(pipeline.Source(
        "FromDevice(pipe:early{0) -> c :: Counter -> Discard;", "early.click")))
    sender = open_port("pipe:early}0")
    try:
        c = router.element("c")
        for i in range(1, 4):
            sender.send([bytes(60)])
            assert run_until(router, lambda: c.count == i, 5), f"frame {i} never woke FromDevice"
    finally:
        router.cleanup()
        sender.close()
