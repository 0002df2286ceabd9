"""take_state of the elements that hold packets in flight (DelayUnqueue,
DelayShaper, LinkUnqueue): a reload's new element sends them when the old
one had them due, and a rollback gives them back."""
import pytest

from clickpy.runtime.error_handler import ElementErrors

CONFIGS = {
    "DelayUnqueue": "Idle -> q :: Queue -> d :: DelayUnqueue({}) -> rec :: HarnessRecord",
    "DelayShaper": "Idle -> q :: Queue -> d :: DelayShaper({}) -> Unqueue -> rec :: HarnessRecord",
    "LinkUnqueue": "Idle -> q :: Queue -> d :: LinkUnqueue({}, 1Mbps) -> rec :: HarnessRecord",
}


def in_flight(sim, cls, delay):
    """An old router whose d holds packet 1 (pushed at 0.1 s) and whose queue holds packet 2."""
    old = sim(CONFIGS[cls].format(delay)).run(0.1)
    old.push("q", b"\x01" * 100)
    old.run(0.01)
    old.push("q", b"\x02" * 100)
    return old


@pytest.mark.parametrize("cls", ["DelayUnqueue", "DelayShaper", "LinkUnqueue"])
def test_packets_in_flight_leave_when_old_had_them_due(sim, cls):
    old = in_flight(sim, cls, 1)
    new = sim(CONFIGS[cls].format(2)).run(0.11)
    errh = ElementErrors()
    assert new["d"].take_state(old["d"], errh) == {"packets": 1}
    assert errh.items == []
    assert new["q"].take_state(old["q"], errh) == {"packets": 1}
    new.run(5)
    assert new.payloads() == [b"\x01" * 100, b"\x02" * 100]
    first, second = new.times_ms()
    assert 1100 <= first < 1110            # old's second of delay from 0.1 s
    assert second >= 2100                  # the new one's two seconds, from when it pulled it
    assert old.payloads() == []


@pytest.mark.parametrize("cls", ["DelayUnqueue", "DelayShaper", "LinkUnqueue"])
def test_rollback_gives_the_packet_in_flight_back(sim, cls):
    old = in_flight(sim, cls, 1)
    new = sim(CONFIGS[cls].format(2)).run(0.11)
    new["d"].take_state(old["d"], ElementErrors())
    assert old["d"].take_state(new["d"], ElementErrors()) == {"packets": 1}
    old.run(2)
    assert old.payloads()[0] == b"\x01" * 100
    assert 1100 <= old.times_ms()[0] < 1110
