"""TimedSource, TimedSink and AverageCounter, in simulated time."""
import pytest
from support import run_config

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError


# --- TimedSource ---------------------------------------------------------------------------


def test_timed_source_interval_limit_and_stop(sim):
    s = sim("t :: TimedSource(0.01, \"hello\", LIMIT 5, STOP true) -> rec :: HarnessRecord").run(10)
    assert s.payloads() == [b"hello"] * 5
    assert s.times_ms() == [10, 20, 30, 40, 50]
    assert s.stamps_ms() == [10, 20, 30, 40, 50]
    # STOP stops the driver when the timer fires after the last packet.
    assert s.elapsed_ns() == 60_000_000
    assert s.read("t.count") == "5"


def test_timed_source_from_the_command_line():
    r = run_config("TimedSource(0.001, \"ab\", LIMIT 3, STOP true) -> c :: Counter -> Discard",
                   "--simtime", "-h", "c.count")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"


def test_timed_source_defaults_and_handlers(sim):
    s = sim("t :: TimedSource -> rec :: HarnessRecord").run(1.2)
    assert s.times_ms() == [500, 1000]
    assert s.payloads()[0].startswith(b"Random bullshit in a packet")
    assert s.read("t.interval") == "500ms"
    assert s.read("t.headroom") == "28"
    s.write("t.interval", "0.1")
    s.write("t.data", "xyz")
    # The timer already set (for 1.5 s) stays; the new interval applies after it.
    s.run(0.45)
    assert s.times_ms()[2:] == [1500, 1600]
    assert s.payloads()[2:] == [b"xyz", b"xyz"]
    s.write("t.active", "false")
    s.run(1)
    assert len(s.log()) == 4
    s.write("t.limit", "5")
    s.write("t.active", "true")
    s.run(1)
    assert len(s.log()) == 5
    s.write("t.reset")
    s.run(0.05)
    assert len(s.log()) == 6
    assert s.read("t.limit") == "5"
    for handler, bad in (("t.interval", "0"), ("t.interval", "never"), ("t.active", "perhaps"),
                         ("t.limit", "x"), ("t.headroom", "-1")):
        with pytest.raises(HandlerError):
            s.write(handler, bad)


@pytest.mark.parametrize("config", ["TimedSource(0)", "TimedSource(-1)", "TimedSource(x)",
                                    "TimedSource(1, a, LIMIT z)", "TimedSource(HEADROOM 100000)"])
def test_timed_source_bad_configurations(sim, config):
    with pytest.raises(ConfigError):
        sim(f"{config} -> Discard")


# --- TimedSink -----------------------------------------------------------------------------


def test_timed_sink_pulls_every_interval(sim):
    s = sim("Idle -> q :: Queue -> t :: TimedSink(0.1)")
    for i in range(5):
        s.push("q", bytes([i]))
    s.run(0.35)
    assert s.read("q.length") == "2"
    assert s.read("t.interval") == "100ms"
    s.write("t.interval", "10ms")
    s.run(0.1)
    assert s.read("q.length") == "0"
    with pytest.raises(HandlerError):
        s.write("t.interval", "0")
    with pytest.raises(ConfigError):
        sim("Idle -> Queue -> TimedSink(soon)")


# --- AverageCounter -----------------------------------------------------------------------


def test_average_counter_rates(sim):
    s = sim("TimedSource(0.01, \"0123456789\") -> a :: AverageCounter -> d :: Counter -> Discard").run(1.0005)
    assert s.read("a.count") == "100"
    assert s.read("a.byte_count") == "1000"
    # 100 packets between 10 ms and 1000 ms: 100 / 0.99 s.
    assert s.read("a.rate") == "101.01010101"
    assert s.read("a.byte_rate") == "1010.1010101"
    assert s.read("d.count") == "100"      # passes everything on
    s.write("a.reset")
    assert (s.read("a.count"), s.read("a.rate")) == ("0", "0")


def test_average_counter_ignore(sim):
    s = sim("TimedSource(0.1) -> a :: AverageCounter(1) -> Discard").run(3.0005)
    # Packets from 100 ms; the first second after the first packet is ignored:
    # 20 packets (1.1 s to 3 s) over the 1.9 s after the ignored second (Click's formula).
    assert s.read("a.count") == "20"
    assert s.read("a.rate") == "10.5263157895"


def test_average_counter_pull(sim):
    s = sim("InfiniteSource -> a :: AverageCounter -> TimedSink(0.01)").run(1.0005)
    assert s.read("a.count") == "100"


@pytest.mark.parametrize("config", ["AverageCounter(-1)", "AverageCounter(0.5)", "AverageCounter(x)",
                                    "AverageCounter(1, 2)"])
def test_average_counter_bad_configurations(sim, config):
    with pytest.raises(ConfigError):
        sim(f"Idle -> {config} -> Discard")
