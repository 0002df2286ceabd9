"""The zygote: a warm process that guests are forked from.

Starting a Python process cold costs about 150 ms (imports); forking a warm
one costs about 1 ms. So the switch forks one zygote early, before it opens
any host port, and the zygote imports the runtime once, and the element
modules of each image it prepares, freezes its objects out of the garbage
collector's reach (so guests do not copy the pages the collector would
touch) and then only forks. It does not import the whole element library:
a fork copies the page tables of every mapped module, and the library's
~140 extension modules made a fork cost 1.8 ms instead of 0.8 ms here (a
guest start 10 ms instead of 7.4). A guest that needs a module the zygote
did not import (a Plan that was never prepared, a reload to new classes)
imports it itself, which works where its files are readable to the guest's
unprivileged uid; where not, the start or reload fails with the reason.
It shares the switch's packet-buffer pool (it was forked after the pool was
mapped), but never makes a packet itself: each guest takes buffers of its
own from the grants of its pipe pairs.

Protocol (clickpy.guest.channel), switch -> zygote:

- ``{"op": "image", "id": HASH, "plan": PLAN}``: prepare a router of this
  Plan once (instantiated, configured, handlers made, nothing opened), so
  that a guest of the image forked later only initializes it: cheaper to
  start, and its configured elements stay shared with the zygote's pages
  (``clickpy.guest.agent``). The zygote owns no packet buffer, so an element
  that makes packets while configuring fails here, and its guests build
  from the Plan instead.
- ``{"op": "spawn", "id": ID, "npairs": N, "sandbox": {"cgroup": NAME,
  "memory": BYTES} or None}`` with the descriptors [control socket, then
  (control memfd, pool memfd, socket) of each pipe pair]: clone a guest
  into a sandbox (clickpy.guest.sandbox: its own namespaces, the memory
  cgroup NAME the switch made, an unprivileged uid, the seccomp filter,
  only these descriptors) that runs clickpy.guest.agent on them; None
  forks it plainly (tests, machines without the privileges).

zygote -> switch: ``hello`` once it is warm, ``image_ready`` (id, error or
None), ``spawned`` (id, host pid) or ``spawn_failed`` (id, error), and
``exited`` (pid, exit code or signal) for every guest that ends. The zygote dies with the switch (PR_SET_PDEATHSIG),
and its guests with it.
"""
from __future__ import annotations

import ctypes
import gc
import os
import select
import signal
import socket
import sys
import traceback

from clickpy.guest.channel import Channel, ChannelError

PR_SET_PDEATHSIG = 1
HELLO_TIMEOUT = 60.0
# The zygote and its guests run this much nicer than the switch: when
# starting guests takes both cores, the switch still drains its host ports.
GUEST_NICE = 5
_shared = None
# In the zygote (and so in every guest forked from it): image hash -> a
# prepared Router of that image's Plan.
prepared: dict = {}
# image hash -> its specialised module (clickpy.specialize), imported here so
# that a guest built from its Plan (not prepared) installs it without loading.
specialized_modules: dict = {}
_prepared_forked = False      # in a guest: the prepared routers have selectors of their own


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Zygote:
    """The switch's handle on its zygote process."""

    def __init__(self, pid: int, chan: Channel):
        self.pid = pid
        self.chan = chan

    @classmethod
    def start(cls) -> "Zygote":
        """Fork the zygote from this process and wait until it is warm."""
        # The buffer pool is made when the runtime is imported: it must exist
        # before the fork, so that the zygote (and every guest) maps this one.
        from clickpy.runtime import packet  # noqa: F401

        chan, theirs = Channel.pair()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                chan.sock.close()
                code = _serve(theirs)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        theirs.close()
        z = cls(pid, chan)
        try:
            hello = chan.wait(HELLO_TIMEOUT)
        except ChannelError as e:
            z.close()
            raise OSError(f"the guest zygote did not start: {e}") from None
        if hello.get("op") != "hello":
            z.close()
            raise OSError(f"the guest zygote said {hello!r} instead of hello")
        return z

    @classmethod
    def shared(cls) -> "Zygote":
        """This process's zygote, started on first use (start it early: before host ports are open)."""
        global _shared
        if _shared is None or _shared.chan.closed:
            _shared = cls.start()
        return _shared

    def prepare_image(self, image_id: str, plan: bytes, specialized: tuple[str, bytes] | None = None) -> None:
        """Have the zygote prepare a router of plan for the guests forked
        after this (with the image's specialised module, if it has one)."""
        self.chan.send({"op": "image", "id": image_id, "plan": plan,
                        "specialized": list(specialized) if specialized else None})

    def spawn(self, guest_id: str, control: socket.socket, pairs, sandbox: dict | None) -> None:
        """Ask for a guest; 'spawned' (or 'spawn_failed') comes back on the channel."""
        fds = [control.fileno()]
        for pair in pairs:
            d = pair.fds()
            fds += [d["ctrl"], d["pool"], d["slave"]]
        self.chan.send({"op": "spawn", "id": guest_id, "npairs": len(pairs), "sandbox": sandbox}, fds)

    def close(self) -> None:
        """End the zygote (its guests die with it) and reap it."""
        self.chan.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _serve(sock: socket.socket) -> int:
    """The zygote's loop."""
    _die_with_parent()
    os.nice(GUEST_NICE)
    # Warm: everything a guest runs is imported here, once.
    from clickpy.elements.devices import device_port  # noqa: F401
    from clickpy.guest import agent  # noqa: F401
    from clickpy.netmap_shim.backends import pipe  # noqa: F401
    from clickpy.reload import swap  # noqa: F401
    from clickpy.runtime import router  # noqa: F401

    from clickpy.runtime import packet

    try:
        from clickpy.guest.sandbox import compile_filter

        compile_filter()            # once, here: a guest may not read pyseccomp's files
    except Exception:
        pass                        # reported by the first sandboxed spawn
    packet.disown_small_pool()      # the switch's buffers are not the zygote's to use
    gc.collect()
    gc.freeze()
    chan = Channel(sock)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    chan.send({"op": "hello", "pid": os.getpid()})
    guests: set[int] = set()
    try:
        while True:
            select.select([chan.sock, wake_r], [chan.sock] if chan.wants_write else [], [])
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            _reap(chan, guests)
            chan.flush()
            for m in chan.receive():
                if m.get("op") == "spawn":
                    _spawn(chan, m, guests, (wake_r, wake_w))
                elif m.get("op") == "image":
                    _prepare(chan, m)
                else:
                    for fd in m.get("fds", ()):
                        os.close(fd)
    except ChannelError:
        return 0                      # the switch is gone
    finally:
        for pid in guests:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def fork_prepared() -> None:
    """In a guest: give each prepared router a selector and wake-up pipe of
    its own (Scheduler.after_fork), once."""
    global _prepared_forked
    if not _prepared_forked:
        for router in prepared.values():
            router.scheduler.after_fork()
        _prepared_forked = True


def _prepare(chan: Channel, m: dict) -> None:
    from clickpy.errors import ConfigError
    from clickpy.plan import Plan
    from clickpy.runtime.router import Router

    image_id, error = m.get("id"), None
    try:
        router = Router(Plan.unpack(m.get("plan")))
        router.prepare()
        prepared[image_id] = router
        error = _load_specialized(image_id, m.get("specialized"), router)
    except ConfigError as e:
        error = e.diagnostics.format().rstrip()
    except Exception as e:           # a damaged request: its guests build from the Plan
        error = f"{type(e).__name__}: {e}"
    gc.collect()
    gc.freeze()
    chan.send({"op": "image_ready", "id": image_id, "error": error})


def _load_specialized(image_id, specialized, router) -> str | None:
    """Import an image's specialised module (guests inherit it) and give the
    prepared router its functions; why not, or None."""
    if specialized is None:
        return None
    from clickpy import spec_cache
    from clickpy.specialize import install

    try:
        name, so = specialized
        if not (isinstance(name, str) and name.startswith("clickpy_spec_") and isinstance(so, bytes)):
            raise ValueError("expected a module name and its shared object")
        module = spec_cache.import_bytes(name, so)
    except (ValueError, TypeError, OSError, spec_cache.BuildError) as e:
        return f"specialised module not loaded, the generic path runs: {e}"
    specialized_modules[image_id] = module
    install(router, module)
    return None


def _reap(chan: Channel, guests: set[int]) -> None:
    while guests:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        guests.discard(pid)
        if os.WIFSIGNALED(status):
            chan.send({"op": "exited", "pid": pid, "signal": os.WTERMSIG(status), "code": None})
        else:
            chan.send({"op": "exited", "pid": pid, "signal": 0, "code": os.waitstatus_to_exitcode(status)})


def _spawn(chan: Channel, m: dict, guests: set[int], zygote_fds) -> None:
    fds = m.get("fds", [])
    gid = m.get("id")
    npairs = m.get("npairs")
    if not isinstance(npairs, int) or len(fds) != 1 + 3 * npairs or not isinstance(gid, str):
        for fd in fds:
            os.close(fd)
        chan.send({"op": "spawn_failed", "id": gid, "error": "malformed spawn request"})
        return
    control, pipe_fds = fds[0], [tuple(fds[1 + 3 * i:4 + 3 * i]) for i in range(npairs)]
    sandbox = m.get("sandbox")
    if sandbox is not None and not isinstance(sandbox, dict):
        sandbox = {}
    try:
        pid = _fork(sandbox)
    except OSError as e:
        for fd in fds:
            os.close(fd)
        chan.send({"op": "spawn_failed", "id": gid, "error": str(e)})
        return
    if pid == 0:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            chan.sock.close()
            for fd in zygote_fds:
                os.close(fd)
            _die_with_parent()
            _enter_sandbox(sandbox, fds)
            from clickpy.guest import agent

            code = agent.main(control, pipe_fds)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    for fd in fds:
        os.close(fd)
    guests.add(pid)
    chan.send({"op": "spawned", "id": gid, "pid": pid})


def _fork(sandbox: dict | None) -> int:
    """A child in namespaces of its own (clickpy.guest.sandbox), or a plain fork when sandbox is None."""
    if sandbox is None:
        return os.fork()
    from clickpy.guest.sandbox import clone_sandboxed

    return clone_sandboxed()


def _enter_sandbox(sandbox: dict | None, keep_fds) -> None:
    """Confine the child: its descriptors, mounts, memory cgroup, privileges and system calls."""
    if sandbox is None:
        return
    from clickpy.guest.sandbox import MemoryCgroup, SandboxLimits, enter_sandbox

    from clickpy.runtime import packet

    cgroup = sandbox.get("cgroup")
    memory = MemoryCgroup(cgroup, int(sandbox.get("memory") or 1)) if cgroup else None
    # The buffer pools' own memfds stay too (a pipe compares the switch's with them).
    pools = {pool.fd for pool in (packet.small_pool(), packet.large_pool()) if pool.fd >= 0}
    # and the prepared routers' schedulers' (after_fork replaces them with the guest's own)
    schedulers = {fd for router in prepared.values() for fd in router.scheduler.descriptors()}
    enter_sandbox(SandboxLimits(memory=memory, keep_fds=frozenset(keep_fds) | pools | schedulers))
