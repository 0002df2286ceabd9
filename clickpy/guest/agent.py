"""What runs inside a guest: take the rings, wait for a Plan, run it, obey the switch.

A guest process comes from the zygote already sandboxed (clickpy.guest.sandbox)
with its control channel and one pipe pair per switch port. It

1. takes its pipe pairs (``PipePair.from_fds``): its own buffers are the
   pairs' grants, carved from the switch's shared pool;
2. says ``{"op": "attached"}`` and waits: a sandbox in the switch's pool of
   ready sandboxes waits here for its Plan;
3. on ``start`` (a packed Plan, the image's hash and its device names),
   routes each device name to the slave end of the matching pipe, takes the
   router the zygote prepared for the image (configured before the fork:
   only its initialization is left, and its configured elements stay in
   pages shared with the zygote) or builds one from the Plan, and says
   ``ready`` (or ``failed`` with the configuration errors);
4. runs the router, serving control requests between batches:
   ``stats``, ``read`` and ``write`` of handlers, ``reload`` (a new packed
   Plan, through the reload path: state kept) and ``stop``.

Every request may carry a ``seq`` that its reply repeats. A request the
agent does not understand gets ``{"op": "error"}``; it never ends the guest.
"""
from __future__ import annotations

import os
import selectors
import sys
import time

from clickpy.guest.channel import Channel, ChannelError
from clickpy.plan import Plan

ATTACH_TIMEOUT = 3600.0       # a pooled sandbox may wait long for its Plan
MEMORY_EVERY = 5.0            # seconds a guest's memory figures are reused in its stats


def main(control_fd: int, pipe_fds: list[tuple[int, int, int]]) -> int:
    """The guest's life, from its descriptors to its exit status."""
    import socket

    from clickpy.guest.sandbox import host_pid
    from clickpy.netmap_shim.backends.pipe import PipePair, announce_pid

    announce_pid(host_pid())      # the pid the switch sees on our ends (ours is 1 in our PID namespace)
    chan = Channel(socket.socket(fileno=control_fd))
    pairs = [PipePair.from_fds(ctrl, pool, sock, 1) for ctrl, pool, sock in pipe_fds]
    try:
        chan.send({"op": "attached", "ports": len(pairs)})
        _while_waiting(chan, pairs)
        start = chan.wait(ATTACH_TIMEOUT)
        if start.get("op") != "start":
            return 0
        router = _build(chan, start, pairs)
    except ChannelError:
        return 0                      # the switch went away or retired this sandbox
    if router is None:
        return 1
    exports = start.get("exports")
    agent = Agent(chan, router, exports if isinstance(exports, list) else ["*"])
    router.scheduler.add_fd(chan.fileno(), selectors.EVENT_READ, agent.on_readable)
    router.run()
    router.cleanup()
    for pair in pairs:
        pair.close()
    return 0


def _while_waiting(chan: Channel, pairs) -> None:
    """What a sandbox can do before it knows its Plan (unless the Plan is
    already here): map its rings, and give the prepared routers their own
    selectors, so that a start from the pool only initializes elements."""
    import select

    from clickpy.guest import zygote

    from clickpy.netmap_shim.ring import PortError

    if select.select([chan.sock], [], [], 0)[0]:
        return
    try:
        for pair in pairs:
            pair.open_early(1)
    except PortError:
        pass                          # the router's own open says what is wrong
    zygote.fork_prepared()


def _build(chan: Channel, start: dict, pairs):
    """The guest's router: the zygote's prepared one for its image (only
    initialized here), or built from the start message's Plan."""
    from clickpy.elements.devices.device_port import route_devices
    from clickpy.errors import ConfigError
    from clickpy.guest import zygote
    from clickpy.runtime.router import Router

    t0 = time.perf_counter()
    received_ns = time.monotonic_ns()
    try:
        names = start.get("ports", [])
        if not isinstance(names, list) or len(names) > len(pairs):
            raise ValueError(f"the image names {len(names)} ports, the switch attached {len(pairs)}")
        route_devices({name: pair.slave for name, pair in zip(names, pairs)})
        router = zygote.prepared.get(start.get("image"))
        prepared = router is not None
        if prepared:
            zygote.fork_prepared()
            for _ in router.initialize_steps():
                pass
        else:
            router = Router.from_plan(Plan.unpack(start["plan"]))
            module = zygote.specialized_modules.get(start.get("image"))
            if module is not None:
                from clickpy.specialize import install

                install(router, module)
    except (ValueError, KeyError, TypeError) as e:
        chan.send({"op": "failed", "error": f"bad start message: {e}"})
        return None
    except (ImportError, OSError) as e:    # an element module this uid cannot read (see clickpy.guest.zygote)
        chan.send({"op": "failed", "error": f"cannot load the Plan's elements in the guest: {e}"})
        return None
    except ConfigError as e:
        chan.send({"op": "failed", "error": e.diagnostics.format().rstrip()})
        return None
    # (monotonic clock times, for the switch's spin-up figures)
    chan.send({"op": "ready", "build_ms": (time.perf_counter() - t0) * 1e3, "prepared": prepared,
               "received_ns": received_ns, "ready_ns": time.monotonic_ns()})
    chan.flush(block=True)
    return router


class Agent:
    """Serves the switch's requests on the guest's control channel, between batches."""

    def __init__(self, chan: Channel, router, exports=("*",)):
        self.chan = chan
        self.router = router
        self.exports = list(exports)
        self.started = time.monotonic()
        self._memory, self._memory_at = None, 0.0

    def on_readable(self, *_args) -> None:
        try:
            messages = self.chan.receive()
        except ChannelError:
            self.router.stop()         # the switch is gone: so is the guest
            return
        for m in messages:
            reply = self.answer(m)
            if "seq" in m:
                reply["seq"] = m["seq"]
            try:
                self.chan.send(reply)
            except ChannelError:
                self.router.stop()
                return

    def answer(self, m: dict) -> dict:
        op = m.get("op")
        try:
            if op == "stats":
                return {"op": "stats", **self.stats()}
            if op == "read":
                return {"op": "value", "value": self.router.read(self._exported(m.get("handler")))}
            if op == "write":
                value = m.get("value", "")
                if not isinstance(value, str):
                    raise ValueError("value must be a string")
                self.router.write(self._exported(m.get("handler")), value)
                return {"op": "written"}
            if op == "reload":
                report = self.router.reload(Plan.unpack(m.get("plan")))
                return {"op": "reloaded", "report": report.format()}
            if op == "stop":
                self.router.stop()
                return {"op": "stopping"}
        except Exception as e:        # a bad request is answered, never fatal to the guest
            return {"op": "error", "error": f"{op}: {e}"}
        return {"op": "error", "error": f"unknown request {op!r}"}

    def _exported(self, handler) -> str:
        if not isinstance(handler, str):
            raise ValueError("handler must be a string ELEMENT.HANDLER")
        if "*" not in self.exports and handler not in self.exports:
            raise PermissionError(f"{handler} is not exported by this guest's image")
        return handler

    def stats(self) -> dict:
        """Packets through the guest's device elements, its memory and uptime."""
        rx = tx = drops = 0
        for e in self.router.elements:
            kind = type(e).__name__
            if kind == "FromDevice":
                rx += e.count
                drops += getattr(e, "drops", 0)
            elif kind == "ToDevice":
                tx += e.count
                drops += e.drops
        now = time.monotonic()
        if self._memory is None or now - self._memory_at >= MEMORY_EVERY:
            # (reading smaps_rollup walks the page tables: not at every request)
            self._memory, self._memory_at = memory_use(), now
        return {"rx": rx, "tx": tx, "drops": drops, "uptime": now - self.started, **self._memory}


def memory_use(pid: str = "self") -> dict:
    """{'rss', 'pss', 'uss'} in bytes from /proc/PID/smaps_rollup (USS: private pages)."""
    out = {"rss": 0, "pss": 0, "uss": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                kb = rest.split()
                if not kb or not kb[0].isdigit():
                    continue
                n = int(kb[0]) * 1024
                if key == "Rss":
                    out["rss"] = n
                elif key == "Pss":
                    out["pss"] = n
                elif key in ("Private_Clean", "Private_Dirty"):
                    out["uss"] += n
    except OSError:
        pass
    return out
