"""configs/ip-router.click in a lab: forwarding both ways, TTL expiry
returns ICMP time exceeded (as traceroute sees it), pings to the router."""
import pytest

pytestmark = [pytest.mark.root, pytest.mark.slow]

SERVER = "10.0.2.2"

# traceroute's probes: UDP to a high port with TTL 1, 2, ...; print who
# answered each (ICMP type, the answering address, the quoted destination).
TRACEROUTE = r"""
import socket, struct, sys
dst = sys.argv[1]
icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
icmp.settimeout(5)
for ttl in (1, 2):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    udp.sendto(b"probe", (dst, 33434 + ttl))
    try:
        while True:
            data, addr = icmp.recvfrom(2000)
            ihl = (data[0] & 15) * 4
            kind, code = data[ihl], data[ihl + 1]
            inner = data[ihl + 8:]
            iihl = (inner[0] & 15) * 4
            qdst = socket.inet_ntoa(inner[16:20])
            qport = struct.unpack("!H", inner[iihl + 2:iihl + 4])[0]
            if qport == 33434 + ttl:
                print(ttl, kind, code, addr[0], qdst); break
    except socket.timeout:
        print(ttl, "timeout")
"""


def test_http_is_routed(lab_up):
    lab = lab_up("ip-router.click")
    server = lab.http_server(SERVER)
    assert lab.get(f"http://{SERVER}:8000/") == f"200 {SERVER} saw 10.0.1.2", lab.log()
    assert lab.requests_seen(server) == ["10.0.1.2"]


def test_ttl_expiry_returns_time_exceeded(lab_up):
    lab = lab_up("ip-router.click")
    lines = lab.python("client", TRACEROUTE, SERVER).splitlines()
    # Hop 1: the router says time exceeded (type 11, code 0) about our probe,
    # from its address on our side (FixIPSrc fixes the source of its ICMP
    # errors on the way out); hop 2: the server says port unreachable.
    assert lines[0] == f"1 11 0 10.0.1.1 {SERVER}", lab.log()
    assert lines[1] == f"2 3 3 {SERVER} {SERVER}"
    assert lab.read("dt1.drops") == "1"


def test_router_answers_pings(lab_up):
    lab = lab_up("ip-router.click")
    assert lab.ping("10.0.1.1", "10.0.2.1") == ["reply from 10.0.1.1", "reply from 10.0.2.1"]

