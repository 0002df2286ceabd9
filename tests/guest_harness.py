"""For tests of guests and the switch: a scheduler to drive a GuestManager, and small configurations."""
import time

from clickpy import pipeline
from clickpy.guest.manager import GuestManager, GuestSpec

# inside -> Counter -> outside, and back: what a bump in the wire does.
BUMP = """
FromDevice(inside) -> c :: Counter -> Queue -> ToDevice(outside);
FromDevice(outside) -> Queue -> ToDevice(inside);
"""


def spec(text=BUMP, name="t", **kw) -> GuestSpec:
    plan = pipeline.plan(pipeline.Source(text, f"{name}.click"))
    from clickpy.guest.image import build

    return GuestSpec(name, plan.pack(), build(plan).ports, **kw)


class Driver:
    """Runs a scheduler's timers and descriptors until a condition holds (or a deadline)."""

    def __init__(self):
        from clickpy.runtime.scheduler import Scheduler, Timer

        self.scheduler = Scheduler()
        self._tick = Timer(callback=lambda _t: self.scheduler.please_stop())
        self._tick.initialize(self.scheduler)

    def until(self, condition, timeout=10.0) -> bool:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                return False
            self._tick.schedule_after(0.002)
            self.scheduler.set_runcount(1)
            self.scheduler.run()
        return True

    def ask(self, guest, message, timeout=10.0) -> dict:
        got = []
        guest.request(message, got.append)
        assert self.until(lambda: got, timeout), f"no answer to {message}"
        return got[0]


def exchange(driver, guest, frames, send_port=0, recv_port=1, timeout=10.0) -> list[bytes]:
    """Send frames into the guest on one port; what comes out of the other."""
    assert guest.ports[send_port].send(frames) == len(frames)
    out = []

    def received() -> bool:
        # (a guest that exits meanwhile loses its ports: say so, with why)
        assert guest.ports, f"guest {guest.id} went {guest.state}: {guest.exits}, {guest.last_error}"
        out.extend(guest.ports[recv_port].recv())
        return len(out) >= len(frames)

    if not driver.until(received, timeout):
        # Short: say where the frames stopped (into the guest, through it, out of it).
        try:
            stats = driver.ask(guest, {"op": "stats"}, 2.0)
            where = f"the guest's devices saw rx {stats['rx']}, tx {stats['tx']}, drops {stats['drops']}"
        except AssertionError:
            where = "the guest did not answer"
        raise AssertionError(f"guest {guest.id} ({guest.state}) returned {len(out)} of {len(frames)} frames "
                             f"in {timeout} s; {where}")
    return out


def run_until(router, condition, timeout=10.0) -> bool:
    """Run router in slices of 2 ms until condition() holds (False at the deadline)."""
    from clickpy.runtime.scheduler import Timer

    tick = getattr(router, "_test_tick", None)
    if tick is None:
        tick = router._test_tick = Timer(callback=lambda _t: router.scheduler.please_stop())
        tick.initialize(router.scheduler)
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        tick.schedule_after(0.002)
        router.scheduler.set_runcount(1)
        router.run()
    return True


def write_image(path, text: str, name: str = "guest") -> str:
    """Build a guest image of text (with its source, so it takes parameters) at path."""
    from clickpy.guest.image import build

    source = pipeline.Source(text, f"{name}.click")
    path.write_bytes(build(pipeline.plan(source, {}), source=source, definitions={}).pack())
    return str(path)
