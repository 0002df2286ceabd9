"""GuestSwitch: a guest per tenant or per flow, started on the first packet, over pipe rings."""
import struct

import pytest
from guest_harness import BUMP, run_until, write_image

from clickpy import pipeline
from clickpy.runtime.router import Router

# The switch's two host ports are in-process pipes; the test holds their other ends.
SWITCH = """
sw :: GuestSwitch(POLICY {policy}, POOL 1);
FromDevice(pipe:{tag}{{0) -> [0]sw[0] -> Queue -> ToDevice(pipe:{tag}{{0);
FromDevice(pipe:{tag}{{1) -> [1]sw[1] -> Queue -> ToDevice(pipe:{tag}{{1);
"""


def frame(vlan=None, src="10.0.1.2", dst="10.0.2.2", sport=1000, dport=80, proto=17, payload=b"x" * 18):
    ip_src = bytes(int(x) for x in src.split("."))
    ip_dst = bytes(int(x) for x in dst.split("."))
    l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0, ip_src, ip_dst)
    eth = bytes.fromhex("020000000002" "020000000001")
    if vlan is not None:
        eth += struct.pack("!HH", 0x8100, vlan)
    return eth + b"\x08\x00" + ip + l4


@pytest.fixture
def switch(tmp_path, request):
    """switch(policy_text) -> (router, GuestSwitch, port0, port1)."""
    from clickpy.netmap_shim.ring import open_port

    made = []

    def make(policy_text, config=SWITCH):
        policy = tmp_path / "policy.toml"
        policy.write_text(policy_text)
        tag = f"sw{len(made)}x{abs(hash(request.node.name)) % 10000}"
        router = Router.from_plan(pipeline.plan(pipeline.Source(config.format(policy=policy, tag=tag), "sw.click")))
        ends = [open_port(f"pipe:{tag}}}{i}") for i in range(2)]
        made.append((router, ends))
        return router, router.element("sw"), ends[0], ends[1]

    yield make
    for router, ends in made:
        router.cleanup()
        for e in ends:
            e.close()


def _one_tenant(tmp_path, settings="", **tenant):
    counting = write_image(tmp_path / "count.guest", BUMP)
    extra = "".join(f"{k} = {v}\n" for k, v in tenant.items())
    return f'''
[switch]
{settings}

[[tenant]]
name = "red"
image = "{counting}"
match = ["vlan 10"]
{extra}'''


def test_each_tenant_gets_its_own_guest_and_its_packets_in_order(switch, tmp_path):
    counting = write_image(tmp_path / "count.guest", BUMP)
    router, sw, p0, p1 = switch(f'''
[[tenant]]
name = "red"
image = "{counting}"
match = ["vlan 10"]

[[tenant]]
name = "blue"
image = "{counting}"
match = ["vlan 20"]
''')
    red = [frame(10, payload=bytes([i]) * 18) for i in range(5)]
    blue = [frame(20, payload=bytes([100 + i]) * 18) for i in range(3)]
    assert p0.send(red[:1] + blue[:1] + red[1:] + blue[1:]) == 8
    out = []
    assert run_until(router, lambda: out.extend(p1.recv()) or len(out) >= 8), out
    assert [f for f in out if f[14:16] == b"\x00\x0a"] == red
    assert [f for f in out if f[14:16] == b"\x00\x14"] == blue
    rows = {r["tenant"]: r for r in sw.status_rows()}
    assert set(rows) == {"red", "blue"} and rows["red"]["in"] == 5 and rows["blue"]["in"] == 3
    assert rows["red"]["id"] != rows["blue"]["id"] and rows["red"]["pid"] != rows["blue"]["pid"]
    # and back: the reply direction goes through the same guest
    assert p1.send([frame(10, src="10.0.2.2", dst="10.0.1.2")]) == 1
    back = []
    assert run_until(router, lambda: back.extend(p0.recv()) or back)
    assert {r["tenant"]: r for r in sw.status_rows()}["red"]["out"] == 6


def test_traffic_no_tenant_claims_is_dropped_and_counted(switch, tmp_path):
    router, sw, p0, p1 = switch(_one_tenant(tmp_path))
    p0.send([frame(30), frame(None), b"\x02" * 10])
    assert run_until(router, lambda: sw.count == 3)
    reasons = dict(line.split() for line in router.read("sw.drop_reasons").splitlines())
    assert reasons["no_tenant"] == "2" and reasons["malformed"] == "1"
    assert sw.status_rows() == []


def test_per_flow_tenants_get_a_guest_per_flow_both_directions_alike(switch, tmp_path):
    counting = write_image(tmp_path / "count.guest", BUMP)
    router, sw, p0, p1 = switch(f'''
[[tenant]]
name = "flows"
image = "{counting}"
match = ["ip 10.0.0.0/8"]
per = "flow"
max_guests = 10
''')
    flows = [frame(sport=2000 + i) for i in range(3)]
    p0.send(flows)
    out = []
    assert run_until(router, lambda: out.extend(p1.recv()) or len(out) >= 3)
    assert sorted(out) == sorted(flows)
    rows = sw.status_rows()
    assert len(rows) == 3 and len({r["pid"] for r in rows}) == 3
    assert {r["key"] for r in rows} == {f"udp 10.0.1.2:{2000 + i} <> 10.0.2.2:80" for i in range(3)}
    p1.send([frame(src="10.0.2.2", dst="10.0.1.2", sport=80, dport=2001)])
    back = []
    assert run_until(router, lambda: back.extend(p0.recv()) or back)
    assert len(sw.status_rows()) == 3, "the reply went to the flow's own guest"


def test_guest_limits_drop_and_count(switch, tmp_path):
    counting = write_image(tmp_path / "count.guest", BUMP)
    router, sw, p0, p1 = switch(f'''
[switch]
max_guests = 2

[[tenant]]
name = "flows"
image = "{counting}"
match = ["ip 10.0.0.0/8"]
per = "flow"
''')
    p0.send([frame(sport=3000 + i) for i in range(4)])
    out = []
    assert run_until(router, lambda: out.extend(p1.recv()) or len(out) >= 2)
    assert len(sw.status_rows()) == 2
    assert dict(line.split() for line in router.read("sw.drop_reasons").splitlines())["guest_limit"] == "2"


def test_the_backlog_holds_a_starting_guests_packets_and_counts_the_overflow(switch, tmp_path):
    router, sw, p0, p1 = switch(_one_tenant(tmp_path, "backlog = 3"))
    frames = [frame(10, payload=bytes([i]) * 18) for i in range(10)]
    p0.send(frames)
    out = []
    assert run_until(router, lambda: out.extend(p1.recv()) or len(out) >= 3)
    run_until(router, lambda: False, 0.2)
    out.extend(p1.recv())
    assert out == frames[:3], "the first three, in order; the rest did not fit"
    assert dict(line.split() for line in router.read("sw.drop_reasons").splitlines())["backlog_full"] == "7"


def test_an_idle_guest_is_stopped_and_the_next_packet_starts_another(switch, tmp_path):
    router, sw, p0, p1 = switch(_one_tenant(tmp_path, 'idle_timeout = "100ms"'))
    p0.send([frame(10)])
    assert run_until(router, lambda: p1.recv())
    first = sw.status_rows()[0]["id"]
    assert run_until(router, lambda: sw.status_rows() == [], 5)
    assert run_until(router, lambda: "stopped 1" in router.read("sw.manager"))
    p0.send([frame(10)])
    assert run_until(router, lambda: p1.recv())
    assert sw.status_rows()[0]["id"] != first


def test_a_killed_guest_is_restarted_and_its_traffic_resumes(switch, tmp_path):
    import os
    import signal

    router, sw, p0, p1 = switch(_one_tenant(tmp_path))
    p0.send([frame(10)])
    assert run_until(router, lambda: p1.recv())
    row = sw.status_rows()[0]
    os.kill(row["pid"], signal.SIGKILL)
    assert run_until(router, lambda: sw.status_rows()[0]["restarts"] == 1
                     and sw.status_rows()[0]["state"] == "ready")
    assert "killed by SIGKILL" in router.read("sw.guests")
    p0.send([frame(10, payload=b"after" * 4)])
    got = []
    assert run_until(router, lambda: got.extend(p1.recv()) or got)
    assert got == [frame(10, payload=b"after" * 4)]


def test_the_guest_table_and_stop_guest_handler(switch, tmp_path):
    from clickpy.runtime.handlers import HandlerError

    router, sw, p0, p1 = switch(_one_tenant(tmp_path))
    assert router.read("sw.guests") == "no guests\n"
    p0.send([frame(10)] * 2)
    assert run_until(router, lambda: sw.status_rows() and sw.status_rows()[0]["state"] == "ready")
    table = router.read("sw.guests").splitlines()
    assert table[0].split() == ["GUEST", "TENANT", "KEY", "STATE", "PID", "IN", "OUT", "DROPS", "HELD", "MEMORY",
                                "UPTIME", "RESTARTS"]
    assert table[1].split()[1:4] == ["red", "red", "ready"]
    gid = table[1].split()[0]
    with pytest.raises(HandlerError, match="no guest 'nope'"):
        router.write("sw.stop_guest", "nope")
    router.write("sw.stop_guest", gid)
    assert run_until(router, lambda: "stopped 1" in router.read("sw.manager"))
    assert router.read("sw.guests") == "no guests\n"


def test_a_guest_sees_its_vlan_untagged_and_its_frames_leave_tagged(switch, tmp_path):
    ip_only = write_image(tmp_path / "ip.guest", """
FromDevice(inside) -> Classifier(12/0800) -> ok :: Counter -> Queue -> ToDevice(outside);
FromDevice(outside) -> Queue -> ToDevice(inside);
""")
    router, sw, p0, p1 = switch(f'''
[[tenant]]
name = "red"
image = "{ip_only}"
match = ["vlan 10"]
''')
    frames = [frame(10, payload=bytes([i]) * 18) for i in range(3)]
    p0.send(frames)
    out = []
    assert run_until(router, lambda: out.extend(p1.recv()) or len(out) >= 3)
    assert out == frames, "untagged inside the guest (its Classifier saw IPv4), tagged again outside"
    gid = sw.status_rows()[0]["id"]
    g = sw.manager.guests[gid]
    got = []
    g.request({"op": "read", "handler": "ok.count"}, got.append)
    assert run_until(router, lambda: got)
    assert got[0]["value"] == "3"


def test_warm_guests_take_new_flows_at_once(switch, tmp_path):
    counting = write_image(tmp_path / "count.guest", BUMP)
    text = SWITCH.replace("POOL 1)", "POOL 1, WARM 2)")
    router, sw, p0, p1 = switch(f'''
[[tenant]]
name = "flows"
image = "{counting}"
match = ["ip 10.0.0.0/8"]
per = "flow"
''', text)
    (image,) = sw.manager.warm_specs
    assert run_until(router, lambda: len(sw.manager.warm[image]) == 2)
    warm = {g.id for g in sw.manager.warm[image]}
    p0.send([frame(sport=4000)])
    assert run_until(router, lambda: sw.status_rows())
    rows = sw.status_rows()
    assert len(rows) == 1 and rows[0]["state"] == "ready" and rows[0]["id"] in warm, "a warm guest took the flow"
    out = []
    assert run_until(router, lambda: out.extend(p1.recv()) or out)


def _write(router, handler, value):
    """A switch handler write that a guest finishes later: its Pending."""
    element, name = handler.split(".")
    e = router.element(element)
    return router.call_write(e, router.handler(e, name), value, allow_pending=True)


def test_a_tenant_reloads_a_new_image_into_its_running_guest_keeping_state(switch, tmp_path):
    router, sw, p0, p1 = switch(_one_tenant(tmp_path))
    p0.send([frame(10)] * 3)
    out = []
    assert run_until(router, lambda: out.extend(p1.recv()) or len(out) >= 3)
    gid = sw.status_rows()[0]["id"]
    bigger = write_image(tmp_path / "bigger.guest", BUMP.replace("c :: Counter ->", "c :: Counter -> d :: Counter ->"))
    pending = _write(router, "sw.reload_tenant", f"red {bigger}")
    assert run_until(router, lambda: pending.done) and pending.error is None, pending.error
    p0.send([frame(10)] * 2)
    assert run_until(router, lambda: out.extend(p1.recv()) or len(out) >= 5)
    g = sw.manager.guests[gid]
    got = []
    g.request({"op": "read", "handler": "c.count"}, got.append)
    g.request({"op": "read", "handler": "d.count"}, got.append)
    assert run_until(router, lambda: len(got) == 2)
    assert [r["value"] for r in got] == ["5", "2"], "same guest, its counter kept, the new one counting"
    pending = _write(router, "sw.guest_write", f"{gid} c.reset")
    assert run_until(router, lambda: pending.done) and pending.error is None
    pending = _write(router, "sw.guest_write", f"{gid} nosuch.handler 1")
    assert run_until(router, lambda: pending.done) and "nosuch" in pending.error
    from clickpy.runtime.handlers import HandlerError

    with pytest.raises(HandlerError, match="expected 'TENANT IMAGE'"):
        router.write("sw.reload_tenant", "nobody x.guest")
    with pytest.raises(HandlerError, match="missing.guest"):
        router.write("sw.reload_tenant", f"red {tmp_path / 'missing.guest'}")
