"""Shaper, BandwidthShaper, DelayUnqueue, DelayShaper and LinkUnqueue, in simulated time."""
import pytest

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError

MS = 1_000_000


# --- Shaper / BandwidthShaper (Click's GapRate) -------------------------------------------


def test_shaper_rates(sim):
    # TimedSink pulls every millisecond; the shaper lets RATE per second through.
    for rate, expected in ((1000, 150), (500, 76), (250, 38)):
        s = sim(f"InfiniteSource -> s :: Shaper({rate}) -> c :: Counter -> TimedSink(1ms)").run(0.1505)
        assert s.read("c.count") == str(expected), rate


def test_shaper_rate_zero_lets_at_most_one_through(sim):
    s = sim("InfiniteSource -> s :: Shaper(0) -> c :: Counter -> TimedSink(1ms)").run(1)
    assert int(s.read("c.count")) <= 1


def test_shaper_output_1_gets_only_unshaped_packets(sim):
    s = sim("i :: InfiniteSource -> s :: Shaper(250);"
            "s [0] -> c0 :: Counter -> TimedSink(1ms); s [1] -> c1 :: Counter -> TimedSink(1ms)").run(0.1505)
    assert s.read("c0.count") == "38"
    # Output 1 is pulled right after output 0 took its turn: it never meets the condition.
    assert s.read("c1.count") == "150"
    assert s.read("i.count") == "188"


def test_shaper_handlers(sim):
    s = sim("InfiniteSource -> s :: Shaper(1000) -> c :: Counter -> TimedSink(1ms)")
    assert s.read("s.rate") == "1000"
    assert s.read("s.config") == "1000"
    s.write("s.rate", "100")
    s.write("s.reset")
    assert s.read("s.rate") == "100"
    assert s["s"].config == "100"
    s.run(1.0005)
    assert 99 <= int(s.read("c.count")) <= 101
    with pytest.raises(HandlerError):
        s.write("s.rate", "lots")
    assert s.read("s.rate") == "100"


def test_bandwidth_shaper(sim):
    s = sim("InfiniteSource(LENGTH 100) -> s :: BandwidthShaper(10000Bps) -> c :: Counter"
            " -> TimedSink(1ms)").run(1.0005)
    assert s.read("c.count") == "100"
    assert s.read("s.rate") == "80kbps"


@pytest.mark.parametrize("config", ["Shaper", "Shaper(x)", "Shaper(-1)", "BandwidthShaper(fast)",
                                    "Shaper(10, 20)"])
def test_shaper_bad_configurations(sim, config):
    with pytest.raises(ConfigError):
        sim(f"InfiniteSource -> {config} -> TimedSink")


# --- DelayUnqueue -------------------------------------------------------------------------


def test_delay_unqueue_delays_from_the_timestamp(sim):
    s = sim("Idle -> q :: Queue -> d :: DelayUnqueue(0.05) -> rec :: HarnessRecord")
    s.push("q", b"unstamped")
    s.push("q", b"stamped", timestamp=s.start_ns + 200 * MS)
    s.push("q", b"old", timestamp=s.start_ns - 10_000 * MS)
    s.run(1)
    assert s.payloads() == [b"unstamped", b"stamped", b"old"]
    # Released at timestamp + DELAY, and stamped with that time.
    assert s.times_ms() == [50, 250, 250]
    assert s.stamps_ms() == [50, 250, -9950]
    assert s.read("d.delay") == "50ms"


def test_delay_unqueue_sleeps_while_waiting(sim):
    s = sim("Idle -> q :: Queue -> d :: DelayUnqueue(1) -> rec :: HarnessRecord").run(0.1)
    runs = s["d"].task.runs
    assert s.read("d.scheduled") == "false"
    s.push("q", b"p")
    s.run(0.5)
    # Pulled the packet, then waits on a timer (no busy loop).
    assert s["d"].task.runs <= runs + 2
    s.run(1)
    assert s.times_ms() == [1100]


def test_delay_unqueue_handlers_and_errors(sim):
    s = sim("Idle -> q :: Queue -> d :: DelayUnqueue(1.5) -> Discard")
    assert s.read("d.delay") == "1.500000s"
    s.write("d.delay", "20us")
    assert s.read("d.delay") == "20us"
    with pytest.raises(HandlerError):
        s.write("d.delay", "soon")
    for bad in ("DelayUnqueue", "DelayUnqueue(-1)", "DelayUnqueue(abc)"):
        with pytest.raises(ConfigError):
            sim(f"Idle -> Queue -> {bad} -> Discard")


# --- DelayShaper ----------------------------------------------------------------------------


def test_delay_shaper_releases_on_pull_when_due(sim):
    s = sim("Idle -> q :: Queue -> ds :: DelayShaper(0.1) -> u :: Unqueue -> rec :: HarnessRecord")
    s.push("q", b"one")
    s.push("q", b"two", timestamp=s.start_ns + 500 * MS)
    s.run(1)
    assert s.payloads() == [b"one", b"two"]
    assert s.times_ms() == [100, 600]
    # On the way out the timestamp is the release time (the current time).
    assert s.stamps_ms() == [100, 600]


def test_delay_shaper_lets_its_puller_sleep(sim):
    s = sim("Idle -> q :: Queue -> ds :: DelayShaper(1) -> u :: Unqueue -> rec :: HarnessRecord")
    s.run(0.5)
    idle_runs = s["u"].task.runs
    assert idle_runs <= 12
    assert s.read("u.scheduled") == "false"
    s.push("q", b"x")
    s.push("q", b"y")
    s.run(0.5)
    # The packet is held; the Unqueue sleeps until DelayShaper's timer.
    assert s.payloads() == []
    assert s["u"].task.runs <= idle_runs + 3
    s.run(1)
    assert s.payloads() == [b"x"]
    # One packet at a time: y, unstamped, is stamped when pulled (at 1.5 s).
    s.run(1)
    assert s.payloads() == [b"x", b"y"]
    assert s.times_ms() == [1500, 2500]
    assert s.read("ds.delay") == "1.000000s"


# --- LinkUnqueue ----------------------------------------------------------------------------


def test_link_unqueue_latency_and_bandwidth(sim):
    # Click's LinkUnqueue-01: 100 kbit/s, 5 ms latency, packets of 20 and 1600 bytes.
    s = sim("Idle -> q :: Queue -> l :: LinkUnqueue(0.005s, 100kb/s) -> rec :: HarnessRecord")
    for n in (20, 20, 1600, 20, 1600, 20):
        s.push("q", bytes(n))
    s.run(0.38)
    first = s.log()[0].ts
    assert [(x.ts - first) / 1000 for x in s.log()] == [0, 1600, 129600, 131200, 259200, 260800]
    # Pushed out when due: timestamp = arrival time = 5 ms latency + serialization.
    assert s.times_ms() == s.stamps_ms()
    assert s.times_ms()[0] == pytest.approx(6.6)
    assert s.read("l.size") == "0"
    assert s.read("l.latency") == "5ms"
    assert s.read("l.bandwidth") == "12500"


def test_link_unqueue_counts_extra_length(sim):
    s = sim("Idle -> q :: Queue -> l :: LinkUnqueue(0, 1MBps) -> rec :: HarnessRecord")
    from clickpy.runtime.packet import PacketObject

    p = PacketObject.make(bytes(100))
    p.set_anno(28, (900).to_bytes(4, "little"))     # EXTRA_LENGTH: 1000 bytes in all
    s["q"].push_packet(0, p)
    s.run(0.1)
    assert s.times_ms() == [1.0]


def test_link_unqueue_holds_packets_in_transit_and_resets(sim):
    s = sim("Idle -> q :: Queue -> l :: LinkUnqueue(1s, 1MBps) -> rec :: HarnessRecord")
    for _ in range(3):
        s.push("q", bytes(100))
    s.run(0.5)
    assert s.read("l.size") == "3"
    s.write("l.reset")
    assert s.read("l.size") == "0"
    s.run(2)
    assert s.payloads() == []
    s.write("l.latency", "10ms")
    s.write("l.bandwidth", "2MBps")
    assert (s.read("l.latency"), s.read("l.bandwidth")) == ("10ms", "2000000")
    with pytest.raises(HandlerError):
        s.write("l.bandwidth", "50Bps")
    with pytest.raises(HandlerError):
        s.write("l.latency", "later")


@pytest.mark.parametrize("config", ["LinkUnqueue(1ms)", "LinkUnqueue(1ms, 99Bps)", "LinkUnqueue(x, 1Mbps)",
                                    "LinkUnqueue(1ms, 1 parsec)"])
def test_link_unqueue_bad_configurations(sim, config):
    with pytest.raises(ConfigError):
        sim(f"Idle -> Queue -> {config} -> Discard")
