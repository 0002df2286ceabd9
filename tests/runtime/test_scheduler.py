"""Tasks, timers, stride scheduling, simulated time, stopping."""
from clickpy.runtime.scheduler import Scheduler, Task, Timer


def make(simulated=True):
    return Scheduler(simulated)


def test_tasks_run_until_they_stop_rescheduling():
    s = make()
    runs = []

    def work(task):
        runs.append(task.runs)
        if len(runs) < 5:
            task.reschedule()
        else:
            s.please_stop()
        return True

    Task(callback=work).initialize(s)
    s.run()
    assert runs == [1, 2, 3, 4, 5]


def test_tickets_share_the_processor_in_proportion():
    s = make()
    counts = {"a": 0, "b": 0}

    def worker(name):
        def run(task):
            counts[name] += 1
            if counts["a"] + counts["b"] >= 3000:
                s.please_stop()
            else:
                task.reschedule()
            return True
        return run

    Task(callback=worker("a"), tickets=1024).initialize(s)
    Task(callback=worker("b"), tickets=2048).initialize(s)
    s.run()
    assert abs(counts["b"] / counts["a"] - 2.0) < 0.01


def test_unschedule_removes_a_task():
    s = make()
    ran = []
    a = Task(callback=lambda t: ran.append("a"))
    b = Task(callback=lambda t: (ran.append("b"), s.please_stop()))
    a.initialize(s)
    b.initialize(s)
    a.unschedule()
    s.run()
    assert ran == ["b"] and not a.scheduled


def test_timers_fire_in_order_in_simulated_time():
    s = make()
    fired = []
    start = s.now()

    def at(label):
        def fire(timer):
            fired.append((label, s.now() - start))
            if label == "last":
                s.please_stop()
        return fire

    for label, secs in [("b", 0.2), ("a", 0.1), ("last", 0.5), ("c", 0.3)]:
        t = Timer(callback=at(label))
        t.initialize(s)
        t.schedule_after(secs)
    s.run()
    assert fired == [("a", 100_000_000), ("b", 200_000_000), ("c", 300_000_000), ("last", 500_000_000)]


def test_simulated_time_starts_where_click_starts():
    assert make().now() == 1_000_000_000 * 1_000_000_000


def test_rescheduled_timer_moves():
    s = make()
    fired = []
    t = Timer(callback=lambda tm: (fired.append(s.now()), s.please_stop()))
    t.initialize(s)
    t.schedule_after(5)
    t.schedule_after(1)  # replaces the earlier schedule
    s.run()
    assert fired == [s.now()] and len(fired) == 1


def test_stop_hook_can_keep_the_driver_running():
    s = make()
    calls = []

    def hook():
        calls.append(1)
        if len(calls) == 1:
            s.set_runcount(1)
            Task(callback=lambda t: s.please_stop()).initialize(s)
            return True
        return False

    s.stop_hook = hook
    Task(callback=lambda t: s.please_stop()).initialize(s)
    s.run()
    assert len(calls) == 2


def test_file_descriptor_readiness_wakes_the_loop():
    import os

    s = Scheduler(False)
    r, w = os.pipe()
    got = []

    def readable(fd, events):
        got.append(os.read(fd, 10))
        s.please_stop()

    s.add_fd(r, 1, readable)
    t = Timer(callback=lambda tm: os.write(w, b"ping"))
    t.initialize(s)
    t.schedule_after(0.01)
    s.run()
    s.remove_fd(r)
    os.close(r)
    os.close(w)
    assert got == [b"ping"]


def test_a_stopped_router_runs_again_when_asked():
    from support import build_router

    router = build_router("s :: InfiniteSource(LIMIT 5, STOP true) -> c :: Counter -> Discard")
    router.run()
    assert router.read("c.count").strip() == "5"
    router.write("s.reset", "")
    router.run()                       # returns after the source's second stop, not at once
    assert router.read("c.count").strip() == "10"


def test_a_stop_before_the_first_run_holds():
    from support import build_router

    router = build_router("s :: InfiniteSource(LIMIT 5, STOP true) -> c :: Counter -> Discard")
    router.stop()
    router.run()
    assert router.read("c.count").strip() == "0"


def test_a_running_task_is_unscheduled_and_what_it_does_to_itself_holds():
    # A task runs unscheduled while it stays in the heap: rescheduling itself,
    # then unscheduling, then rescheduling again, each leaves what it says,
    # and another task woken meanwhile runs in its turn.
    s = make()
    log = []
    other = Task(callback=lambda t: (log.append("other"), s.please_stop()))
    other.initialize(s)
    other.unschedule()

    def work(task):
        log.append(("run", task.scheduled))
        n = sum(1 for x in log if x != "other")
        if n == 1:
            task.reschedule()
            task.unschedule()                 # ends up idle: it must not run again...
            other.reschedule()                # ...and the other task runs
        elif n == 2:
            task.unschedule()
            task.reschedule()
            task.reschedule()                 # twice is once
        else:
            s.please_stop()
        return True

    me = Task(callback=work)
    me.initialize(s)
    s.run()
    assert log == [("run", False), "other"]
    assert not me.scheduled and not other.scheduled
    me.reschedule()
    s.set_runcount(1)
    s.run()
    assert log[2:] == [("run", False), ("run", False)]


def test_a_task_whose_callback_raises_is_left_idle_and_the_scheduler_works_on():
    s = make()
    ran = []

    def bad(task):
        task.reschedule()
        raise ValueError("boom")

    t = Task(callback=bad)
    t.initialize(s)
    try:
        s.run()
    except ValueError:
        pass
    assert t.scheduled                         # it asked to run again before it raised
    t.callback = lambda task: (ran.append(1), s.please_stop())
    s.set_runcount(1)
    s.run()
    assert ran == [1] and not t.scheduled


def test_clearing_the_tasks_while_one_runs_leaves_none_scheduled():
    s = make()

    def work(task):
        task.reschedule()
        s.clear_tasks()
        s.please_stop()
        return True

    t = Task(callback=work)
    t.initialize(s)
    u = Task(callback=lambda task: True)
    u.initialize(s)
    s.run()
    assert not t.scheduled and not u.scheduled
    t.reschedule()
    assert t.scheduled


def test_a_task_running_alone_is_out_of_the_heap_until_it_asks_back():
    # The only scheduled task keeps its heap slot while it runs (so running
    # it again costs no heap work), but counts as out of the heap: others see
    # it unscheduled, and a task it wakes takes its turn as stride order says.
    s = make()
    seen = []
    other = Task(callback=lambda t: (seen.append(("other", s.scheduled_tasks, me.scheduled)), s.please_stop()))
    other.initialize(s)
    other.unschedule()

    def work(task):
        seen.append(("me", s.scheduled_tasks, task.scheduled))
        if len(seen) == 1:
            task.reschedule()
            seen.append(("asked back", s.scheduled_tasks, task.scheduled))
        else:
            other.reschedule()                 # woken at the current pass: runs before me
            task.reschedule()
        return True

    me = Task(callback=work)
    me.initialize(s)
    s.run()
    assert seen == [("me", 0, False), ("asked back", 1, True), ("me", 0, False), ("other", 1, True)]
    assert me.scheduled and s.scheduled_tasks == 1
    me.unschedule()
    assert s.scheduled_tasks == 0


def test_a_task_running_alone_that_does_not_ask_back_leaves_the_heap_empty():
    s = make()
    runs = []
    t = Task(callback=lambda task: runs.append(task.runs))
    t.initialize(s)

    def wake(timer):
        if len(runs) < 2:
            t.reschedule()
            timer.schedule_after(0.001)
        else:
            s.please_stop()

    timer = Timer(callback=wake)
    timer.initialize(s)
    timer.schedule_after(0.001)
    s.run()
    assert runs == [1, 2] and not t.scheduled and s.scheduled_tasks == 0
