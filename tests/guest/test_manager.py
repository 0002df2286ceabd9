"""GuestManager: guests forked from the zygote, forwarding over pipe rings, obeying, dying and coming back."""
import os
import signal

from guest_harness import BUMP, exchange, spec

from clickpy.guest.manager import GONE, READY

FRAME = bytes(range(14)) + bytes(46)


def test_guest_forwards_and_answers(driver, manager):
    g = manager.start(spec())
    assert driver.until(lambda: g.state == READY), g.last_error
    frames = [FRAME[:-1] + bytes([i]) for i in range(20)]
    assert exchange(driver, g, frames) == frames
    assert driver.ask(g, {"op": "read", "handler": "c.count"})["value"] == "20"
    stats = driver.ask(g, {"op": "stats"})
    assert (stats["rx"], stats["tx"], stats["drops"]) == (20, 20, 0)
    assert 0 < stats["uss"] < stats["rss"]
    assert driver.ask(g, {"op": "write", "handler": "c.reset", "value": ""})["op"] == "written"
    assert driver.ask(g, {"op": "read", "handler": "c.count"})["value"] == "0"


def test_a_pooled_sandbox_starts_the_guest(driver, manager):
    assert driver.until(lambda: manager.pool and manager.pool[0].state == "idle")
    pooled = manager.pool[0]
    g = manager.start(spec())
    assert g is pooled
    assert driver.until(lambda: g.state == READY)
    assert driver.until(lambda: len(manager.pool) == 1), "the pool is refilled"


def test_bad_requests_get_errors_and_the_guest_forwards_on(driver):
    from clickpy.guest.manager import GuestManager

    m = GuestManager(driver.scheduler, 2, pool_size=0)
    try:
        g = m.start(spec(exports=["c.count"]))
        assert driver.until(lambda: g.state == READY)
        for bad in ({"op": "read", "handler": "c.reset"}, {"op": "write", "handler": "c.count", "value": "1"},
                    {"op": "read", "handler": 7}, {"op": "fly"}, {"op": "reload", "plan": b"junk"},
                    {"op": "write", "handler": "c.count", "value": ["x"]}, {"nothing": 1}):
            reply = driver.ask(g, bad)
            assert reply["op"] == "error", (bad, reply)
        assert driver.ask(g, {"op": "read", "handler": "c.count"})["value"] == "0"
        assert exchange(driver, g, [FRAME]) == [FRAME]
    finally:
        m.close()


def test_a_killed_guest_is_restarted_and_forwards_again(driver, manager):
    exits = []
    g = manager.start(spec(), on_exit=lambda g, why: exits.append(why))
    assert driver.until(lambda: g.state == READY)
    first_pid = g.pid
    os.kill(g.pid, signal.SIGKILL)
    assert driver.until(lambda: g.state == READY and g.pid != first_pid), g.last_error
    assert exits == ["killed by SIGKILL"]
    assert g.restarts == 1 and manager.counts["killed"] == 1 and manager.counts["restarted"] == 1
    assert exchange(driver, g, [FRAME] * 3) == [FRAME] * 3


def test_a_killed_sandboxed_guest_gives_the_switch_back_every_buffer_it_held(driver):
    # The guest is pid 1 of its own PID namespace and is killed mid-stream:
    # its grant, its packets and its rings' buffers all come back to this process.
    from clickpy.guest.manager import GuestManager
    from clickpy.runtime import packet

    before = packet.small_pool_census()
    m = GuestManager(driver.scheduler, 2, pool_size=0, backoff_initial=0.05)
    try:
        g = m.start(spec())
        assert driver.until(lambda: g.state == READY), g.last_error
        first_pid, domain = g.pid, g.domain
        assert domain and packet.small_pool_lent(domain) == 2 * (2 * m.slots + m.grant)   # rings and grants
        assert exchange(driver, g, [FRAME] * 50) == [FRAME] * 50
        assert g.ports[0].send([FRAME] * 20) == 20        # in flight when it dies
        os.kill(g.pid, signal.SIGKILL)
        assert driver.until(lambda: g.state == READY and g.pid != first_pid), g.last_error
        # the new guest holds exactly a fresh guest's buffers (its domain may be the old one, reused)
        assert packet.small_pool_lent(g.domain) == 2 * (2 * m.slots + m.grant)
        assert g.domain == domain or packet.small_pool_lent(domain) == 0
        assert m.counts["unreclaimed"] == 0
        assert exchange(driver, g, [FRAME] * 3) == [FRAME] * 3
    finally:
        m.close()
    assert m.counts["unreclaimed"] == 0
    assert packet.small_pool_census() == before


def _favour_mounted() -> bool:
    from clickpy.guest.sandbox import FAVOR_FOLDER

    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == f"{FAVOR_FOLDER}/favor-{os.getpid()}" for line in f)


def test_the_kernel_favours_cgroup_moves_while_a_sandboxing_manager_lives(driver):
    from clickpy.guest.manager import GuestManager

    plain = GuestManager(driver.scheduler, 2, pool_size=0, fast_cgroup_moves=False)
    try:
        assert not plain.fast_cgroup_moves and not _favour_mounted()
    finally:
        plain.close()
    m = GuestManager(driver.scheduler, 2, pool_size=0)
    try:
        assert m.fast_cgroup_moves and _favour_mounted(), m.last_error
        g = m.start(spec())
        assert driver.until(lambda: g.state == READY), g.last_error
        assert exchange(driver, g, [FRAME] * 3) == [FRAME] * 3
    finally:
        m.close()
    assert not m.fast_cgroup_moves and not _favour_mounted()


def test_guests_run_nicer_than_the_switch(driver, manager):
    from clickpy.guest.zygote import GUEST_NICE

    g = manager.start(spec())
    assert driver.until(lambda: g.state == READY), g.last_error
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, g.pid) == min(19, mine + GUEST_NICE)


def test_a_guest_whose_plan_cannot_run_fails_and_is_not_restarted(driver, manager):
    g = manager.start(spec("FromDevice(inside) -> Queue -> ToDevice(outside); "
                           "FromDump(/nonexistent/x.pcap) -> Discard;"))
    assert driver.until(lambda: g.state == GONE)
    assert "t.click:1:51: While initializing 'FromDump@4 :: FromDump'" in g.last_error
    assert "/nonexistent/x.pcap: No such file or directory" in g.last_error
    assert manager.counts["failed"] == 1 and manager.counts["restarted"] == 0


def test_reload_keeps_the_guests_state(driver, manager):
    g = manager.start(spec())
    assert driver.until(lambda: g.state == READY)
    assert len(exchange(driver, g, [FRAME] * 4)) == 4
    bigger = BUMP.replace("c :: Counter ->", "c :: Counter -> Paint(3) -> d :: Counter ->")
    reply = driver.ask(g, {"op": "reload", "plan": spec(bigger).plan})
    assert reply["op"] == "reloaded", reply
    assert len(exchange(driver, g, [FRAME] * 2)) == 2
    assert driver.ask(g, {"op": "read", "handler": "c.count"})["value"] == "6"
    assert driver.ask(g, {"op": "read", "handler": "d.count"})["value"] == "2"


def test_stop_ends_the_guest(driver, manager):
    exits = []
    g = manager.start(spec(), on_exit=lambda g, why: exits.append(why))
    assert driver.until(lambda: g.state == READY)
    pid = g.pid
    manager.stop(g)
    assert driver.until(lambda: g.state == GONE)
    assert exits == ["stopped"] and manager.counts["stopped"] == 1
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_guests_of_a_prepared_image_only_initialize_and_keep_their_own_state(driver):
    from clickpy.guest.manager import GuestManager

    s = spec()
    m = GuestManager(driver.scheduler, 2, pool_size=1, images=[s])
    try:
        a, b = m.start(s), m.start(s)
        assert driver.until(lambda: a.state == READY and b.state == READY)
        assert a.prepared and b.prepared and a.pid != b.pid
        assert len(exchange(driver, a, [FRAME] * 3)) == 3
        assert len(exchange(driver, b, [FRAME] * 1)) == 1
        assert driver.ask(a, {"op": "read", "handler": "c.count"})["value"] == "3"
        assert driver.ask(b, {"op": "read", "handler": "c.count"})["value"] == "1"
        other = m.start(spec(BUMP.replace("Counter", "Counter -> Null")))
        assert driver.until(lambda: other.state == READY)
        assert not other.prepared, "an image the zygote never saw is built from its Plan"
        assert len(exchange(driver, other, [FRAME])) == 1
    finally:
        m.close()


def test_starts_beyond_max_starting_wait_their_turn_in_order(driver):
    from clickpy.guest.manager import QUEUED, GuestManager

    m = GuestManager(driver.scheduler, 2, pool_size=0, max_starting=1)
    try:
        guests = [m.start(spec()) for _ in range(4)]
        assert [g.state for g in guests[1:]] == [QUEUED] * 3 and not guests[1].ports
        dropped = guests[3]
        m.stop(dropped)
        ready_order = []
        for g in guests[:3]:
            g.on_ready = ready_order.append
        assert driver.until(lambda: all(g.state == READY for g in guests[:3]))
        assert ready_order == guests[:3] and dropped.state == GONE
        assert not m.queue and not m.starting
        assert exchange(driver, guests[2], [FRAME]) == [FRAME]
    finally:
        m.close()


def test_a_start_short_of_buffers_waits_for_a_guest_to_give_some_back(driver):
    from clickpy.guest.manager import QUEUED, GuestManager
    from clickpy.runtime import packet

    free = packet.small_pool_census()[0]
    slots = 64
    grant = free // 4 + 1 - 2 * slots      # a guest's two pairs take more than half the free buffers
    m = GuestManager(driver.scheduler, 2, pool_size=0, slots=slots, grant=grant)
    try:
        first, second = m.start(spec()), m.start(spec())
        assert second.state == QUEUED and not second.ports and "buffers" in m.last_error
        assert driver.until(lambda: first.state == READY), first.last_error
        assert second.state == QUEUED and m.counts["spawned"] == 1
        m.stop(first)
        assert driver.until(lambda: second.state == READY), second.last_error
        assert exchange(driver, second, [FRAME] * 3) == [FRAME] * 3
    finally:
        m.close()
    assert packet.small_pool_census()[0] == free


def test_a_guest_over_its_memory_cap_is_killed_reported_and_restarted(driver):
    """A guest that outgrows its cap (here: reloaded with 12,000 more elements than its 24 MiB hold) is
    killed by the kernel, reported as such, and started again; the manager forwards on."""
    from clickpy.guest.manager import GuestManager

    m = GuestManager(driver.scheduler, 2, pool_size=0, backoff_initial=0.05)
    try:
        g = m.start(spec(memory_cap=24 << 20))
        assert driver.until(lambda: g.state == READY)
        cgroup_path = g.cgroup.path
        big = spec(BUMP + "".join(f"i{i} :: Idle -> d{i} :: Discard;\n" for i in range(12000)))
        reply = driver.ask(g, {"op": "reload", "plan": big.plan}, timeout=60)
        assert reply["op"] == "error" and "exited" in reply["error"]
        assert g.exits[-1][1] == "killed at its memory cap (24 MiB)"
        assert m.counts["memory_cap"] == 1
        assert driver.until(lambda: g.state == READY and g.restarts == 1)
        assert not cgroup_path.exists(), "the dead guest's cgroup is removed"
        assert exchange(driver, g, [FRAME]) == [FRAME]
    finally:
        m.close()


def test_a_guest_cannot_open_a_host_interface(driver, manager):
    """Its configuration may name one, but in its sandbox (own network namespace, no new sockets) the
    device cannot be opened: the guest fails with the reason and is not restarted."""
    s = spec(BUMP + "FromDevice(lo, METHOD AFPACKET) -> Discard;")
    s.ports = ["inside", "outside"]       # the switch attaches two; 'lo' is left to the host
    g = manager.start(s)
    assert driver.until(lambda: g.state == GONE)
    # (the backend cannot even look the name up: that takes a socket, which the filter refuses)
    assert "While initializing 'FromDevice@8 :: FromDevice'" in g.last_error
    assert "afpacket:lo: cannot look up network interfaces here: Operation not permitted" in g.last_error
    assert manager.counts["failed"] == 1


def test_warm_guests_are_handed_out_ready_and_replaced(driver):
    from clickpy.guest.manager import GuestManager

    s = spec()
    m = GuestManager(driver.scheduler, 2, pool_size=0)
    try:
        m.keep_warm(s, 2)
        assert driver.until(lambda: len(m.warm[s.image_id]) == 2)
        g = m.start(s, key="k1")
        assert g.state == READY and g.key == "k1", "ready at once"
        assert exchange(driver, g, [FRAME] * 2) == [FRAME] * 2
        assert driver.until(lambda: len(m.warm[s.image_id]) == 2), "a new one takes its place"
        assert g not in m.warm[s.image_id]
        os.kill(m.warm[s.image_id][0].pid, signal.SIGKILL)
        assert driver.until(lambda: len(m.warm[s.image_id]) == 2 and all(w.pid for w in m.warm[s.image_id]))
        assert m.counts["killed"] == 0, "a warm guest that dies is replaced, not restarted as a tenant's"
    finally:
        m.close()


def test_a_guest_runs_its_images_specialised_module_without_compiling(driver, tmp_path, monkeypatch):
    # The image carries the compiled module; the zygote loads it for the
    # image's guests (prepared or built from the Plan): none compiles.
    from clickpy import spec_cache
    from clickpy.guest.image import GuestImage, build, specialized_of
    from clickpy.guest.manager import GuestManager
    from clickpy.plan import Plan

    monkeypatch.setenv("CLICKPY_CACHE_DIR", str(tmp_path / "cache"))
    s = spec("""FromDevice(inside) -> f :: Classifier(12/0800, -) -> Queue -> ToDevice(outside);
                f[1] -> d :: Counter -> Discard;
                FromDevice(outside) -> Discard;""")
    plan = Plan.unpack(s.plan)
    image = GuestImage.unpack(build(plan, specialized=specialized_of(plan)).pack())
    spec_cache.clear()                                # only the image has the module now
    s.specialized = image.specialized_module()
    assert s.specialized is not None
    m = GuestManager(driver.scheduler, 2, pool_size=0, images=[s])
    try:
        a = m.start(s)
        assert driver.until(lambda: a.state == READY), a.last_error
        b = m.start(s)
        assert driver.until(lambda: b.state == READY), b.last_error
        ip = FRAME[:12] + b"\x08\x00" + FRAME[14:]
        for g in (a, b):
            assert driver.ask(g, {"op": "read", "handler": "f.specialized"})["value"] == "true"
            assert g.ports[0].send([FRAME]) == 1                      # not IP: to d
            assert exchange(driver, g, [ip]) == [ip]                  # (after it, in order)
            assert driver.ask(g, {"op": "read", "handler": "d.count"})["value"] == "1"
        assert spec_cache.entries() == [] and not m.image_errors
    finally:
        m.close()
