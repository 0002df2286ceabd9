"""Router.reload: the same objects keep running, new ones are built beside them,
the swap is all or nothing, and a broken configuration changes nothing."""
import pytest
from support import build_router, run_for

from clickpy.errors import ConfigError
from clickpy.runtime.args import Arg, Word
from clickpy.runtime.element import Element

# A steady flow in simulated time: 1000 packets a second into a queue drained by Unqueue.
FLOW = ("src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> q :: Queue(100) "
        "-> u :: Unqueue -> f :: IPFilter(allow all) -> out :: Counter -> Discard;")


def _flowing():
    r = build_router(FLOW, simulated=True)
    run_for(r, 0.1)
    return r


def _count(r, name="out"):
    return int(r.read(f"{name}.count"))


def test_an_unchanged_configuration_keeps_every_object_and_every_count():
    r = _flowing()
    before = {e.name: e for e in r.elements}
    counted = _count(r, "c")
    report = r.reload(FLOW)
    assert len(report.kept) == len(before) and not (report.replaced or report.added or report.removed)
    assert {e.name: e for e in r.elements} == before
    assert _count(r, "c") == counted                     # no counter reset
    run_for(r, 0.1)
    assert _count(r, "c") >= counted + 99


def test_a_changed_filter_is_replaced_and_traffic_follows_the_new_rule():
    r = _flowing()
    src, queue, counter = r.element("src"), r.element("q"), r.element("out")
    passed = _count(r)
    report = r.reload(FLOW.replace("allow all", "deny all"))
    assert report.replaced == ["f"] and "u" in report.rewired
    assert r.element("src") is src and r.element("q") is queue and r.element("out") is counter
    assert r.element("f").config == "deny all"
    run_for(r, 0.1)
    assert _count(r) == passed                           # the new filter drops everything
    assert _count(r, "c") > 150                          # while the source runs on
    assert report.pause_us > 0 and report.lost == 0


def test_a_queue_given_a_new_class_hands_over_its_packets_and_its_puller_still_wakes():
    r = build_router("src :: RatedSource(RATE 1000, LIMIT 50, STOP false) -> q :: Queue(100) "
                     "-> u :: RatedUnqueue(RATE 10) -> out :: Counter -> Discard;", simulated=True)
    run_for(r, 0.1)
    queued = int(r.read("q.length"))
    assert queued > 30
    report = r.reload("src :: RatedSource(RATE 1000, LIMIT 50, STOP false) -> q :: FrontDropQueue(100) "
                      "-> u :: RatedUnqueue(RATE 10) -> out :: Counter -> Discard;")
    assert report.replaced == ["q"] and report.lost == 0
    assert int(r.read("q.length")) == queued
    run_for(r, 10)
    # u kept its object, and its signal now watches the new queue: all 50 arrive.
    assert _count(r) == 50 and r.read("q.length") == "0"


def test_an_inserted_element_sees_the_traffic_and_unnamed_elements_keep_their_state():
    r = build_router("src :: RatedSource(RATE 1000, LIMIT -1) -> Counter -> Discard;", simulated=True)
    run_for(r, 0.1)
    anonymous = r.element("Counter@2")
    counted = int(anonymous.count)
    report = r.reload("src :: RatedSource(RATE 1000, LIMIT -1) -> p :: Counter -> Counter -> Discard;")
    assert report.added == ["p"]
    assert r.element("Counter@3") is anonymous           # renumbered, the same object
    run_for(r, 0.1)
    assert int(r.read("p.count")) >= 99
    assert int(anonymous.count) >= counted + 99


def test_a_removed_source_never_runs_again_and_a_removed_queue_counts_as_lost():
    r = build_router("a :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> Discard;"
                     "b :: RatedSource(RATE 1000, LIMIT -1) -> q :: Queue(1000) -> Idle;", simulated=True)
    run_for(r, 0.1)
    held = int(r.read("q.length"))
    old_b = r.element("b")
    report = r.reload("a :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> Discard;")
    assert sorted(report.removed) == ["Idle@6", "b", "q"] and report.lost == held
    assert r.element("b") is None and r.scheduler.owned(old_b) == []
    before = int(r.read("c.count"))
    run_for(r, 0.1)
    assert int(r.read("c.count")) >= before + 99          # the kept source runs on
    assert [e.name for e in r.elements] == ["a", "c", "Discard@3"]


def test_a_queue_that_grows_is_reconfigured_in_place_with_its_packets():
    r = build_router("src :: RatedSource(RATE 1000, LIMIT 30, STOP false) -> q :: Queue(100) -> Idle;",
                     simulated=True)
    run_for(r, 0.1)
    q = r.element("q")
    report = r.reload("src :: RatedSource(RATE 1000, LIMIT 30, STOP false) -> q :: Queue(500) -> Idle;")
    assert report.reconfigured == ["q"] and r.element("q") is q
    assert r.read("q.capacity") == "500" and r.read("q.length") == "30"
    r.reload("src :: RatedSource(RATE 1000, LIMIT 30, STOP false) -> q :: Queue(100) -> Idle;")  # cleanup


@pytest.mark.parametrize("broken, where", [
    ("src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> ;", "new.click:1:"),          # syntax
    ("src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Countr -> Discard;", "new.click:1:"),    # unknown class
    ("src :: RatedSource(RATE many) -> c :: Counter -> Discard;", "new.click:1:1"),            # bad argument
    ("src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> ToDump(/nonexistent/x.pcap);",
     "new.click:1:"),                                                                           # initialize fails
])
def test_a_broken_configuration_changes_nothing_and_says_where(broken, where):
    from clickpy import pipeline

    r = build_router("src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> Discard;", simulated=True)
    run_for(r, 0.1)
    elements = list(r.elements)
    with pytest.raises(ConfigError) as e:
        r.reload(pipeline.plan(pipeline.Source(broken, "new.click")))
    assert where in str(e.value)
    assert r.elements == elements and r.read("c.config") == ""
    before = int(r.read("c.count"))
    run_for(r, 0.1)
    assert int(r.read("c.count")) >= before + 99          # still forwarding


class ReloadTestStubbornState(Element):
    """Takes state by refusing it: a failure inside the swap."""

    port_count = "1/1"
    processing = "a"
    arguments = (Arg("TAG", Word, "", positional=True),)

    def take_state(self, old, errh):
        errh.error("cannot take this state")


def test_a_failure_inside_the_swap_rolls_everything_back():
    r = build_router("src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> q :: Queue(100) "
                     "-> s :: ReloadTestStubbornState -> u :: Unqueue -> Discard;", simulated=True)
    run_for(r, 0.1)
    elements, q = list(r.elements), r.element("q")
    wiring = r.element("c").output_peer(0)
    with pytest.raises(ConfigError, match="cannot take this state"):
        # q grows (reconfigured in place, then undone), s is replaced and refuses, a counter is added
        r.reload("src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> n :: Counter -> q :: Queue(200) "
                 "-> s :: ReloadTestStubbornState(x) -> u :: Unqueue -> Discard;")
    assert r.elements == elements and r.element("n") is None
    assert r.element("c").output_peer(0) == wiring and r.read("q.capacity") == "100" and r.element("q") is q
    before = int(r.read("c.count"))
    run_for(r, 0.1)
    assert int(r.read("c.count")) >= before + 99


def test_a_failed_swap_puts_the_old_graphs_fused_chains_back(tmp_path, monkeypatch):
    from clickpy import spec_cache, specialize
    from clickpy.runtime import fusion

    monkeypatch.setenv("CLICKPY_CACHE_DIR", str(tmp_path))
    config = "src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> q :: Queue(100) " \
             "-> s :: ReloadTestStubbornState -> u :: Unqueue -> Discard;"
    r = build_router(config, simulated=True)
    assert specialize.install(r, spec_cache.load(r.plan))["chains"] == 1   # src -> c -> q
    src = r.element("src")
    with pytest.raises(ConfigError, match="cannot take this state"):
        r.reload(config.replace("ReloadTestStubbornState", "ReloadTestStubbornState(x)"))
    assert fusion.output_is_fused(src, 0) and len(r.fused_chains) == 1
    run_for(r, 0.1)
    assert int(r.read("c.count")) >= 99


def test_new_driver_scripts_steer_the_driver_and_removed_ones_do_not():
    r = build_router("src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> Discard;"
                     "DriverManager(wait 100s, stop)", simulated=True)
    run_for(r, 0.1)
    r.reload("src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> Discard;"
             "d :: DriverManager(wait 0.5s, stop)")
    assert r.stop_hooks == [r.element("d")._hook]
    start = r.now()
    r.run()                                                   # the new script stops it after 0.5 s
    assert r.now() - start == 500_000_000


def test_a_reload_between_batches_of_a_running_router():
    """A timer in the running router reloads it: the new graph starts with the next batch."""
    from clickpy.runtime.scheduler import Timer

    r = _flowing()
    reports = []
    t = Timer(callback=lambda timer: reports.append(r.reload(FLOW.replace("allow all", "allow src host 1.2.3.4"))))
    t.initialize(r.scheduler)
    t.schedule_after(0.05)
    run_for(r, 0.1)
    assert reports and reports[0].replaced == ["f"]
    assert r.element("f").config == "allow src host 1.2.3.4"


class ReloadTestBrokenState(Element):
    """take_state with a bug in it: an exception half way."""

    port_count = "1/1"
    processing = "a"
    arguments = (Arg("TAG", Word, "", positional=True),)

    def take_state(self, old, errh):
        raise KeyError("oops")


def test_an_exception_in_take_state_rolls_back_and_names_the_element():
    r = build_router("src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> b :: ReloadTestBrokenState "
                     "-> Discard;", simulated=True)
    run_for(r, 0.1)
    elements = list(r.elements)
    with pytest.raises(ConfigError, match=r"While taking state for 'b :: ReloadTestBrokenState':\n  internal "
                                          r"error: KeyError\('oops'\)"):
        r.reload("src :: RatedSource(RATE 1000, LIMIT -1) -> c :: Counter -> b :: ReloadTestBrokenState(x) "
                 "-> Discard;")
    assert r.elements == elements
    before = int(r.read("c.count"))
    run_for(r, 0.1)
    assert int(r.read("c.count")) >= before + 99
