"""take_state of the queues: a reload's new queue carries on the old one's
packets (those that fit), wakes its pullers, and gives them back on rollback."""
import pytest

from clickpy.runtime.error_handler import ElementErrors

QUEUES = ["SimpleQueue", "Queue", "NotifierQueue", "FullNoteQueue", "MixedQueue", "FrontDropQueue"]


def tags(n):
    return [bytes([i]) * 8 for i in range(1, n + 1)]


def graph(cls, capacity, after="Idle"):
    """'Idle -> q :: CLS(CAPACITY) -> AFTER' (MixedQueue gets its second input)."""
    second = "; Idle -> [1] q" if cls == "MixedQueue" else ""
    return f"Idle -> q :: {cls}({capacity}) -> {after}{second}"


def filled(sim, cls, capacity, n):
    old = sim(graph(cls, capacity))
    for t in tags(n):
        old.push("q", t)
    return old


@pytest.mark.parametrize("cls", QUEUES)
def test_all_packets_carried_when_they_fit_and_given_back(sim, cls):
    old = filled(sim, cls, 10, 5)
    new = sim(graph(cls, 8))
    e1 = ElementErrors()
    assert new["q"].take_state(old["q"], e1) == {"packets": 5}
    assert e1.items == []
    assert (old.read("q.length"), new.read("q.length")) == ("0", "5")
    assert new.read("q.drops") == "0"
    # Roll back: the old queue gets them all again, in order.
    e2 = ElementErrors()
    assert old["q"].take_state(new["q"], e2) == {"packets": 5}
    assert (old.read("q.length"), new.read("q.length")) == ("5", "0")
    rolled = sim(graph(cls, 10, "u :: Unqueue -> rec :: HarnessRecord"))
    rolled["q"].take_state(old["q"], ElementErrors())
    rolled.run(0.01)
    assert rolled.payloads() == tags(5)


@pytest.mark.parametrize("cls, kept", [("SimpleQueue", slice(0, 3)), ("Queue", slice(0, 3)),
                                       ("MixedQueue", slice(0, 3)), ("FrontDropQueue", slice(2, 5))])
def test_what_does_not_fit_is_dropped_counted_and_reported(sim, cls, kept):
    old = filled(sim, cls, 10, 5)
    new = sim(graph(cls, 3, "u :: Unqueue -> rec :: HarnessRecord"))
    errh = ElementErrors()
    assert new["q"].take_state(old["q"], errh) == {"packets": 3, "dropped": 2}
    assert errh.items == [("warning", "some packets lost (old length 5, new capacity 3)")]
    assert new.read("q.drops") == "2"
    assert new.read("q.highwater_length") == "3"
    new.run(0.01)
    assert new.payloads() == tags(5)[kept]


@pytest.mark.parametrize("cls", ["Queue", "NotifierQueue", "MixedQueue", "FrontDropQueue"])
def test_sleeping_puller_wakes_when_packets_arrive_by_take_state(sim, cls):
    new = sim(graph(cls, 10, "u :: Unqueue -> rec :: HarnessRecord"))
    new.run(0.01)                      # long enough for Unqueue to find it empty and sleep
    empty = new["q"].port_notifier(True, 0, "empty")
    assert not empty.active
    old = filled(sim, cls, 10, 4)
    new["q"].take_state(old["q"], ElementErrors())
    assert empty.active
    assert not old["q"].port_notifier(True, 0, "empty").active
    new.run(0.01)
    assert new.payloads() == tags(4)


def test_full_notifiers_follow_the_packets(sim):
    old = filled(sim, "Queue", 3, 3)
    assert not old["q"].port_notifier(False, 0, "full").active      # full: pushers wait
    new = sim("Idle -> q :: Queue(3) -> Idle")
    new["q"].take_state(old["q"], ElementErrors())
    assert not new["q"].port_notifier(False, 0, "full").active
    assert old["q"].port_notifier(False, 0, "full").active          # the emptied giver has room


def test_a_queue_that_already_holds_packets_refuses(sim):
    old = filled(sim, "Queue", 10, 2)
    new = filled(sim, "Queue", 10, 1)
    errh = ElementErrors()
    assert new["q"].take_state(old["q"], errh) is None
    assert errh.nerrors == 1
    assert (old.read("q.length"), new.read("q.length")) == ("2", "1")


def test_a_queue_takes_any_simple_queue_but_nothing_else(sim):
    old = filled(sim, "FrontDropQueue", 10, 2)
    new = sim("Idle -> q :: Queue(10) -> c :: Counter -> Idle")
    assert new["q"].take_state(old["q"], ElementErrors()) == {"packets": 2}
    assert new["q"].take_state(new["c"], ElementErrors()) is None


def test_an_empty_queue_carries_nothing(sim):
    old = sim("Idle -> q :: Queue(10) -> Idle")
    new = sim("Idle -> q :: Queue(10) -> Idle")
    assert new["q"].take_state(old["q"], ElementErrors()) is None
