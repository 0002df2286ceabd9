"""configs/stateless-firewall.click and configs/stateful-firewall.click in a
lab: an allowed port connects, a denied one does not; the stateful one lets
in only replies to what the inside began."""
import subprocess
import sys

import pytest
from netns import CONNECT

pytestmark = [pytest.mark.root, pytest.mark.slow]

SERVER = "10.0.2.2"
CLIENT = "10.0.1.2"

LISTEN = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(8)
print("listening", flush=True)
while True:
    c, addr = s.accept(); c.close()
"""



def listen(lab, role, address, port):
    p = lab.lab.popen(role, [sys.executable, "-u", "-c", LISTEN, address, str(port)],
                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    lab.procs.append(p)
    assert p.stdout.readline().strip() == "listening"
    return p


def test_stateless_allowed_port_connects_denied_does_not(lab_up):
    lab = lab_up("stateless-firewall.click")
    lab.http_server(SERVER, 8000)
    listen(lab, "server", SERVER, 8080)
    assert lab.get(f"http://{SERVER}:8000/") == f"200 {SERVER} saw {CLIENT}", lab.log()
    assert lab.connect(SERVER, 8080) == "timeout"
    assert int(lab.read("out_denied.count")) >= 1
    assert int(lab.read("in_ok.count")) >= 3


def test_stateless_web_port_is_a_parameter(lab_up):
    lab = lab_up("stateless-firewall.click", "WEB_PORT=8080")
    listen(lab, "server", SERVER, 8000)
    listen(lab, "server", SERVER, 8080)
    assert lab.connect(SERVER, 8080) == "connected", lab.log()
    assert lab.connect(SERVER, 8000) == "timeout"


def test_stateless_refuses_connections_from_outside(lab_up):
    lab = lab_up("stateless-firewall.click")
    listen(lab, "client", CLIENT, 8000)
    # From the allowed port, even: a SYN without ACK never passes inward.
    r = lab.python("server", CONNECT, CLIENT, 8000)
    assert r == "timeout"
    assert int(lab.read("in_denied.count")) >= 1


def test_stateful_replies_pass_new_inbound_connections_do_not(lab_up):
    lab = lab_up("stateful-firewall.click")
    lab.http_server(SERVER, 8000)
    listen(lab, "server", SERVER, 9000)
    listen(lab, "client", CLIENT, 8000)
    # Any port outward (no port rules: the state is the policy).
    assert lab.get(f"http://{SERVER}:8000/") == f"200 {SERVER} saw {CLIENT}", lab.log()
    assert lab.connect(SERVER, 9000) == "connected"
    table = lab.read("flows.tcp_table")
    assert f"({CLIENT}, " in table and f"{SERVER}, 8000)" in table
    # Inward, nothing that the inside did not begin.
    assert lab.python("server", CONNECT, CLIENT, 8000) == "timeout"
    assert int(lab.read("in_denied.count")) >= 1


def test_stateful_drops_unsolicited_ack(lab_up):
    """A stateless filter passes a bare ACK from an allowed port; the flow table does not."""
    lab = lab_up("stateful-firewall.click")
    listen(lab, "client", CLIENT, 8000)
    out = lab.python("server", RAW_ACK, SERVER, CLIENT)
    assert out == "sent"
    assert int(lab.read("in_denied.count")) >= 1
    assert lab.read("in_ok.count") == "0"
    assert lab.read("flows.nmappings") == "0"


RAW_ACK = r"""
import socket, struct, sys
src, dst = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
def csum(b):
    if len(b) % 2: b += b"\0"
    t = sum(struct.unpack(f"!{len(b)//2}H", b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
tcp = struct.pack("!HHIIBBHHH", 8000, 8000, 1, 1, 5 << 4, 0x10, 65535, 0, 0)
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
for _ in range(3):
    s.sendto(tcp, (dst, 0))
print("sent")
"""
