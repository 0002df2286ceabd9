"""What a hot reload asks of the scheduler: a staging scheduler that tells the live
one's time, adoption of its tasks, timers and descriptors, and retiring an owner for good."""
import os
import selectors

from clickpy.runtime.scheduler import Scheduler, Task, Timer


class Owner:
    def __init__(self):
        self.ran = []

    def tick(self, task_or_timer):
        self.ran.append(task_or_timer)
        return False


def test_a_staging_scheduler_tells_the_live_one_s_time():
    live = Scheduler(simulated=True, simtime_start=100.0)
    staging = Scheduler.staging(live)
    assert staging.now() == live.now() == 100_000_000_000
    stop = Timer(callback=lambda timer: live.please_stop())
    stop.initialize(live)
    stop.schedule_after(7)
    live.run()
    assert staging.now() == live.now() == 107_000_000_000
    staging.close()
    live.close()


def test_adopt_moves_scheduled_and_idle_tasks_timers_and_descriptors():
    live, owner = Scheduler(simulated=True), Owner()
    staging = Scheduler.staging(live)
    staging.current_owner = owner
    busy, idle = Task(callback=owner.tick), Task(callback=owner.tick)
    busy.initialize(staging, True)
    idle.initialize(staging, False)
    timer = Timer(callback=owner.tick)
    timer.initialize(staging)
    timer.schedule_after(1)
    r, w = os.pipe()
    try:
        staging.add_fd(r, selectors.EVENT_READ, lambda fd, ev: owner.ran.append("fd"))
        staging.current_owner = None
        live.adopt(staging)
        assert staging.scheduled_tasks == 0 and live.scheduled_tasks == 1
        assert set(live.owned(owner)) == {busy, idle, timer}
        idle.reschedule()                      # an idle task wakes into the live scheduler
        os.write(w, b"x")
        stop = Timer(callback=lambda t: live.please_stop())
        stop.initialize(live)
        stop.schedule_after(2)
        live.run()
        assert owner.ran.count(busy) == 1 and owner.ran.count(idle) == 1 and timer in owner.ran
        assert "fd" in owner.ran
    finally:
        live.remove_fd(r)
        os.close(r)
        os.close(w)
        staging.close()
        live.close()


def test_a_retired_owner_never_runs_again_even_when_woken():
    live, owner = Scheduler(simulated=True), Owner()
    task = Task(callback=owner.tick)
    live.current_owner = owner
    task.initialize(live, True)
    timer = Timer(callback=owner.tick)
    timer.initialize(live)
    live.current_owner = None
    timer.schedule_after(1)
    assert live.retire(owner) == 2
    task.reschedule()                          # a notifier wakes it: nothing happens
    timer.schedule_after(1)
    assert not task.scheduled and not timer.scheduled and task.dead and timer.dead
    stop = Timer(callback=lambda t: live.please_stop())
    stop.initialize(live)
    stop.schedule_after(3)
    live.run()
    assert owner.ran == [] and live.owned(owner) == []
    live.close()
