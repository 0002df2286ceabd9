"""RatedUnqueue, BandwidthRatedUnqueue, RatedSplitter, BandwidthRatedSplitter and
RatedSource: Click's token bucket, in simulated time.

The bucket refills every millisecond ("jiffy") with Click's 32-bit fixed-point
arithmetic; the expected counts below follow from that arithmetic (and the
RatedSplitter ones are Click's own, from its RatedSplitter-01 and
BandwidthRatedSplitter-01 tests).
"""
import pytest
from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError


# --- RatedUnqueue -------------------------------------------------------------------


def test_rated_unqueue_rate_over_many_packets(sim):
    # RATE 1000: a 20-packet burst (20 ms of tokens) at once, then one per millisecond.
    s = sim("InfiniteSource -> Queue(10) -> u :: RatedUnqueue(1000) -> c :: Counter -> Discard")
    s.run(0.9995)
    assert s.read("c.count") == str(20 + 999)
    s.run(9)
    assert s.read("c.count") == str(20 + 9999)
    assert s.read("u.rate") == "1000"


def test_rated_unqueue_spacing(sim):
    # RATE 10 holds one token; a token takes 101 jiffies to fill (Click's rounding).
    s = sim("InfiniteSource -> Queue(10) -> RatedUnqueue(10) -> rec :: HarnessRecord").run(1)
    assert s.times_ms() == [0, 101, 202, 303, 404, 505, 606, 707, 808, 909]


def test_rated_unqueue_burst_size_and_duration(sim):
    s = sim("InfiniteSource -> Queue(100) -> a :: RatedUnqueue(10, BURST_SIZE 50) -> ca :: Counter -> Discard;"
            "InfiniteSource -> Queue(100) -> b :: RatedUnqueue(10, BURST_DURATION 5s) -> cb :: Counter -> Discard")
    s.run(0.05)
    # Both buckets hold 50 tokens: 50 packets at once.
    assert s.read("ca.count") == "50"
    assert s.read("cb.count") == "50"


def test_rated_unqueue_sleeps_behind_an_empty_queue(sim):
    s = sim("Idle -> q :: Queue -> u :: RatedUnqueue(100) -> rec :: HarnessRecord").run(2)
    assert s["u"].task.runs <= 2
    assert s.read("u.scheduled") == "false"
    s.run(5)
    assert s["u"].task.runs <= 2
    # A packet wakes it through the queue's notifier.
    s.push("q", b"a" * 30)
    s.run(0.01)
    assert s.payloads() == [b"a" * 30]
    assert s.read("u.scheduled") == "false"


def test_rated_unqueue_waits_on_a_timer_not_a_loop(sim):
    s = sim("InfiniteSource -> Queue(10) -> u :: RatedUnqueue(10) -> Discard").run(10)
    runs = s["u"].task.runs
    # One run per packet plus one that finds the bucket empty and sets the timer.
    assert runs <= 2 * 100 + 2
    calls = s.read("u.calls").splitlines()
    assert calls[0] == f"{runs} calls to run_task()"
    assert calls[2] == "100 pushes"


def test_rated_unqueue_active_and_rate_handlers(sim):
    s = sim("InfiniteSource -> Queue(10) -> u :: RatedUnqueue(1000) -> c :: Counter -> Discard")
    s.write("u.active", "false")
    s.run(1)
    assert s.read("c.count") == "0"
    assert s.read("u.active") == "false"
    s.write("u.active", "true")
    s.write("u.rate", "100")
    assert s.read("u.rate") == "100"
    assert s["u"].config == "100"
    assert s.read("u.config") == "100"      # Click's RatedUnqueue answers 'config' with its rate
    s.run(1)
    # The bucket keeps its (full) content: 20 tokens of the old size, then 100 per second.
    assert 100 <= int(s.read("c.count")) <= 125
    with pytest.raises(HandlerError):
        s.write("u.rate", "fast")
    with pytest.raises(HandlerError):
        s.write("u.active", "maybe")
    assert s.read("u.rate") == "100"
    # The whole configuration is writable too.
    s.write("u.config", "RATE 50, BURST_SIZE 1")
    assert s.read("u.rate") == "50"
    with pytest.raises(HandlerError):
        s.write("u.config", "RATE 50, BURST_SIZE 1, BURST_DURATION 1")
    assert s.read("u.rate") == "50"


@pytest.mark.parametrize("config, message", [
    ("RatedUnqueue", "RATE"),
    ("RatedUnqueue(abc)", "RATE"),
    ("RatedUnqueue(-5)", "RATE"),
    ("RatedUnqueue(10, BURST_SIZE 5, BURST_DURATION 1)", "cannot specify both"),
    ("RatedUnqueue(10, BURST_DURATION -1)", "BURST_DURATION"),
    ("RatedUnqueue(10, BURST_BYTES 5)", "BURST_BYTES"),
    ("BandwidthRatedUnqueue(10 furlongs)", "RATE"),
    ("BandwidthRatedUnqueue(1Mbps, BURST_SIZE 5)", "BURST_SIZE"),
])
def test_rated_unqueue_bad_configurations(sim, config, message):
    with pytest.raises(ConfigError) as info:
        sim(f"Idle -> Queue -> {config} -> Discard")
    assert message in str(info.value)


def test_bandwidth_rated_unqueue(sim):
    # 2000 bytes/s of 100-byte packets: 20 per second after the first.
    s = sim("InfiniteSource(LENGTH 100) -> Queue(10) -> u :: BandwidthRatedUnqueue(RATE 2000Bps)"
            " -> c :: Counter -> Discard").run(10)
    assert s.read("c.count") == "201"
    assert s.read("u.rate") == "16.008kbps"
    assert s.read("u.config") == "16.008kbps"


def test_bandwidth_units():
    from clickpy.elements.standard.rate_args import BandwidthArg, unparse_bandwidth
    from clickpy.runtime.args import ArgError

    assert BandwidthArg("100kb/s") == 12500
    assert BandwidthArg("384kbps") == 48000
    assert BandwidthArg("1.5MBps") == 1500000
    assert BandwidthArg("2000Bps") == 2000
    assert BandwidthArg("2000") == 2000
    assert BandwidthArg("1Gbps") == 125000000
    assert BandwidthArg("1 baud") == 0
    assert unparse_bandwidth(2000) == "16kbps"
    assert unparse_bandwidth(125000) == "1Mbps"
    assert unparse_bandwidth(125000000) == "1Gbps"
    for bad in ("", "fast", "-1Bps", "10 furlongs", "99999999999Bps"):
        with pytest.raises(ArgError):
            BandwidthArg(bad)


# --- RatedSplitter ----------------------------------------------------------------------

RATED_SPLITTER = """
InfiniteSource -> Queue(10) -> RatedUnqueue(10) -> rs1 :: RatedSplitter(RATE 2) -> c1 :: Counter -> Discard;
rs1 [1] -> d1 :: Counter -> Discard;
InfiniteSource -> Queue(10) -> RatedUnqueue(10) -> rs2 :: RatedSplitter(RATE 2, BURST_SIZE 50)
  -> c2 :: Counter -> Discard;
rs2 [1] -> Discard;
InfiniteSource -> Queue(10) -> RatedUnqueue(10) -> rs3 :: RatedSplitter(RATE 2, BURST_DURATION 25)
  -> c3 :: Counter -> Discard;
rs3 [1] -> Discard;
InfiniteSource -> Queue(10) -> RatedUnqueue(200) -> rs4 :: RatedSplitter(RATE 100, BURST_SIZE 2)
  -> c4 :: Counter -> Discard;
rs4 [1] -> Discard;
"""


def test_rated_splitter_counts_match_click(sim):
    s = sim(RATED_SPLITTER).run(10)
    assert [s.read(f"c{i}.count") for i in (1, 2, 3, 4)] == ["20", "69", "69", "1001"]
    # Everything else left on output 1.
    assert s.read("d1.count") == "80"
    assert s.read("rs1.rate") == "2"


BANDWIDTH_SPLITTER = """
InfiniteSource(LENGTH 100) -> Queue(10) -> BandwidthRatedUnqueue(RATE 2000Bps)
  -> s1 :: BandwidthRatedSplitter(RATE 200Bps) -> c1 :: Counter -> Discard;
InfiniteSource(LENGTH 100) -> Queue(10) -> BandwidthRatedUnqueue(RATE 2000Bps)
  -> s2 :: BandwidthRatedSplitter(RATE 200Bps, BURST_BYTES 5000) -> c2 :: Counter -> Discard;
InfiniteSource(LENGTH 100) -> Queue(10) -> BandwidthRatedUnqueue(RATE 2000Bps)
  -> s3 :: BandwidthRatedSplitter(RATE 200Bps, BURST_DURATION 25) -> c3 :: Counter -> Discard;
InfiniteSource(LENGTH 100) -> Queue(10) -> BandwidthRatedUnqueue(RATE 20000Bps)
  -> s4 :: BandwidthRatedSplitter(RATE 10000Bps, BURST_BYTES 100) -> c4 :: Counter -> Discard;
"""


def test_bandwidth_rated_splitter_counts_match_click(sim):
    s = sim(BANDWIDTH_SPLITTER).run(10)
    assert [s.read(f"c{i}.count") for i in (1, 2, 3, 4)] == ["20", "70", "70", "1001"]
    assert s.read("s1.rate") == "1.6kbps"


def test_rated_splitter_without_output_1_drops_the_rest(sim):
    s = sim("InfiniteSource(LIMIT 100) -> rs :: RatedSplitter(5) -> c :: Counter -> Discard").run(1)
    # A bucket of one token, full at first: one packet passes, the rest are dropped.
    assert s.read("c.count") == "1"


def test_rated_splitter_rate_write(sim):
    s = sim("Idle -> rs :: RatedSplitter(RATE 5, BURST_SIZE 3) -> Discard")
    s.write("rs.rate", "7")
    assert s.read("rs.rate") == "7"
    assert s["rs"].config == "BURST_SIZE 3, RATE 7"
    with pytest.raises(HandlerError):
        s.write("rs.rate", "x")
    assert s.read("rs.rate") == "7"


# --- RatedSource ---------------------------------------------------------------------------


def test_rated_source_limit_and_stop(sim):
    s = sim("r :: RatedSource(DATA \"I love myself\\n\", RATE 10000, LIMIT 10, STOP true)"
            " -> rec :: HarnessRecord").run(5)
    assert s.payloads() == [b"I love myself\n"] * 10
    # Click's bucket holds 100 tokens (RATE/100) and is full at the first refill,
    # so the 10 packets leave at once; STOP then stops the driver.
    assert set(s.times_ms()) == {0}
    assert set(s.stamps_ms()) == {0}
    assert s.elapsed_ns() == 0
    assert s.read("r.count") == "10"


def test_rated_source_rate(sim):
    s = sim("r :: RatedSource(RATE 10) -> rec :: HarnessRecord").run(10.0005)
    t = s.times_ms()
    # Two at once (a burst of 2), then one every 100 ms.
    assert t[:4] == [0, 0, 101, 201]
    assert len(t) == 101
    s = sim("r :: RatedSource(RATE 100) -> c :: Counter -> Discard").run(10.0005)
    assert s.read("c.count") == "1001"


def test_rated_source_pull(sim):
    s = sim("r :: RatedSource(RATE 100) -> c :: Counter -> TimedSink(1ms)").run(10.0005)
    assert s.read("c.count") == "1001"


def test_rated_source_length_bandwidth_and_handlers(sim):
    s = sim("r :: RatedSource(DATA ab, LENGTH 5, LIMIT 3) -> rec :: HarnessRecord").run(1)
    assert s.payloads() == [b"ababa"] * 3
    assert s.read("r.limit") == "3"
    s.write("r.length", "3")
    s.write("r.limit", "-1")
    s.write("r.reset")
    s.run(0.0005)
    assert s.payloads()[3:] == [b"aba", b"aba"]
    assert s.read("r.limit") == "-1"
    s.write("r.active", "false")
    n = len(s.log())
    s.run(1)
    assert len(s.log()) == n
    s = sim("r :: RatedSource(LENGTH 100, BANDWIDTH 8kbps) -> Discard")
    assert s.read("r.rate") == "10"
    with pytest.raises(HandlerError):
        s.write("r.rate", "quick")


@pytest.mark.parametrize("config", [
    "RatedSource(RATE x)", "RatedSource(LIMIT 1.5)", "RatedSource(ACTIVE perhaps)",
    "RatedSource(LENGTH 1000000)", "RatedSource(DATA \"\", BANDWIDTH 1Mbps)", "RatedSource(COLOR red)",
])
def test_rated_source_bad_configurations(sim, config):
    with pytest.raises(ConfigError):
        sim(f"{config} -> Discard")
