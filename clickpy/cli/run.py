"""``clickpy run``: Click's userlevel driver, for the flags Click's own tests use.

    clickpy run [-e EXPR | -f FILE | FILE] [-h ELEMENT.HANDLER]... [-x ELEMENT.HANDLER]
                [-q] [-o FILE] [-t] [-w] [--simtime[=START]] [-C CLICKPATH]
                [-p PORT] [-u PATH] [-R] [NAME=value]...

The router runs until a source with STOP ends, a Script or DriverManager
stops it, or SIGINT/SIGTERM arrives; then read handlers named with ``-h``
are printed (``-h`` takes globs, and a class name, as Click's does).
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import sys
import time

from clickpy import pipeline
from clickpy.cli import source as config_source
from clickpy.errors import ConfigError, Diagnostics
from clickpy.runtime.handlers import HandlerError


SPECIALIZE_MODES = ("off", "on", "wait")


def specialize_mode(ns) -> str:
    mode = getattr(ns, "specialize", None) or os.environ.get("CLICKPY_SPECIALIZE", "on")
    return mode if mode in SPECIALIZE_MODES else "on"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clickpy run", add_help=False,
                                description="Run a Click router configuration.")
    config_source.add_arguments(p)
    p.add_argument("-h", "--handler", action="append", default=[], metavar="ELEMENT.HANDLER",
                   help="print a read handler's value after the run (globs allowed)")
    p.add_argument("-x", "--exit-handler", metavar="ELEMENT.HANDLER",
                   help="use a handler's value as the exit status")
    p.add_argument("-q", "--quit", action="store_true", help="initialize, but do not run")
    p.add_argument("-o", "--output", metavar="FILE", help="write the flat configuration to FILE")
    p.add_argument("-t", "--time", action="store_true", help="print how long the driver ran")
    p.add_argument("-w", "--no-warnings", action="store_true")
    p.add_argument("--simtime", "--simulation-time", action="store_true",
                   help="run in simulated time (deterministic); --simtime=START sets its start")
    p.add_argument("-C", "--clickpath")
    p.add_argument("-p", "--port", action="append", default=[], help="ControlSocket on a TCP port")
    p.add_argument("-u", "--unix-socket", action="append", default=[], help="ControlSocket on a Unix socket")
    p.add_argument("-R", "--allow-reconfigure", action="store_true", help="provide a writable 'hotconfig' handler")
    p.add_argument("-j", "--threads", type=int, default=1, help="driver threads (only 1 for now)")
    p.add_argument("--per-packet", action="store_true",
                   help="move packets one at a time (exact Click ordering for batching sources)")
    p.add_argument("--specialize", choices=SPECIALIZE_MODES, default=None,
                   help="compile this configuration's own module and switch to it: 'on' starts on the generic "
                        "path and switches when the background build is ready, 'wait' builds first, 'off' "
                        "never (default: $CLICKPY_SPECIALIZE, else on)")
    p.add_argument("--help", action="help")
    p.add_argument("-v", "--version", action="version", version="clickpy run (Click-compatible) 0.1.0")
    return p


def _print_diagnostics(d: Diagnostics, quiet_warnings: bool) -> None:
    for item in d.items:
        if quiet_warnings and item.severity == "warning":
            continue
        print(str(item), file=sys.stderr)


def _call_read_handlers(router, specs: list[str]) -> bool:
    """Print handler values as Click's driver does; False if any failed."""
    ok = True
    names_printed = len(specs) > 1
    for spec in specs:
        try:
            if "." not in spec:
                _print_handler(router, None, spec, names_printed)
                continue
            pattern, hname = spec.split(".", 1)
            elements, many = router.expand_handler_pattern(pattern)
            for e in elements:
                h = router.handler(e, hname)
                if h is None and many:
                    continue  # a glob or class skips elements without the handler
                _print_handler(router, e, hname, names_printed or many)
        except HandlerError as err:
            print(f"clickpy: {err}", file=sys.stderr)
            ok = False
    return ok


def _print_handler(router, e, hname: str, print_name: bool) -> None:
    full = f"{e.name}.{hname}" if e is not None else hname
    h = router.handler(e, hname)
    if h is None:
        raise HandlerError(f"no '{full}' handler")
    if not h.readable:
        raise HandlerError(f"'{full}' is a write handler")
    value = router.call_read(e, h)
    if not h.raw and value and not value.endswith("\n"):
        value += "\n"
    out = sys.stdout
    if print_name:
        out.write(f"{full}:\n")
    out.write(value)
    if print_name:
        out.write("\n")
    out.flush()


# The options Driver reads besides the command line's, with their defaults (for
# callers such as 'clickpy deploy' that run routers with a parser of their own).
DRIVER_DEFAULTS = dict(simtime=None, allow_reconfigure=False, output=None, quit=False, time=False,
                       exit_handler=None, handler=[], port=[], unix_socket=[], per_packet=False,
                       no_warnings=False)


class Driver:
    """Runs one configuration as 'clickpy run' does: builds the router, runs it,
    swaps in a new one on 'hotconfig' writes, prints handlers at the end.

    ``phase`` is "idle", "building", "running" or "done"; ``request_stop``
    stops a running router, or one still being built as soon as it starts.
    """

    def __init__(self, ns, definitions):
        for name, value in DRIVER_DEFAULTS.items():
            if not hasattr(ns, name):
                setattr(ns, name, value)
        self.ns = ns
        self.definitions = definitions
        self.router = None
        self.building = None      # a BackgroundBuild for a 'hotconfig' write
        self.specializing = None  # the BackgroundSpecialization of the running graph
        self.specialize_state = "off"
        self.module_error = None  # why the module built before the router could not be
        self.last_reload = None   # the ReloadReport of the last 'hotconfig' write that succeeded
        self.phase = "idle"
        self.stop_requested = False
        self.extra = [(_control_socket_name(i), "ControlSocket", spec) for i, spec in enumerate(
            [f"TCP, {p}" for p in ns.port] + [f"UNIX, {u}" for u in ns.unix_socket])]

    def build(self, source):
        """The router to run, or None after printing why it could not be made."""
        from clickpy.runtime.router import Router

        try:
            plan = pipeline.plan(source, self.definitions, self.extra)
            if specialize_mode(self.ns) == "wait":
                self._build_module(plan)
            router = Router.from_plan(plan,
                                      simulated=self.ns.simtime is not None,
                                      simtime_start=self.ns.simtime or 0.0, per_packet=self.ns.per_packet)
        except ConfigError as e:
            _print_diagnostics(e.diagnostics, self.ns.no_warnings)
            if e.stage == "initialize":
                print("Router could not be initialized!", file=sys.stderr)
            return None
        _print_diagnostics(router.diagnostics, self.ns.no_warnings)
        self.router = router
        self._add_driver_handlers(router)
        return router

    def _build_module(self, plan) -> None:
        """--specialize=wait: compile plan's module into the cache before the
        router is initialized, whose timers start then (a DriverManager's
        'wait 0.5s' would be over before the first packet); specialize()
        then only loads it. A failure is said there, and a configuration
        error by the router's own build."""
        from clickpy import spec_cache

        try:
            spec_cache.load(plan)
        except spec_cache.BuildError as e:
            self.module_error = e        # said by specialize(), not built a second time
        except ConfigError:
            pass

    def specialized_state(self) -> str:
        """The 'specialized' handler: off, building, installed: NAMES, nothing to specialise, failed: WHY."""
        if self.specializing is not None:
            return self.specializing.state
        return self.specialize_state

    def specialize(self, running: bool = False) -> None:
        """Give the router its specialised module (clickpy.spec_cache): now
        ('wait'), or when a background build is ready ('on', and always for
        a router that is running: after a reload, compiling in the router's
        thread would stall its forwarding)."""
        from clickpy import spec_cache

        mode = specialize_mode(self.ns)
        if running and mode == "wait":
            mode = "on"
        if self.specializing is not None:
            self.specializing.cancel()
            self.specializing = None
        self.specialize_state = "off"
        if mode == "off":
            return

        def warn(reason):
            if not self.ns.no_warnings:
                print(f"clickpy: warning: no specialised module, the generic path runs on: {reason}",
                      file=sys.stderr)

        if mode == "wait":
            error = self.module_error
            if error is None:
                try:
                    self.specialize_state = spec_cache.specialize_now(self.router)
                    return
                except spec_cache.BuildError as e:
                    error = e
            self.specialize_state = f"failed: {error}"
            warn(str(error))
            return
        self.specializing = spec_cache.BackgroundSpecialization(self.router, on_failure=warn)

    def _add_driver_handlers(self, router) -> None:
        from clickpy.runtime.handlers import Handler

        router.add_root_handler(Handler("specialized", read=lambda _: self.specialized_state()))
        if self.ns.allow_reconfigure:
            router.add_root_handler(Handler("hotconfig", write=self._hotconfig, raw=True))
            router.add_root_handler(Handler("reload", write=self._reload_request, raw=True))
            router.add_root_handler(Handler("reload_report", read=lambda _: self.last_reload.format()
                                            if self.last_reload is not None else ""))
            router.add_root_handler(Handler("reload_definitions", read=lambda _: self._packed_definitions()))

    def _packed_definitions(self) -> str:
        """The driver's NAME=value parameters (msgpack, latin-1): a reload's start from them."""
        import msgpack

        return msgpack.packb(self.definitions, use_bin_type=True).decode("latin-1")

    def _hotconfig(self, _element, text: str):
        """Write handler (Click's): reload the running router with text's configuration."""
        return self.reload(pipeline.Source(text, "config"), self.definitions)

    def _reload_request(self, _element, value: str):
        """Write handler for 'clickpy reload': msgpack [file name, text, {NAME: value}]
        (latin-1), so errors name the user's file and NAME=value overrides the driver's."""
        import msgpack

        try:
            filename, text, definitions = msgpack.unpackb(value.encode("latin-1"), raw=False)
            if not (isinstance(filename, str) and isinstance(text, str) and isinstance(definitions, dict)
                    and all(isinstance(k, str) and isinstance(v, str) for k, v in definitions.items())):
                raise ValueError("wrong types")
        except (ValueError, TypeError, msgpack.UnpackException) as e:
            raise HandlerError(f"reload: expected [file name, text, definitions] in msgpack ({e})") from None
        return self.reload(pipeline.Source(text, filename), {**self.definitions, **definitions})

    def reload(self, source, definitions):
        """Reload the running router with source's configuration, or keep it on error.

        The configuration is checked in a child process, its new elements are
        built in slices beside the running graph, and the swap happens
        between two batches (``clickpy.control.background_build``,
        ``clickpy.reload``); the returned Pending settles when it is done, and
        the 'reload_report' handler tells what the reload did.
        """
        from clickpy.control.background_build import BackgroundBuild
        from clickpy.reload.swap import Reload

        if self.building is not None:
            raise HandlerError("a new configuration is already being built")
        reload = None

        running = self.router.plan

        def start(plan, diff):
            nonlocal reload
            # The child's diff holds unless another reload came in between.
            reload = Reload(self.router, plan, diff if self.router.plan is running else None)
            return reload.build_and_swap()

        def done(ok, error):
            self.building = None
            if ok:
                self.last_reload = reload.report
                _print_diagnostics(reload.plan.diagnostics, self.ns.no_warnings)
                self.specialize(running=True)       # the new graph's own module

        build = BackgroundBuild(self.router.scheduler, source, definitions, self.extra, start, done, running)
        # A build that could not even start has ended already (and called done).
        self.building = None if build.pending.done else build
        return build.pending

    def request_stop(self) -> str:
        """Stop the router (now if running, at its start if being built); the phase it was in."""
        if self.phase == "running":
            self.router.stop()
        elif self.phase == "building":
            self.stop_requested = True
        return self.phase

    def run(self, source) -> int:
        """Build, run and clean up the router; the exit status."""
        self.phase = "building"
        try:
            return _run(self, source, self.ns)
        finally:
            self.phase = "done"


def _control_socket_name(i: int) -> str:
    return "click_driver@@ControlSocket" + (f"@{i}" if i else "")


def main(argv: list[str]) -> int:
    parser = build_parser()
    # As in Click, the simulated start time is only given as --simtime=START,
    # so '--simtime FILE' reads FILE as the configuration.
    simtime_start = None
    rest_argv = []
    for a in argv:
        m = re.fullmatch(r"--(?:simtime|simulation-time)=(.*)", a)
        if m:
            try:
                simtime_start = float(m.group(1))
            except ValueError:
                print(f"clickpy run: --simtime wants a number of seconds, not '{m.group(1)}'", file=sys.stderr)
                return 1
            a = "--simtime"
        rest_argv.append(a)
    ns = parser.parse_intermixed_args(rest_argv)
    if ns.threads != 1:
        print(f"clickpy run: -j {ns.threads}: a router runs on one driver thread; more are not supported yet",
              file=sys.stderr)
        return 1
    ns.simtime = (simtime_start or 0.0) if ns.simtime else None
    if ns.clickpath:
        os.environ["CLICKPATH"] = ns.clickpath
    try:
        source, defs = config_source.from_arguments(ns)
    except config_source.SourceError as e:
        print(f"clickpy run: {e}", file=sys.stderr)
        return 1
    driver = Driver(ns, defs)

    def stop(signum, frame):
        # As in Click: before the driver runs, a signal ends the process;
        # afterwards it stops the router, which still prints its handlers.
        if driver.phase != "running":
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        else:
            driver.request_stop()

    # Installed before the router is built, so that elements that catch
    # signals themselves (Script TYPE SIGNAL) replace these while initializing.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return driver.run(source)
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


def _run(driver: Driver, source, ns) -> int:
    router = driver.build(source)
    if router is None:
        return 1

    exit_value = 0
    if ns.output:
        text = router.graph.unparse()
        if ns.output == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            try:
                with open(ns.output, "w") as f:
                    f.write(text)
            except OSError as e:
                print(f"clickpy: {ns.output}: {e.strerror}", file=sys.stderr)
                exit_value = 1

    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    if not ns.quit and router.elements:
        old_wakeup = signal.set_wakeup_fd(router.scheduler.wakeup_fd, warn_on_full_buffer=False)
        driver.phase = "running"
        if driver.stop_requested:
            router.stop()
        try:
            driver.specialize()
            router.run()
        finally:
            driver.phase = "done"
            if driver.building is not None:
                driver.building.cancel()
            if driver.specializing is not None:
                driver.specializing.cancel()
            signal.set_wakeup_fd(old_wakeup)
    elif not ns.quit and not ns.no_warnings:
        print(f"{source.filename}: warning: configuration has no elements, exiting", file=sys.stderr)

    if ns.time:
        after = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.monotonic() - start
        print(f"{after.ru_utime - before.ru_utime:.3f}u {after.ru_stime - before.ru_stime:.3f}s "
              f"{int(wall // 60)}:{wall % 60:05.2f}")

    if ns.handler and not _call_read_handlers(router, ns.handler):
        exit_value = 1

    if ns.exit_handler:
        try:
            text = router.read(ns.exit_handler).strip()
            from clickpy.runtime.args import ArgError, Bool, Int

            try:
                exit_value = Int(text)
            except ArgError:
                try:
                    exit_value = 0 if Bool(text) else 1
                except ArgError:
                    print("clickpy: exit handler value should be integer", file=sys.stderr)
                    exit_value = 255
        except HandlerError as err:
            print(f"clickpy: {err}", file=sys.stderr)
            exit_value = 255

    router.cleanup()
    sys.stdout.flush()
    return exit_value
