"""Pull schedulers and switches: PrioSched, RoundRobinSched, StrideSched,
TimeSortedSched, PullSwitch, SimplePullSwitch; and how pullers sleep behind them."""
import pytest
from harness import run_router
from support import build_router, run_config

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError


def three_queues(sched, burst=1, extra=""):
    return (f"a :: HarnessFeed(a1, a2, a3) -> qa :: Queue -> [0] s :: {sched};"
            " b :: HarnessFeed(b1, b2, b3) -> qb :: Queue -> [1] s;"
            " c :: HarnessFeed(c1, c2, c3) -> qc :: Queue -> [2] s;"
            f" s -> u :: Unqueue(false, BURST {burst}) -> rec :: HarnessRecord(9); {extra}"
            # the puller starts once every queue is full
            " Script(wait 1s, write u.active true, wait 1s)")


def order(r):
    return [x.data.hex() for x in r.element("rec").log]


@pytest.mark.parametrize("burst", [1, 32])
def test_prio_sched_empties_input_0_first(burst):
    assert order(run_router(three_queues("PrioSched", burst))) == ["a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2", "c3"]


@pytest.mark.parametrize("burst", [1, 32])
def test_round_robin_sched_takes_inputs_in_turn(burst):
    assert order(run_router(three_queues("RoundRobinSched", burst))) == [
        "a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3", "c3"]


def test_round_robin_sched_skips_empty_inputs():
    r = run_router("a :: HarnessFeed(a1, a2, a3) -> qa :: Queue -> [0] s :: RoundRobinSched;"
                   " Idle -> [1] s; b :: HarnessFeed(b1) -> qb :: Queue -> [2] s;"
                   " s -> Unqueue -> rec :: HarnessRecord(4)")
    assert order(r) == ["a1", "b1", "a2", "a3"]


def test_stride_sched_follows_clicks_sequence():
    # Click's StrideSched-01.
    r = run_config("i1 :: InfiniteSource(\\<11>, LIMIT 10); i2 :: InfiniteSource(\\<22>, LIMIT 10);"
                   " i3 :: InfiniteSource(\\<33>, LIMIT 10, STOP true); ss :: StrideSched(4, 2, 1);"
                   " i1 -> [0] ss; i2 -> [1] ss; i3 -> [2] ss; ss -> Print -> Discard")
    got = [l.split("|")[1].strip() for l in r.stderr.splitlines() if "|" in l]
    assert "".join(x[0] for x in got) == "112112311211231122322322333333"


def test_stride_sched_tickets_handlers():
    r = build_router("Idle -> [0] s :: StrideSched(4, 2); Idle -> [1] s; s -> Discard")
    assert (r.read("s.tickets0"), r.read("s.tickets1"), r.read("s.config")) == ("4", "2", "4, 2")
    r.write("s.tickets1", "0")
    assert r.read("s.config") == "4, 0"
    r.write("s.tickets1", "100000")    # capped
    assert r.read("s.tickets1") == "32768"
    with pytest.raises(HandlerError, match="tickets value must be integer"):
        r.write("s.tickets0", "many")
    with pytest.raises(HandlerError, match="must be >= 0"):
        r.write("s.tickets0", "-1")
    r.write("s.config", "1, 3")
    assert r.read("s.config") == "1, 3"


def test_stride_sched_zero_tickets_never_pulls():
    r = run_router("a :: HarnessFeed(a1, a2) -> qa :: Queue -> [0] s :: StrideSched(0, 1);"
                   " b :: HarnessFeed(b1, b2) -> qb :: Queue -> [1] s;"
                   " s -> Unqueue -> rec :: HarnessRecord(2)")
    assert order(r) == ["b1", "b2"] and r.read("qa.length") == "2"


def test_stride_sched_arguments():
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> [0] s :: StrideSched(1); Idle -> [1] s; s -> Discard")
    assert "need 2 arguments, one per input port" in str(e.value)
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> [0] s :: StrideSched(1, x); Idle -> [1] s; s -> Discard")
    assert "argument 1 should be number of tickets (integer)" in str(e.value)
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> [0] s :: StrideSched(-1, 1); Idle -> [1] s; s -> Discard")
    assert "argument 0 (number of tickets) must be >= 0" in str(e.value)


def test_time_sorted_sched_order_and_well_ordered():
    cfg = ("a :: HarnessFeed(0a@10, 01@1, 0c@12) -> qa :: Queue -> [0] t :: TimeSortedSched(BUFFER {b});"
           " b :: HarnessFeed(02@2, 0b@11, 0d@13) -> qb :: Queue -> [1] t;"
           " t -> u :: Unqueue(false) -> rec :: HarnessRecord(6); Script(wait 1s, write u.active true, wait 1s)")
    r = run_router(cfg.format(b=1))
    assert order(r) == ["02", "0a", "01", "0b", "0c", "0d"]
    assert r.read("t.well_ordered") == "false"
    r = run_router(cfg.format(b=2))
    assert order(r) == ["01", "02", "0a", "0b", "0c", "0d"]
    assert r.read("t.well_ordered") == "true"


def test_time_sorted_sched_wakes_the_puller_when_a_queue_fills():
    # Click's notifier-01, in short: a stream that starts late still gets through.
    r = run_router("a :: HarnessFeed(01@1, 02@2) -> qa :: Queue -> [0] t :: TimeSortedSched;"
                   " late :: HarnessFeed(03@3); late -> ql :: Queue -> [1] t;"
                   " t -> u :: Unqueue -> rec :: HarnessRecord(3)")
    assert order(r) == ["01", "02", "03"]


def test_time_sorted_sched_stop_and_buffer_error():
    r = run_config("InfiniteSource(LIMIT 3) -> q :: Queue -> t :: TimeSortedSched(STOP true)"
                   " -> c :: Counter -> Discard", "-h", "c.count")
    assert r.returncode == 0 and r.stdout == "3\n"
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> TimeSortedSched(BUFFER 0) -> Discard")
    assert "BUFFER must be at least 1" in str(e.value)


def test_pull_switch_switches_inputs():
    r = run_router("a :: HarnessFeed(a1, a2) -> qa :: Queue -> [0] s :: PullSwitch(1);"
                   " b :: HarnessFeed(b1, b2) -> qb :: Queue -> [1] s;"
                   " s -> Unqueue -> rec :: HarnessRecord(4);"
                   " Script(wait 1s, write s.switch 0, wait 1s)")
    assert order(r) == ["b1", "b2", "a1", "a2"]
    assert r.read("s.switch") == "0" and r.read("s.config") == "0"
    r.write("s.switch", "5")
    assert r.read("s.switch") == "-1"
    with pytest.raises(HandlerError, match="syntax error"):
        r.write("s.switch", "x")


def test_pull_switch_notifier_puts_the_puller_to_sleep():
    # Click's notifier-04: the puller sleeps on an Idle input and wakes when switched.
    r = run_config(
        "i :: InfiniteSource(LIMIT 15) -> c :: Counter -> q :: FullNoteQueue(5) -> s :: PullSwitch(1)"
        " -> Counter(COUNT_CALL 2 s.switch 1) -> d :: Discard; Idle -> [1] s;"
        " DriverManager(wait 0.1s, print i.scheduled, print c.count, print d.scheduled, write s.switch 0,"
        " wait 0.1s, print i.scheduled, print d.scheduled, stop)", "--simtime", "-h", "c.count")
    assert r.stdout.split() == ["false", "5", "false", "false", "false", "7"]


def test_simple_pull_switch_switches_inputs():
    r = run_router("a :: HarnessFeed(a1) -> qa :: Queue -> [0] s :: SimplePullSwitch(1);"
                   " b :: HarnessFeed(b1) -> qb :: Queue -> [1] s;"
                   " s -> u :: Unqueue(BURST 32) -> rec :: HarnessRecord(1)")
    assert order(r) == ["b1"]
    # The puller spins while a1 waits on the unselected input (the queues'
    # signals are all it has, as in Click); pull by hand after switching.
    r.write("s.switch", "0")
    assert r.element("s").pull_packet(0).data == b"\xa1"
    r.write("s.switch", "-1")
    assert r.read("s.config") == "-1"
    with pytest.raises(HandlerError, match="syntax error"):
        r.write("s.switch", "x")


def test_simple_pull_switch_puller_listens_to_every_input():
    # No notifier of its own: the search passes through to the queues of all
    # inputs, so the puller also wakes for a packet on the unselected input.
    r = build_router("Idle -> qa :: Queue -> [0] s :: SimplePullSwitch(0); Idle -> qb :: Queue -> [1] s;"
                     " s -> u :: Unqueue -> Discard", simulated=True)
    sig = r.upstream_empty_signal(r.element("u"), 0)
    assert len(sig.notifiers if hasattr(sig, "notifiers") else repr(sig).split(",")) == 2


@pytest.mark.parametrize("sched", ["PrioSched", "RoundRobinSched", "StrideSched(1, 1)", "TimeSortedSched",
                                   "PullSwitch", "SimplePullSwitch"])
def test_pullers_behind_schedulers_sleep_when_the_queues_are_empty(sched):
    r = build_router(f"Idle -> q0 :: Queue -> [0] s :: {sched}; Idle -> q1 :: Queue -> [1] s;"
                     " s -> u :: Unqueue -> Discard; DriverManager(wait 1s, stop)", simulated=True)
    r.run()
    u = r.element("u").task
    assert u.runs < 50 and not u.scheduled


@pytest.mark.parametrize("sched", ["PrioSched", "RoundRobinSched", "StrideSched(1, 1)", "TimeSortedSched",
                                   "PullSwitch(1)"])
def test_a_queue_getting_a_packet_wakes_the_puller(sched):
    r = run_router(f"Idle -> q0 :: Queue -> [0] s :: {sched};"
                   " src :: InfiniteSource(\\<99>, LIMIT 1, ACTIVE false) -> q1 :: Queue -> [1] s;"
                   " s -> u :: Unqueue -> rec :: HarnessRecord(1);"
                   " Script(wait 1s, write src.active true, wait 1s)")
    assert order(r) == ["99"]
