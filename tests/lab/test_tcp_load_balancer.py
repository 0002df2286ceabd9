"""configs/tcp-load-balancer.click in a lab: connections to the virtual
address are spread over both backends, and replies come from the VIP."""
import pytest

pytestmark = [pytest.mark.root, pytest.mark.slow]

VIP = "10.0.1.10"
BACKENDS = ("10.0.2.2", "10.0.2.3")


def test_connections_spread_over_two_backends(lab_up):
    lab = lab_up("tcp-load-balancer.click")
    servers = [lab.http_server(b, 8000) for b in BACKENDS]
    replies = [lab.get(f"http://{VIP}/") for _ in range(6)]
    # Every reply arrived (from the VIP, or urllib would not have it) and
    # each backend served some; the backends saw the real client.
    assert all(r.startswith("200 ") for r in replies), (replies, lab.log())
    served_by = [r.split()[1] for r in replies]
    assert set(served_by) == set(BACKENDS)
    assert served_by.count(BACKENDS[0]) == served_by.count(BACKENDS[1]) == 3
    for s in servers:
        assert lab.requests_seen(s) == ["10.0.1.2"] * 3


def test_other_ports_on_the_vip_are_dropped(lab_up):
    lab = lab_up("tcp-load-balancer.click")
    lab.http_server(BACKENDS[0], 8000)
    assert lab.connect(VIP, 8000) == "timeout"
    assert lab.read("lb.nmappings") == "0"
