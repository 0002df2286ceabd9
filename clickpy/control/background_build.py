"""Build a new configuration beside a running router, without stopping it.

A ``hotconfig`` write hands the running router a configuration that may be
hostile: a port number in the millions, compounds that multiply, a queue of
a billion packets. Building it must neither freeze forwarding nor exhaust
the process, so it runs in two bounded stages:

1. *Check*, in a forked child: the front end and a configure-only dry run
   (Click's ``click -q``), under a memory limit, a CPU limit and a deadline.
   The child shares nothing the router needs; the router's driver goes on
   forwarding on its own core while the child works, and a child that runs
   out of memory or time is an error, not a crash.
2. *Build*, in the router's process: the caller's steps for the checked
   Plan (a hot reload stages its new elements, then swaps), run as a task of
   the running router that takes at most BUILD_SHARE of its time while it has
   packets to move. The steps run between batches, so the last one may swap.

``done(ok, error)`` hears how it ended; when it failed the running router
never noticed, and the error names file:line:col as ``clickpy check`` would.
"""
from __future__ import annotations

import os
import resource
import selectors
import signal
import time

from clickpy.errors import ConfigError, Diagnostics
from clickpy.runtime.pending import Pending

MEMORY_LIMIT = 1 << 30      # bytes the child may add to what it inherited
CPU_LIMIT = 30              # seconds of CPU for the child
DEADLINE = 60.0             # seconds of wall time for the child
BUILD_SHARE = 0.25          # of the router's time, while it has packets to move
SLICE = 0.001               # seconds of building per turn (a longer step ends its turn late)


class BackgroundBuild:
    """One configuration on its way into the running router.

    ``start(plan, diff)`` gives the build's steps (a generator that raises
    ConfigError when the configuration cannot run, having undone its work);
    ``diff`` is the PlanDiff of ``running`` (the running router's Plan, if
    given) and plan, made by the child, or None;
    ``done(ok, error text)`` is called once at the end. ``pending`` settles at
    the same moment, for the ControlSocket client.
    """

    def __init__(self, scheduler, source, definitions, extra_elements, start, done, running=None):
        self.scheduler = scheduler
        self.running = running
        self.start = start
        self.done = done
        self.pending = Pending(finish_now=self.finish_now)
        self.steps = None
        self._turn = self._resume = None
        self.pid = None
        self._data = bytearray()
        self._fd = -1
        self._timed_out = False
        self._started = time.monotonic()
        self._start_child(source, definitions, extra_elements, running)

    # --- stage 1: the child ------------------------------------------------------

    def _start_child(self, source, definitions, extra_elements, running) -> None:
        try:
            pid, read_fd = _spawn_check(source, definitions, extra_elements, running)
        except OSError as e:
            self._end(False, f"cannot check the configuration: fork failed ({e.strerror})")
            return
        os.set_blocking(read_fd, False)
        self.pid, self._fd = pid, read_fd
        from clickpy.runtime.scheduler import Timer

        self._deadline = Timer(callback=self._too_slow)
        self._deadline.initialize(self.scheduler)
        self._deadline.schedule_after(DEADLINE)
        self.scheduler.add_fd(read_fd, selectors.EVENT_READ, self._readable)

    def _too_slow(self, timer) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._timed_out = True

    def _readable(self, fd, events) -> None:
        while True:
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                return
            if not chunk:
                self._child_ended()
                return
            self._data += chunk

    def _child_ended(self) -> None:
        self.scheduler.remove_fd(self._fd)
        os.close(self._fd)
        self._fd = -1
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        self._checked(bytes(self._data), status, self._timed_out)

    def _checked(self, data: bytes, status: int, timed_out: bool) -> None:
        self._deadline.unschedule()
        self._data = bytearray()
        checked, error = _child_result(data, status, timed_out, self.running)
        if error is not None:
            self._end(False, error)
        else:
            self._start_building(*checked)

    # --- stage 2: building in slices ---------------------------------------------------

    def _start_building(self, plan, diff) -> None:
        from clickpy.runtime.scheduler import Task, Timer

        self.steps = self.start(plan, diff)
        self._turn = Task(callback=self._build_turn)
        self._turn.initialize(self.scheduler, True)
        self._resume = Timer(callback=lambda timer: self._turn.reschedule())
        self._resume.initialize(self.scheduler)

    def _build_turn(self, task) -> bool:
        start = time.perf_counter()
        turn_over = False
        while time.perf_counter() - start < SLICE:
            done, turn_over = self._step()
            if done:
                return True
            if turn_over:
                break
        if self.scheduler.scheduled_tasks > 0 and not turn_over:
            spent = time.perf_counter() - start
            self._resume.schedule_after(spent * (1 / BUILD_SHARE - 1))
        else:
            task.reschedule()
        return True

    def _step(self) -> tuple[bool, bool]:
        """One step of building: (has the build ended, does this turn end here).

        A step that yields True ends the turn, so that the next step (a swap)
        starts a turn of its own, right after the router's batches."""
        try:
            return False, bool(next(self.steps))
        except StopIteration:
            self.steps = None
            self._end(True, None)
        except ConfigError as e:
            self.steps = None
            self._end(False, _error_text(e))
        except Exception as e:  # a bug in an element must not take the old router down
            self.steps = None
            self._end(False, f"internal error while building: {e!r}")
        return True, True

    # --- the end -------------------------------------------------------------------------

    def _end(self, ok, error) -> None:
        if self.pending.done:
            return
        if self.steps is not None:
            self.steps.close()  # a build given up on undoes its work
        self.steps = None
        if self._turn is not None:
            self._turn.unschedule()
            self._resume.unschedule()
        self.pending.settle(error)
        self.done(ok, error)

    def cancel(self) -> None:
        """Give up (the running router is stopping): end the child, undo what was built."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = None
        if self._fd >= 0:
            self.scheduler.remove_fd(self._fd)
            os.close(self._fd)
            self._fd = -1
        self._end(False, "the router stopped before the new configuration was ready")

    def finish_now(self) -> None:
        """Block until the build ends (for callers outside the driver loop)."""
        if self._fd >= 0:
            self.scheduler.remove_fd(self._fd)
            data, status, timed_out = _collect(self.pid, self._fd, self._started, bytes(self._data))
            self.pid, self._fd = None, -1
            self._checked(data, status, timed_out or self._timed_out)
        while self.steps is not None and not self._step()[0]:
            pass


def check_bounded(source, definitions=None, extra_elements=()):
    """Check a configuration and dry-run its configure in a bounded child, blocking.

    Returns (Plan, None) or (None, error text): what a 'hotconfig' write
    would learn before building anything.
    """
    pid, read_fd = _spawn_check(source, definitions, extra_elements)
    checked, error = _child_result(*_collect(pid, read_fd, time.monotonic()))
    return (checked[0] if checked else None), error


def _spawn_check(source, definitions, extra_elements, running=None) -> tuple[int, int]:
    """Fork the bounded child that checks source; its pid and the pipe its report comes on."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        raise
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        _check_in_child(write_fd, source, definitions, extra_elements, running)
    os.close(write_fd)
    return pid, read_fd


def _collect(pid: int, read_fd: int, started: float, so_far: bytes = b"") -> tuple[bytes, int, bool]:
    """Read the child's whole report, blocking (the child is killed at the
    deadline); close the pipe and reap the child: (report, status, timed out)."""
    chunks, timed_out = [so_far], False
    while True:
        if time.monotonic() - started > DEADLINE and not timed_out:
            os.kill(pid, signal.SIGKILL)
            timed_out = True
        _wait_readable(read_fd)
        try:
            chunk = os.read(read_fd, 1 << 20)
        except BlockingIOError:
            continue
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks), status, timed_out


def _child_result(data: bytes, status: int, timed_out: bool, running=None):
    """What the child reported: ((Plan, PlanDiff against running or None), None)
    or (None, error text).

    Its report is msgpack data, read without running any of its content."""
    import msgpack

    from clickpy.plan import Plan, unpack_diagnostics
    from clickpy.reload.diff import PlanDiff

    if timed_out:
        return None, f"configuration not checked within {DEADLINE:g} seconds"
    try:
        kind, *payload = msgpack.unpackb(data, raw=False)
        if kind == "error":
            items, stage = payload
            return None, _error_text(ConfigError(unpack_diagnostics(items), stage=stage))
        plan = Plan.unpack(payload[0])
        diff = PlanDiff.unpack(running, plan, payload[1]) if running is not None and payload[1] else None
        return (plan, diff), None
    except (ValueError, TypeError, msgpack.UnpackException):
        return None, _death_message(status)


def _wait_readable(fd: int) -> None:
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        sel.select(1.0)


def _error_text(e: ConfigError) -> str:
    lines = [line for d in e.diagnostics.items for line in d.lines()]
    if e.stage == "initialize":
        lines.append("Router could not be initialized!")
    return "\n".join(lines)


def _death_message(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return f"configuration not checked within {CPU_LIMIT} seconds of CPU"
        if sig == signal.SIGKILL:
            return f"configuration needs more than {MEMORY_LIMIT >> 20} MiB to check"
        return f"checking the configuration failed ({signal.Signals(sig).name})"
    return f"checking the configuration failed (exit status {os.WEXITSTATUS(status)})"


def _check_in_child(write_fd: int, source, definitions, extra_elements, running) -> None:
    """The child's whole life: check, dry-run configure, diff against the
    running Plan (its copy came with the fork), report, exit."""
    status = 0
    try:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        _limit_resources()
        import msgpack

        from clickpy import pipeline
        from clickpy.plan import Plan, pack_diagnostics
        from clickpy.runtime.router import Router

        try:
            plan = pipeline.plan(source, definitions, extra_elements)
            dry = Router(Plan(plan.graph, plan.ports, Diagnostics()))
            try:
                for _ in dry.build_steps(initialize=False):
                    pass
            finally:
                dry.cleanup()
            result = ["ok", plan.pack(), None]
            if running is not None:
                from clickpy.reload.diff import diff
                from clickpy.runtime import registry

                result[2] = diff(running, plan, registry.lookup).pack()
        except ConfigError as e:
            result = ["error", pack_diagnostics(e.diagnostics), e.stage]
        except (MemoryError, RecursionError) as e:
            d = Diagnostics()
            what = "memory" if isinstance(e, MemoryError) else "stack"
            d.error(None, f"configuration needs more {what} than a reload may use")
            result = ["error", pack_diagnostics(d), "read"]
        data = msgpack.packb(result, use_bin_type=True)
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view):]
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _limit_resources() -> None:
    with open("/proc/self/statm") as f:
        vm = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (vm + MEMORY_LIMIT, vm + MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT, CPU_LIMIT + 5))
