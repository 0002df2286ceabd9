"""A task rescheduled by a timer runs before the driver sleeps.

The driver sleeps only when no task is scheduled. A timer that wakes a task
(FromDump with TIMING, a shaper, anything waiting for a time) must see that
task run at once, even when that timer was the last one pending: the driver
may not go to sleep on an empty timer list with a task waiting.
"""
import threading

import pytest

from clickpy.runtime.scheduler import Scheduler, Task, Timer

WATCHDOG_S = 20  # only ends a hung test; no assertion depends on it


def run_guarded(s: Scheduler) -> bool:
    """Run s; True if it stopped by itself, False if the watchdog had to stop it."""
    rescued = []

    def rescue():
        rescued.append(True)
        s.please_stop()

    guard = threading.Timer(WATCHDOG_S, rescue)
    guard.start()
    try:
        s.run()
    finally:
        guard.cancel()
    return not rescued


@pytest.mark.parametrize("simulated", [False, True], ids=["real", "simulated"])
def test_the_last_timer_waking_a_task_runs_it(simulated):
    s = Scheduler(simulated)
    ran = []
    task = Task(callback=lambda t: (ran.append(s.now()), s.please_stop()))
    task.initialize(s, scheduled=False)
    timer = Timer(callback=lambda tm: task.reschedule())
    timer.initialize(s)
    timer.schedule_after(0.001)
    assert run_guarded(s), "the driver slept with a task scheduled"
    assert len(ran) == 1 and ran[0] >= timer.expiry


def test_a_task_woken_by_a_timer_runs_at_that_time_not_at_the_next_timer():
    s = Scheduler(True)
    ran = []
    task = Task(callback=lambda t: ran.append(s.now()))
    task.initialize(s, scheduled=False)
    wake = Timer(callback=lambda tm: task.reschedule())
    wake.initialize(s)
    wake.schedule_after(1)
    woke_at = wake.expiry
    later = Timer(callback=lambda tm: s.please_stop())
    later.initialize(s)
    later.schedule_after(5)
    assert run_guarded(s)
    assert ran == [woke_at]


def test_a_timed_source_paced_by_its_own_timer_emits_everything():
    """The pattern of FromDump's TIMING: run, find the next packet not due,
    set the timer and sleep; the timer reschedules the task, and nothing else
    keeps the driver awake."""
    s = Scheduler(True)
    due = [s.now() + k * 250_000_000 for k in range(1, 6)]
    emitted = []
    timer = Timer(callback=lambda tm: task.reschedule())

    def emit(t):
        while due and s.now() >= due[0]:
            emitted.append(due.pop(0))
        if due:
            timer.schedule_at(due[0])
        else:
            s.please_stop()

    task = Task(callback=emit)
    timer.initialize(s)
    task.initialize(s)
    assert run_guarded(s)
    assert len(emitted) == 5 and not due
