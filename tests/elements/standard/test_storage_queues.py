"""NotifierQueue, FullNoteQueue, FrontDropQueue and MixedQueue (and the capacity
handler they share with SimpleQueue and Queue)."""
import pytest
from support import run_config

from clickpy.errors import ConfigError
from clickpy.runtime.handlers import HandlerError


def tags(n):
    return [bytes([i]) * 8 for i in range(1, n + 1)]


# --- capacities, drops, output 1 -----------------------------------------------


def test_notifier_queue_drops_when_full_and_does_not_stop_pushers():
    r = run_config("i :: InfiniteSource(LIMIT 15) -> c :: Counter -> q :: NotifierQueue(5) -> Idle;"
                   "Script(wait 0.1s, stop)", "--simtime", "-h", "c.count", "-h", "q.drops",
                   "-h", "q.length", "-h", "q.highwater_length")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["c.count:", "15", "q.drops:", "10", "q.length:", "5",
                                "q.highwater_length:", "5"]
    # Click's overflow message, once.
    assert r.stderr.count("q :: NotifierQueue: overflow") == 1


def test_notifier_queue_counts(sim):
    s = sim("i :: InfiniteSource(LIMIT 15) -> c :: Counter -> q :: NotifierQueue(5) -> Idle").run(0.1)
    assert s.read("c.count") == "15"
    assert s.read("q.drops") == "10"
    assert s.read("q.length") == "5"
    assert s.read("q.highwater_length") == "5"
    assert s.read("q.capacity") == "5"


def test_full_note_queue_stops_the_source_instead_of_dropping(sim):
    s = sim("i :: InfiniteSource(LIMIT 15) -> c :: Counter -> q :: FullNoteQueue(5) -> Idle").run(0.1)
    assert s.read("c.count") == "5"
    assert s.read("q.drops") == "0"
    assert s.read("i.scheduled") == "false"


def test_full_note_queue_wakes_the_source_when_room_appears(sim):
    s = sim("i :: InfiniteSource(LIMIT 15) -> q :: FullNoteQueue(5) -> u :: Unqueue(ACTIVE false)"
            " -> c :: Counter -> Discard").run(0.1)
    assert s.read("i.count") == "5"
    s.write("u.active", "true")
    s.run(0.1)
    assert s.read("c.count") == "15"
    assert s.read("q.drops") == "0"


def test_drops_leave_on_output_1(sim):
    s = sim("i :: InfiniteSource(LIMIT 12) -> q :: NotifierQueue(5) -> Idle;"
            "q [1] -> d :: Counter -> Discard").run(0.1)
    assert s.read("d.count") == "7"
    assert s.read("q.drops") == "7"


@pytest.mark.parametrize("config", [
    "i :: InfiniteSource(LIMIT 4) -> q :: NotifierQueue(0) -> Idle",
    "i :: InfiniteSource(LIMIT 4) -> q :: FrontDropQueue(0) -> Idle",
    "i :: InfiniteSource(LIMIT 4) -> q :: MixedQueue(0) -> Idle; InfiniteSource(LIMIT 3) -> [1] q",
])
def test_capacity_zero_drops_everything(sim, config):
    s = sim(config + "; q [1] -> d :: Counter -> Discard").run(0.1)
    assert s.read("q.length") == "0"
    assert s.read("d.count") == s.read("q.drops")
    assert int(s.read("q.drops")) >= 4


@pytest.mark.parametrize("config", [
    "Idle -> NotifierQueue(-1) -> Idle",
    "Idle -> FrontDropQueue(lots) -> Idle",
    "Idle -> m :: MixedQueue(1, 2) -> Idle; Idle -> [1] m",
    "Idle -> FullNoteQueue(CAPACITY) -> Idle",
])
def test_bad_capacity_is_a_configuration_error(sim, config):
    with pytest.raises(ConfigError) as info:
        sim(config)
    assert "While configuring" in str(info.value)


def test_mixed_queue_has_two_inputs(sim):
    with pytest.raises(ConfigError):
        sim("Idle -> q :: MixedQueue -> Idle; Idle -> [2] q")


# --- FIFO, front-drop and mixed orders -------------------------------------------


def test_front_drop_queue_drops_the_oldest(sim):
    s = sim("Idle -> q :: FrontDropQueue(3) -> u :: Unqueue(ACTIVE false) -> rec :: HarnessRecord;"
            "q [1] -> dropped :: HarnessRecord")
    for t in tags(5):
        s.push("q", t)
    assert s.read("q.length") == "3"
    assert s.read("q.drops") == "2"
    assert s.payloads("dropped") == tags(2)
    s.write("u.active", "true")
    s.run(0.01)
    assert s.payloads() == tags(5)[2:]
    assert s.read("q.highwater_length") == "3"


def test_mixed_queue_fifo_and_lifo_inputs(sim):
    s = sim("Idle -> q :: MixedQueue -> u :: Unqueue(ACTIVE false) -> rec :: HarnessRecord;"
            "Idle -> [1] q")
    a, b, c, d, e = tags(5)
    s.push("q", a, 0)
    s.push("q", b, 0)
    s.push("q", c, 1)
    s.push("q", d, 0)
    s.push("q", e, 1)
    s.write("u.active", "true")
    s.run(0.01)
    assert s.payloads() == [e, c, a, b, d]


def test_mixed_queue_when_full(sim):
    # Click's MixedQueue-02 in miniature: a full queue drops a FIFO newcomer,
    # but makes room for a LIFO one by dropping its newest packet.
    s = sim("Idle -> q :: MixedQueue(5) -> u :: Unqueue(ACTIVE false) -> rec :: HarnessRecord;"
            "Idle -> [1] q; q [1] -> dropped :: HarnessRecord")
    p = tags(7)
    for i, port in enumerate([0, 0, 1, 0, 1, 0, 1]):
        s.push("q", p[i], port)
    assert s.read("q.drops") == "2"
    assert s.payloads("dropped") == [p[5], p[3]]
    s.write("u.active", "true")
    s.run(0.01)
    assert s.payloads() == [p[6], p[4], p[2], p[0], p[1]]


def test_unqueue_sleeps_on_an_empty_notifier_queue_and_wakes(sim):
    s = sim("Idle -> q :: NotifierQueue -> u :: Unqueue -> rec :: HarnessRecord").run(1)
    runs = s["u"].task.runs
    assert runs <= 12          # a few pulls (Click's sleepiness), then asleep
    assert s.read("u.scheduled") == "false"
    s.run(1)
    assert s["u"].task.runs == runs
    s.push("q", b"x" * 20)
    assert s.read("u.scheduled") == "true"
    s.run(0.01)
    assert s.payloads() == [b"x" * 20]


# --- handlers ------------------------------------------------------------------


def test_capacity_write_shrinks_a_full_queue_keeping_the_oldest(sim):
    s = sim("Idle -> q :: Queue(5) -> u :: Unqueue(ACTIVE false) -> rec :: HarnessRecord")
    for t in tags(5):
        s.push("q", t)
    s.write("q.capacity", "2")
    assert s.read("q.capacity") == "2"
    assert s.read("q.length") == "2"
    assert s["q"].config == "2"
    s.write("u.active", "true")
    s.run(0.01)
    assert s.payloads() == tags(2)


def test_capacity_write_on_front_drop_queue_keeps_the_newest(sim):
    s = sim("Idle -> q :: FrontDropQueue -> u :: Unqueue(ACTIVE false) -> rec :: HarnessRecord")
    for t in tags(5):
        s.push("q", t)
    s.write("q.capacity", "2")
    assert s.read("q.length") == "2"
    assert s["q"].config == "CAPACITY 2"
    s.write("u.active", "true")
    s.run(0.01)
    assert s.payloads() == tags(5)[3:]
    # Still a working queue of the new size.
    for t in tags(3):
        s.push("q", t)
    assert s.read("q.length") == "2"


def test_capacity_write_rewrites_config_as_click(sim):
    s = sim("i :: InfiniteSource -> q :: Queue -> Idle").run(0.02)
    assert s.read("i.count") == "1000"
    s.write("q.capacity", "10")
    assert s.read("q.config") == "CAPACITY 10"
    s.run(0.02)
    assert s.read("i.count") == "1000"
    s.write("q.capacity", "1000")
    assert s.read("q.config") == "CAPACITY 1000"
    s.run(0.02)
    assert s.read("i.count") == "1990"


def test_bad_capacity_write_changes_nothing(sim):
    s = sim("Idle -> q :: NotifierQueue(7) -> Idle")
    with pytest.raises(HandlerError):
        s.write("q.capacity", "many")
    with pytest.raises(HandlerError):
        s.write("q.capacity", "-3")
    assert s.read("q.capacity") == "7"
    assert s["q"].config == "7"


def test_reset_sends_queued_packets_to_output_1(sim):
    s = sim("Idle -> q :: MixedQueue(4) -> Idle; Idle -> [1] q; q [1] -> out1 :: HarnessRecord")
    for t in tags(3):
        s.push("q", t)
    s.write("q.reset")
    assert s.read("q.length") == "0"
    assert s.payloads("out1") == tags(3)


def test_reset_counts(sim):
    s = sim("Idle -> q :: FrontDropQueue(2) -> u :: Unqueue(ACTIVE false) -> Discard")
    for t in tags(4):
        s.push("q", t)
    assert (s.read("q.drops"), s.read("q.highwater_length")) == ("2", "2")
    s.write("u.active", "true")
    s.run(0.01)
    s.write("q.reset_counts")
    assert (s.read("q.drops"), s.read("q.highwater_length")) == ("0", "0")


def test_full_note_queue_is_queue():
    from clickpy.runtime.registry import lookup

    assert issubclass(lookup("FullNoteQueue"), lookup("Queue"))
    assert lookup("FullNoteQueue").port_count == "1/1-2"
    assert lookup("FullNoteQueue").processing == "h/lh"


# --- hot reload: a smaller queue keeps what fits ------------------------------------


@pytest.mark.parametrize("cls, kept", [("Queue", slice(0, 3)), ("NotifierQueue", slice(0, 3)),
                                       ("FrontDropQueue", slice(2, 5))])
def test_a_reload_that_shrinks_a_queue_keeps_what_fits(sim, cls, kept):
    r = sim(f"Idle -> q :: {cls}(10) -> Idle")
    for t in tags(5):
        r.push("q", t)
    report = r.router.reload(f"Idle -> q :: {cls}(3) -> u :: Unqueue -> rec :: HarnessRecord")
    assert r.read("q.length") == "3" and r.read("q.capacity") == "3"
    assert report.lost == 2
    r.run(0.01)
    assert r.payloads() == tags(5)[kept]
