"""100 reloads in a row, and 100 that fail, leak nothing: memory, descriptors,
packet buffers, tasks and timers are measured after a warm-up and again
after the run, and must come back to where they were.

The configurations cycle through every kind of change: a filter replaced, a
queue holding packets given a new class (its packets handed over), a queue
that grows and shrinks (reconfigured in place), an element added and removed,
a queue holding packets removed (its packets freed), and a ControlSocket that
comes and goes (its listening socket opened and closed).
"""
import gc
import os
import tracemalloc

import pytest
from support import build_router, run_for

from clickpy import pipeline
from clickpy.errors import ConfigError
from clickpy.runtime.packet import live_packets
from clickpy.runtime.scheduler import Task, Timer

RELOADS = 102                 # a multiple of the 3-configuration cycle: the run ends where it began
FAILURES = 100
WARM_UP = 12
# Python's allocator keeps a little for itself between snapshots (free lists,
# interned strings, code caches): growth below this over 100 reloads is noise;
# one leaked element, router table or report per reload is well above it.
MEMORY_SLACK = 64 * 1024


def _cycle(socket_path):
    flow = "src :: RatedSource(RATE 3000, LIMIT -1) -> c :: Counter"
    tail = "-> u :: RatedUnqueue(RATE 2950) -> out :: Counter -> Discard;"
    return [
        # A: a ControlSocket, a side queue that only fills (Idle never pulls)
        f"{flow} -> f :: IPFilter(allow all) -> q :: Queue(200) {tail}"
        f"side :: RatedSource(RATE 2000, LIMIT 40) -> held :: Queue(50) -> Idle;"
        f"cs :: ControlSocket(UNIX, {socket_path});",
        # B: f replaced, an element added, q a FrontDropQueue (packets handed over),
        #    the side queue with its packets and the ControlSocket removed
        f"{flow} -> extra :: Counter -> f :: IPFilter(deny dst port 23, allow all) "
        f"-> q :: FrontDropQueue(200) {tail}",
        # C: q a Queue again and larger (then smaller, going back to A: in place)
        f"{flow} -> f :: IPFilter(allow all) -> q :: Queue(400) {tail}"
        f"side :: RatedSource(RATE 2000, LIMIT 40) -> held :: Queue(50) -> Idle;",
    ]


def _broken(socket_path):
    ok = "src :: RatedSource(RATE 3000, LIMIT -1) -> c :: Counter"
    return [
        f"{ok} -> f :: IPFilter(allow all -> q :: Queue(200) -> Discard;",                # syntax
        f"{ok} -> f :: IPFlter(allow all) -> q :: Queue(200) -> Idle;",                   # unknown class
        f"{ok} -> f :: IPFilter(allow all) -> q :: Queue(-4) -> Idle;",                   # bad argument
        # initialize fails after a new ControlSocket has opened its socket
        f"{ok} -> f :: IPFilter(allow all) -> q :: Queue(200) -> Idle;"
        f"cs :: ControlSocket(UNIX, {socket_path}); Idle -> ToDump(/nonexistent/dir/x.pcap);",
    ]


def _plans(texts):
    return [pipeline.plan(pipeline.Source(t, "leaks.click")) for t in texts]


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _queued(router) -> int:
    return sum(int(e.length()) for e in router.elements if callable(getattr(e, "length", None)))


def _schedulables() -> tuple[int, int]:
    """Task and Timer objects alive in this process."""
    gc.collect()
    objects = gc.get_objects()
    return sum(type(o) is Task for o in objects), sum(type(o) is Timer for o in objects)


class Gauge:
    """What a router and this process hold, to compare before and after."""

    def __init__(self, router):
        gc.collect()
        self.memory = tracemalloc.get_traced_memory()[0]
        self.fds = _fds()
        self.buffers = live_packets() - _queued(router)   # buffers not in a queue
        self.tasks, self.timers = _schedulables()
        self.scheduled = router.scheduler.scheduled_tasks
        self.records = len(router.signal_records)
        self.retired = len(router.retired)

    def growth(self, before: "Gauge") -> dict:
        return {k: getattr(self, k) - getattr(before, k) for k in vars(self)}


@pytest.fixture
def traced():
    tracemalloc.start()
    yield
    tracemalloc.stop()


def test_a_hundred_reloads_leak_nothing(tmp_path, traced):
    plans = _plans(_cycle(tmp_path / "ctl"))
    router = build_router(_cycle(tmp_path / "ctl")[0], simulated=True)
    run_for(router, 0.05)
    kinds, handed = set(), []

    def reload_to(k):
        queued = int(router.element("q").length())
        report = router.reload(plans[k % len(plans)])
        kinds.update(a for a in ("replaced", "added", "removed", "reconfigured") if getattr(report, a))
        if "q" in report.replaced:
            handed.append((queued, int(router.element("q").length())))
        run_for(router, 0.02)          # retired elements are cleaned up after the next batches
        return report

    for k in range(1, WARM_UP + 1):    # ends on a reload to plan A, as the run below does
        reload_to(k)
    before = Gauge(router)
    lost = 0
    for k in range(WARM_UP + 1, WARM_UP + 1 + RELOADS):
        lost += reload_to(k).lost
    assert (WARM_UP + RELOADS) % len(plans) == 0
    after = Gauge(router)
    growth = after.growth(before)
    print("growth over", RELOADS, "reloads:", growth)

    assert kinds == {"replaced", "added", "removed", "reconfigured"}
    assert lost > 0                    # the removed side queue held packets: they were freed
    assert all(a == b for a, b in handed) and sum(a for a, _ in handed) > 0  # q handed its packets on
    assert growth["fds"] == 0 and growth["buffers"] == 0
    assert growth["tasks"] == 0 and growth["timers"] == 0 and growth["scheduled"] == 0
    assert growth["records"] == 0 and after.retired == 0
    assert growth["memory"] < MEMORY_SLACK, growth
    assert int(router.read("out.count")) > 0 and router.element("cs") is not None


def test_a_hundred_failed_reloads_leak_nothing_and_change_nothing(tmp_path, traced):
    router = build_router(_cycle(tmp_path / "ctl")[0], simulated=True)
    broken = [pipeline.Source(t, "broken.click") for t in _broken(tmp_path / "other.ctl")]
    run_for(router, 0.05)

    def fail(k):
        with pytest.raises(ConfigError) as e:
            router.reload(pipeline.plan(broken[k % len(broken)]))
        run_for(router, 0.02)
        return str(e.value)

    for k in range(WARM_UP):
        fail(k)
    elements = list(router.elements)
    before = Gauge(router)
    counted = int(router.read("out.count"))
    errors = {fail(k).split(":")[0] for k in range(FAILURES)}
    after = Gauge(router)
    growth = after.growth(before)
    print("growth over", FAILURES, "failed reloads:", growth)

    assert errors == {"broken.click"}                 # every error names the new file
    assert router.elements == elements
    assert int(router.read("out.count")) > counted    # still forwarding
    assert not os.path.exists(tmp_path / "other.ctl")
    assert growth["fds"] == 0 and growth["buffers"] == 0
    assert growth["tasks"] == 0 and growth["timers"] == 0 and growth["scheduled"] == 0
    assert growth["records"] == 0 and after.retired == 0
    assert growth["memory"] < MEMORY_SLACK, growth
