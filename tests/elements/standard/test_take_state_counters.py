"""take_state of Counter and AverageCounter: a reload's new counter carries on
the old one's counts and rates, and gives them back on rollback."""
from clickpy.runtime.error_handler import ElementErrors


def counted(sim, cls):
    """An old router whose counter saw 100 packets of 10 bytes over a second, and
    a new one, idle until the same moment (the two clocks agree)."""
    old = sim(f"TimedSource(0.01, \"0123456789\") -> c :: {cls} -> Discard").run(1.0005)
    new = sim(f"Idle -> c :: {cls} -> Discard").run(1.0005)
    return old, new


def test_counter_carries_counts_and_rates(sim):
    old, new = counted(sim, "Counter")
    rate, byte_rate = old.read("c.rate"), old.read("c.byte_rate")
    assert float(rate) > 0
    errh = ElementErrors()
    assert new["c"].take_state(old["c"], errh) == {"counts": 1}
    assert errh.items == []
    assert (new.read("c.count"), new.read("c.byte_count")) == ("100", "1000")
    assert (new.read("c.rate"), new.read("c.byte_rate")) == (rate, byte_rate)
    assert (old.read("c.count"), old.read("c.rate")) == ("0", "0")
    new.push("c", b"x" * 20)
    assert (new.read("c.count"), new.read("c.byte_count")) == ("101", "1020")
    # Roll back: old has all of it, the packet new counted too.
    assert old["c"].take_state(new["c"], ElementErrors()) == {"counts": 1}
    assert (old.read("c.count"), old.read("c.byte_count")) == ("101", "1020")
    assert new.read("c.count") == "0"


def test_counter_call_fires_at_its_count_after_a_reload(sim):
    old, _ = counted(sim, "Counter")
    # The call resets k just before the 102nd packet reaches it.
    new = sim("Idle -> c :: Counter(COUNT_CALL 102 k.reset) -> k :: Counter -> Discard").run(1.0005)
    new["c"].take_state(old["c"], ElementErrors())
    new.push("c", b"x" * 20)
    assert (new.read("c.count"), new.read("k.count")) == ("101", "1")
    new.push("c", b"x" * 20)
    assert (new.read("c.count"), new.read("k.count")) == ("102", "1")


def test_average_counter_carries_counts_and_its_start(sim):
    old, new = counted(sim, "AverageCounter")
    assert old.read("c.rate") == "101.01010101"
    assert new["c"].take_state(old["c"], ElementErrors()) == {"counts": 1}
    # The same average: counts and the first and latest packet's times came over.
    assert (new.read("c.count"), new.read("c.byte_count")) == ("100", "1000")
    assert new.read("c.rate") == "101.01010101"
    assert old.read("c.count") == "0"
    assert old["c"].take_state(new["c"], ElementErrors()) == {"counts": 1}
    assert old.read("c.rate") == "101.01010101"


def test_counters_take_nothing_from_another_class(sim):
    s = sim("Idle -> c :: Counter -> a :: AverageCounter -> Discard")
    assert s["c"].take_state(s["a"], ElementErrors()) is None
    assert s["a"].take_state(s["c"], ElementErrors()) is None
