"""Helpers shared by tests (importable because pyproject puts tests/ on the path)."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def find_shared() -> Path | None:
    """The project's read-only shared folder (Click's tests, configs, benchmarks)."""
    candidates = [os.environ.get("CLICKPY_SHARED"), REPO.parent / "shared", "/work/shared"]
    for c in candidates:
        if c and (Path(c) / "conformance").is_dir():
            return Path(c)
    return None


def run_config(config: str, *args: str, cwd=None, timeout: float = 60, env=None):
    """Run 'clickpy run' on config text (as -e), as a user would; returns CompletedProcess.

    Output is decoded as Latin-1 so any byte survives. Extra args go to clickpy run
    (for example '-h', 'c.count', '--simtime', 'NAME=value').
    """
    import subprocess
    import sys

    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "clickpy", "run", "-e", config, *args],
        capture_output=True, cwd=cwd, timeout=timeout, env=full_env, encoding="latin-1",
    )


def build_router(config: str, definitions=None, simulated: bool = False):
    """A configured, initialized Router for config text, in this process."""
    from clickpy import pipeline
    from clickpy.runtime.router import Router

    router = Router.from_plan(pipeline.plan(pipeline.Source(config, "test.click"), definitions), simulated=simulated)
    BUILT_ROUTERS.append(router)     # cleaned up after the test (tests/conftest.py)
    if os.environ.get("CLICKPY_SPECIALIZE") == "wait":      # pytest --specialize wait
        from clickpy import spec_cache

        spec_cache.specialize_now(router)
    return router


def staged_router(config: str, live):
    """A router for config built beside the running router live, on live's
    scheduler and with live as its hotswap_from, as a reload stages one.
    Retire it with retire_staged (its cleanup would close the shared scheduler)."""
    from clickpy import pipeline
    from clickpy.runtime.router import Router

    hook = live.scheduler.stop_hook
    router = Router(pipeline.plan(pipeline.Source(config, "staged.click")), scheduler=live.scheduler)
    live.scheduler.stop_hook = hook  # the live router still decides when its driver stops
    router.hotswap_from = live
    for _ in router.build_steps():
        pass
    return router


def retire_staged(router) -> None:
    """Clean up a staged router's elements, leaving the scheduler it shares open."""
    if not router._cleaned:
        router._cleaned = True
        for e in router.elements:
            e.cleanup("initialized")


# Routers build_router made during the current test. A router's scheduled
# tasks keep it alive (the C task heap holds them), so without an explicit
# cleanup each one would keep its descriptors open for the whole session.
BUILT_ROUTERS: list = []


def clean_up_routers() -> None:
    """Clean up the routers build_router made (tests/conftest.py does after each test)."""
    while BUILT_ROUTERS:
        BUILT_ROUTERS.pop().cleanup()


def start_router(config: str, control_path, *flags: str, timeout: float = 20):
    """A 'clickpy run -u CONTROL_PATH FLAGS -e CONFIG' process, returned once its
    ControlSocket is listening (stdout and stderr are pipes, as text)."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "clickpy", "run", "-u", str(control_path), *flags,
                             "-e", config], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while not os.path.exists(control_path):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"router did not start: {proc.communicate()[1]}")
        time.sleep(0.05)
    return proc


def run_for(router, seconds: float):
    """Run router until `seconds` of its time have passed (in simulated time
    the clock jumps there once nothing else is due); returns the router."""
    from clickpy.runtime.scheduler import Timer

    router.scheduler.set_runcount(1)
    t = Timer(callback=lambda timer: router.please_stop_driver())
    t.initialize(router.scheduler)
    t.schedule_after(seconds)
    router.run()
    t.unschedule()
    return router


def refused(result, element_class: str) -> bool:
    """True if 'clickpy run' refused its configuration because an element of
    element_class could not be configured: exit status 1, an error naming
    the element, and no traceback."""
    return (result.returncode == 1 and f" :: {element_class}':" in result.stderr
            and "Traceback" not in result.stderr)


def sized_graph(n: int, rule: str, rate: int = 1000) -> str:
    """A configuration of n elements (n >= 10) for measuring what a reload costs:
    a flow of UDP packets (10.0.0.1:1234 -> 10.0.0.2:5678) at RATE a second,
    ``src -> MarkIPHeader -> q -> u -> f :: IPFilter(RULE, allow all) -> out -> Discard``,
    beside slow side chains (a source, a queue, an Unqueue, a Discard: tasks,
    timers and notifier signals like a real graph's) and idle ones, so that
    only the size differs between two calls with the same rule. Reloading it
    with another rule replaces f alone."""
    assert n >= 10
    udp = "4500002e00000000401166bc0a0000010a00000204d2162e001a0000" + "00" * 18
    lines = [f"src :: RatedSource(DATA \\<{udp}>, RATE {rate}, LIMIT -1) -> MarkIPHeader "
             f"-> q :: Queue(10000) -> u :: Unqueue -> f :: IPFilter({rule}, allow all) "
             f"-> out :: Counter -> Discard;"]
    rest = n - 7
    lines += [f"s{i} :: RatedSource(RATE 10, LIMIT -1) -> sq{i} :: Queue(64) -> su{i} :: Unqueue -> Discard;"
              for i in range(rest // 4)]
    lines += [f"Idle -> n{i} :: Null -> Discard;" for i in range(rest % 4 // 3)]
    lines += ["Idle -> Discard;" for _ in range(rest % 4 % 3 // 2)]
    lines += ["Idle;" for _ in range(rest % 4 % 3 % 2)]
    return "\n".join(lines) + "\n"
