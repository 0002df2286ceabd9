"""configs/nat-gateway.click in a lab: HTTP through the NAT, the server sees
the NAT's outside address, replies find their way back, mappings expire."""
import subprocess
import time

import pytest

pytestmark = [pytest.mark.root, pytest.mark.slow]

NAT_OUTSIDE = "10.0.2.1"
SERVER = "10.0.2.2"
CLIENT = "10.0.1.2"

UDP_SEND = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
data, addr = s.recvfrom(100)
print(data.decode(), addr[0])
"""

UDP_ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("listening", flush=True)
data, addr = s.recvfrom(100)
s.sendto(data + b" from " + addr[0].encode(), addr)
"""


def test_http_through_nat_server_sees_nat_address(lab_up):
    lab = lab_up("nat-gateway.click")
    server = lab.http_server(SERVER)
    reply = lab.get(f"http://{SERVER}:8000/")
    assert reply == f"200 {SERVER} saw {NAT_OUTSIDE}", lab.log()
    assert lab.requests_seen(server) == [NAT_OUTSIDE]
    table = lab.read("rw.tcp_table")
    assert f"({CLIENT}, " in table and f"=> ({NAT_OUTSIDE}, " in table
    # A port in the PORTS range (50000-65535) on the outside.
    outside_port = int(table.split(f"=> ({NAT_OUTSIDE}, ")[1].split(",")[0])
    assert 50000 <= outside_port <= 65535


def test_outside_cannot_open_connections_inward(lab_up):
    lab = lab_up("nat-gateway.click")
    r = lab.python("server", r"""
import socket
s = socket.socket(); s.settimeout(2)
try:
    s.connect(("10.0.1.2", 22)); print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e.errno)
""")
    # 10.0.1.2 is not reachable from outside at all: the SYN goes to the
    # NAT's outside address (the server's gateway) and matches no mapping.
    assert r == "timeout"
    assert lab.read("rw.nmappings") == "0"


def test_udp_mapping_expires_after_timeout(lab_up):
    lab = lab_up("nat-gateway.click", "TIMEOUT=2", "REAP=1")
    echo = lab.lab.popen("server", ["python3", "-u", "-c", UDP_ECHO, SERVER, "9999"],
                         stdout=subprocess.PIPE, text=True)
    lab.procs.append(echo)
    assert echo.stdout.readline().strip() == "listening"
    out = lab.python("client", UDP_SEND, SERVER, 9999)
    assert out == f"hello from {NAT_OUTSIDE} {SERVER}"
    assert lab.read("rw.nmappings") == "1"
    assert f"({CLIENT}, " in lab.read("rw.udp_table")
    # Wall-clock waiting, but no timing is asserted: the mapping must be
    # gone eventually (2 s timeout, swept every second).
    deadline = time.monotonic() + 30
    while lab.read("rw.nmappings") != "0" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert lab.read("rw.nmappings") == "0"
    assert lab.read("rw.udp_table") == ""


def test_ping_through_nat_and_to_gateway(lab_up):
    lab = lab_up("nat-gateway.click")
    assert lab.ping(SERVER, "10.0.1.1") == [f"reply from {SERVER}", "reply from 10.0.1.1"], lab.log()
    assert lab.read("pr.nmappings") == "1"

