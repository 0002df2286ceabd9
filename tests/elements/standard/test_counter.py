"""Counter's calls: COUNT_CALL fires once when the count becomes N (at
equality), BYTE_COUNT_CALL once when the byte count reaches N; a reset
re-arms both; count_call is readable and writable, as in Click."""
import pytest
from support import build_router

from clickpy.runtime.element import Element
from clickpy.runtime.handlers import Write

HITS: list[tuple[str, int]] = []


class CounterTestCallLog(Element):
    """Records each write to its 'hit' handler with the count of c at that moment."""
    port_count = "0/0"
    handlers = (Write("hit", lambda e, v: HITS.append((v, int(e.router.read("c.count"))))),)


def router(counter_args, burst=1, limit=5):
    HITS.clear()
    return build_router(f"s :: InfiniteSource(LENGTH 64, LIMIT {limit}, BURST {burst}, STOP true)"
                        f" -> c :: Counter({counter_args}) -> Discard; log :: CounterTestCallLog")


def run_again(r, reset_counter=True):
    if reset_counter:
        r.write("c.reset", "")
    r.write("s.reset", "")
    r.run()


@pytest.mark.parametrize("burst", [1, 32])
def test_count_call_fires_once_when_the_count_reaches_n(burst):
    r = router("COUNT_CALL 3 log.hit a", burst)
    r.run()
    assert HITS == [("a", 3)]                 # before the third packet goes on
    run_again(r, reset_counter=False)         # the count goes 6..10: no second call
    assert HITS == [("a", 3)]


@pytest.mark.parametrize("burst", [1, 32])
def test_reset_rearms_the_calls(burst):
    r = router("COUNT_CALL 3 log.hit a, BYTE_COUNT_CALL 100 log.hit b", burst)
    r.run()
    assert HITS == [("b", 2), ("a", 3)]        # 128 bytes >= 100 at the second packet
    run_again(r)
    assert HITS == [("b", 2), ("a", 3)] * 2
    for _ in range(2):
        run_again(r, reset_counter=False)
    assert len(HITS) == 4                     # fired once per reset
    run_again(r)
    assert HITS[4:] == [("b", 2), ("a", 3)]


def test_count_call_fires_at_equality_only():
    r = router("", limit=5)
    r.run()
    r.write("c.count_call", "2 log.hit late")  # the count is already 5
    run_again(r, reset_counter=False)
    assert HITS == []                          # 6..10 never equals 2
    run_again(r)
    assert HITS == [("late", 2)]


def test_count_call_is_readable_and_writable():
    r = router("COUNT_CALL 3 log.hit a")
    assert r.read("c.count_call").strip() == "3"
    r.write("c.count_call", "4 log.hit b")
    assert r.read("c.count_call").strip() == "4"
    r.run()
    assert HITS == [("b", 4)]
    r.write("c.count_call", "2")               # the handler can be omitted: nothing is called
    assert r.read("c.count_call").strip() == ""
    run_again(r)
    assert HITS == [("b", 4)]
    assert router("").read("c.count_call").strip() == ""


def test_bad_count_call_writes_are_refused():
    from clickpy.runtime.handlers import HandlerError

    r = router("")
    for value in ("x log.hit", "3 nothere.hit", ""):
        with pytest.raises(HandlerError, match="count_call"):
            r.write("c.count_call", value)
    assert r.read("c.count_call").strip() == ""


@pytest.mark.parametrize("warp", [1.0, 50.0])
def test_the_rate_is_measured_in_router_time(warp):
    # Packets are counted into 1 ms epochs of router time, and the rate handler
    # reads in router time too: under a timewarp both run faster alike, so the
    # rate is packets per router second (the wall rate / warp), not a value
    # decayed by the gap between wall-clock epochs and warped ones.
    import time
    r = router("", burst=1, limit=300_000)
    r.write("timewarp", str(warp))
    t0 = time.monotonic()
    r.run()
    wall = time.monotonic() - t0
    rate = float(r.read("c.rate"))
    expected = 300_000 / wall / warp
    assert expected / 4 < rate < expected * 4
