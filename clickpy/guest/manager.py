"""The switch's side of its guests: start them from the zygote, watch them, restart them.

A ``GuestManager`` lives in the switch's router and works on its scheduler
(descriptor callbacks and timers, never blocking). For each guest it makes
one pipe pair per switch port (the switch keeps the master ends and owns
the buffers, the guest gets the slave ends and a grant), a control channel,
and asks the zygote to fork the guest.

It keeps ``pool_size`` sandboxes ready: forked, sandboxed, rings attached,
waiting only for a Plan. ``start`` takes one when there is one (then a
start costs building the router from the Plan) and makes a new one
otherwise; the pool is refilled in the background.

A guest that exits without being asked to (a crash, a kill at its memory
cap) is reaped, counted, and started again after a backoff that doubles up
to ``backoff_max`` (and resets once a guest has run ``backoff_max``
seconds). The same ``Guest`` object stands for it across restarts, so the
switch's tables stay valid; its ``ports`` change.

While a manager of sandboxed guests lives, the kernel favours moving tasks
between cgroups (``fast_cgroup_moves``, see clickpy.guest.sandbox): a new
guest joins its memory cgroup in about 0.3 ms instead of 5-16 ms.
"""
from __future__ import annotations

import collections
import hashlib
import itertools
import os
import selectors
import signal
import time
from dataclasses import dataclass, field

from clickpy.guest.channel import Channel, ChannelError
from clickpy.guest.zygote import Zygote

_ids = itertools.count(1)     # guest ids, unique in this process (managers share the zygote)
REFILL_DELAY = 0.002          # seconds between two sandboxes made for the pool or the warm guests

# Guest states.
QUEUED = "queued"       # waiting for a start slot (max_starting): no process or rings yet
SPAWNING = "spawning"   # forked or being forked, rings not attached yet
IDLE = "idle"           # a ready sandbox in the pool, waiting for a Plan
STARTING = "starting"   # building its router from the Plan
READY = "ready"         # forwarding
STOPPING = "stopping"   # asked to stop
BACKOFF = "backoff"     # exited unexpectedly, restarting after a delay
GONE = "gone"           # stopped for good


@dataclass
class GuestSpec:
    """What a guest runs: a packed Plan and the device names it uses, in switch-port order."""
    name: str
    plan: bytes
    ports: list[str]
    memory_cap: int = 64 << 20
    exports: list[str] = field(default_factory=lambda: ["*"])
    # (module name, shared object) of the image's specialised module, or None
    specialized: tuple[str, bytes] | None = None

    @property
    def image_id(self) -> str:
        """Names the Plan for the zygote's prepared routers."""
        return hashlib.sha256(self.plan).hexdigest()[:24]


# Buffer domains (see PipePair.create): one per live guest of this process,
# so that the switch takes back all a killed guest's buffers.
_free_domains = list(range(4095, 0, -1))


class Guest:
    def __init__(self, manager: "GuestManager", gid: str):
        self.manager = manager
        self.id = gid
        self.state = SPAWNING
        self.spec: GuestSpec | None = None
        self.key = None
        self.tenant = None
        self.pid = 0
        self.chan: Channel | None = None
        self.pairs = []
        self.ports = []               # master PipePorts, one per switch port
        self.on_ready = None
        self.on_exit = None
        self.spawned_ns = 0           # when the sandbox was asked for
        self.started_ns = 0           # when its Plan was sent
        self.ready_ns = 0
        self.last_active_ns = 0       # the switch's dispatcher notes traffic here
        self.restarts = 0
        self.exits = []               # (time, reason) of unexpected exits, newest last
        self.backoff = 0.0
        self.stats: dict = {}
        self.last_error = ""
        self.cgroup = None            # its MemoryCgroup (sandboxed guests)
        self.domain = 0               # its buffer domain in the switch's pool (0: none left)
        self.warming = False          # starting to join its image's warm guests
        self.prepared = False         # it started from the zygote's prepared router of its image
        self.build_ms = None          # how long its router took to build or initialize
        self.timeline = None          # (plan sent, plan received, router ready, ready seen) in monotonic ns
        self._seq = itertools.count(1)
        self._replies: dict[int, object] = {}

    def __repr__(self):
        return f"<Guest {self.id} {self.state} pid {self.pid}>"

    @property
    def uptime(self) -> float:
        return (time.monotonic_ns() - self.ready_ns) / 1e9 if self.state == READY else 0.0

    def request(self, message: dict, callback=None) -> None:
        """Send a control request; callback(reply) gets the answer (an {'op': 'error'} if the guest goes)."""
        if self.chan is None or self.chan.closed:
            if callback is not None:
                callback({"op": "error", "error": f"guest {self.id} is {self.state}"})
            return
        seq = next(self._seq)
        if callback is not None:
            self._replies[seq] = callback
        try:
            self.chan.send({**message, "seq": seq})
        except ChannelError as e:
            self._replies.pop(seq, None)
            if callback is not None:
                callback({"op": "error", "error": str(e)})
            return
        self.manager._watch(self)


class GuestManager:
    def __init__(self, scheduler, nports: int, *, pool_size: int = 2, slots: int = 256, grant: int = 512,
                 backoff_initial: float = 0.1, backoff_max: float = 10.0, sandbox: bool = True,
                 memory_cap: int = 64 << 20, fast_cgroup_moves: bool = True, prepare_images: bool = True,
                 zygote: Zygote | None = None, images=(), max_starting: int = 16):
        self.scheduler = scheduler
        self.nports = nports
        self.pool_size = pool_size
        self.slots = slots
        self.grant = grant
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.sandbox = sandbox        # False: plain forks (no namespaces, filter or cap)
        self.memory_cap = memory_cap  # of a pooled sandbox, until it learns its guest's
        self.prepare_images = prepare_images    # the zygote prepares each spec's router on its first start
        self.zygote = zygote or Zygote.shared()
        self.guests: dict[str, Guest] = {}       # every guest and pooled sandbox, by id
        self.pool: list[Guest] = []               # sandboxes not given a Plan yet
        self.max_starting = max_starting
        self.starting: set[Guest] = set()         # given a Plan, not ready yet
        self.queue: collections.deque[Guest] = collections.deque()   # QUEUED, in order
        self.by_pid: dict[int, Guest] = {}
        self.counts = {"spawned": 0, "started": 0, "ready": 0, "failed": 0, "crashed": 0,
                       "killed": 0, "memory_cap": 0, "restarted": 0, "stopped": 0, "pool_failures": 0,
                       "unreclaimed": 0}
        self.last_error = ""
        self._closed = False
        scheduler.add_fd(self.zygote.chan.fileno(), selectors.EVENT_READ, self._on_zygote)
        from clickpy.runtime.scheduler import Timer

        # the kernel favours cgroup moves for us (sandbox.favor_cgroup_moves)
        self.fast_cgroup_moves = False
        if sandbox:
            _sweep_stale_cgroups()
            if fast_cgroup_moves:
                from clickpy.guest.sandbox import SandboxError, favor_cgroup_moves

                try:
                    favor_cgroup_moves()
                    self.fast_cgroup_moves = True
                except SandboxError as e:
                    self.last_error = str(e)
        self._refill = Timer(callback=lambda _t: self._fill_pool())
        self._refill.initialize(scheduler)
        self.images: set[str] = set()
        self.warm: dict[str, list[Guest]] = {}          # image -> guests running it, waiting for a key
        self.warm_specs: dict[str, tuple] = {}          # image -> (spec, how many to keep)
        self.image_errors: dict[str, str] = {}     # images the zygote could not prepare (built per guest)
        for spec in images:
            self.prepare(spec)
        self._fill_pool()

    def prepare(self, spec: GuestSpec) -> None:
        """Have the zygote configure spec's router once, so that its guests only initialize it.

        Sandboxes forked before this (the pool) do not have it: they are
        replaced, so that the next starts find it."""
        if spec.image_id in self.images:
            return
        self.images.add(spec.image_id)
        self.zygote.prepare_image(spec.image_id, spec.plan, spec.specialized)
        stale = [g for g in self.pool if g.state in (SPAWNING, IDLE)]
        for g in stale:
            self.pool.remove(g)
            g.state = STOPPING
            self._kill(g)
        if stale:
            self._refill_soon()

    # --- starting and stopping --------------------------------------------------

    def start(self, spec: GuestSpec, *, key=None, tenant=None, on_ready=None, on_exit=None) -> Guest:
        """A guest running spec: a pooled sandbox if one is there, else a new one.

        A warm guest of spec (``keep_warm``) is taken first: it is returned
        READY, and on_ready is not called. At most max_starting guests start
        at once (each holds rings and a process); more wait in order
        (QUEUED), so that a burst of new keys costs time, not buffers. A
        start that finds too few buffers free waits in the queue too, until
        a guest that goes gives its buffers back."""
        warm = self.warm.get(spec.image_id)
        if warm:
            # Already running its Plan, waiting for a key: ready now (no on_ready call).
            g = warm.pop(0)
            g.key, g.tenant, g.on_ready, g.on_exit = key, tenant, on_ready, on_exit
            g.started_ns = g.ready_ns = g.last_active_ns = time.monotonic_ns()
            self._refill_soon()
            return g
        from clickpy.netmap_shim.ring import PortError

        g = None
        if len(self.starting) < self.max_starting:
            try:
                g = self.pool.pop(0) if self.pool else self._spawn()
            except PortError as e:      # out of buffers: it waits for a guest to give some back
                self.last_error = str(e)
            else:
                self.starting.add(g)
        if g is None:
            g = Guest(self, f"g{next(_ids)}")
            g.state = QUEUED
            self.guests[g.id] = g
            self.queue.append(g)
        g.spec, g.key, g.tenant, g.on_ready, g.on_exit = spec, key, tenant, on_ready, on_exit
        g.started_ns = time.monotonic_ns()
        if g.state in (IDLE, SPAWNING):
            # (a guest just forked finds its Plan waiting when it has attached: no round trip)
            self._send_plan(g)
        if self.prepare_images and spec.image_id not in self.images:
            # for the next guests of spec (this one builds from the Plan)
            self.prepare(spec)
        self._refill_soon()
        return g

    def _started(self, g: Guest) -> None:
        """g is no longer starting (ready, failed or gone): the next queued guest may start."""
        self.starting.discard(g)
        self._dequeue()

    def _dequeue(self) -> None:
        """Start queued guests while there are start slots and buffers for them."""
        while self.queue and len(self.starting) < self.max_starting and not self._closed:
            q = self.queue.popleft()
            try:
                self._spawn(q)
            except Exception as e:      # out of buffers: it waits for a guest to give some back
                self.last_error = str(e)
                q.state = QUEUED
                self.queue.appendleft(q)
                self.guests[q.id] = q
                return
            self.starting.add(q)

    def stop(self, g: Guest) -> None:
        """Stop a guest for good (asks it, and kills it if it does not go within a second)."""
        if g.state in (GONE, STOPPING):
            return
        was_idle = g.state in (BACKOFF, QUEUED)
        if g.state == QUEUED:
            self.queue.remove(g)
        g.state = STOPPING
        if g in self.pool:
            self.pool.remove(g)
        if was_idle or not g.pid:
            self._forget(g, "stopped")
            return
        g.request({"op": "stop"})
        from clickpy.runtime.scheduler import Timer

        t = Timer(callback=lambda _t: self._kill(g))
        t.initialize(self.scheduler)
        t.schedule_after(1.0)

    def close(self) -> None:
        """Kill every guest of this manager (the zygote stays, for other managers) and let go of them."""
        if self._closed:
            return
        self._closed = True
        self._refill.unschedule()
        self.scheduler.remove_fd(self.zygote.chan.fileno())
        cgroups = []
        guests = list(self.guests.values())
        for g in guests:
            g.state = STOPPING
            self._kill(g)
            if not g.pid and g.chan is not None:    # not known yet: it exits when its channel closes
                self._hang_up(g)
        _wait_hung_up([port for g in guests for port in g.ports[:1]], 2.0)
        for g in guests:
            self._release(g)
            if g.cgroup is not None:
                cgroups.append(g.cgroup)
                g.cgroup = None
        self.guests.clear()
        # The zygote reaps the killed guests; their cgroups go once it has.
        deadline = time.monotonic() + 5.0
        for cgroup in cgroups:
            while cgroup.exists:
                try:
                    cgroup.remove()
                except Exception:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)
        self.pool.clear()
        self.queue.clear()
        self.starting.clear()
        if self.fast_cgroup_moves:
            from clickpy.guest.sandbox import unfavor_cgroup_moves

            unfavor_cgroup_moves()
            self.fast_cgroup_moves = False

    # --- the life of a sandbox ----------------------------------------------------

    def keep_warm(self, spec: GuestSpec, count: int) -> None:
        """Keep count guests of spec running their Plan, ready for a key:
        a start that takes one costs no fork and no build (the switch's
        per-flow tenants, whose first packets should not wait)."""
        self.prepare(spec)
        self.warm_specs[spec.image_id] = (spec, count)
        self.warm.setdefault(spec.image_id, [])
        self._refill_soon()

    def _fill_warm(self) -> bool:
        """Start one warm guest if an image lacks one; whether it did."""
        for image_id, (spec, count) in self.warm_specs.items():
            coming = sum(1 for g in self.starting if g.warming and g.spec is spec)
            if len(self.warm[image_id]) + coming < count:
                g = self.pool.pop(0) if self.pool else self._spawn()
                g.spec, g.warming = spec, True
                g.on_ready = lambda g: self._warmed(g)
                self.starting.add(g)
                self._send_plan(g)
                return True
        return False

    def _warmed(self, g: Guest) -> None:
        g.warming = False
        g.on_ready = None
        self.warm[g.spec.image_id].append(g)

    def _refill_soon(self) -> None:
        """Top the pool and the warm guests up in the background: a little
        later, so that the start that emptied them moves its first packets
        first, and one sandbox per turn of the driver."""
        if not self._refill.scheduled:
            self._refill.schedule_after(REFILL_DELAY)

    def _fill_pool(self) -> None:
        if self._closed:
            return
        try:
            made = self._fill_warm()
            if not made and len(self.pool) < self.pool_size:
                self.pool.append(self._spawn())
                made = True
            if made:                    # perhaps more to make: next turn
                self._refill.schedule_after(REFILL_DELAY)
        except Exception as e:          # out of buffers or descriptors: try again later
            self.last_error = str(e)
            self.counts["pool_failures"] += 1
            self._refill.schedule_after(1.0)

    def _spawn(self, g: Guest | None = None) -> Guest:
        from clickpy.netmap_shim.backends.pipe import PipePair

        if g is None:
            g = Guest(self, f"g{next(_ids)}")
            self.guests[g.id] = g
        g.state = SPAWNING
        g.pid = 0
        g.spawned_ns = time.monotonic_ns()
        tag = f"{os.getpid()}-{g.id}-{g.restarts}"
        g.pairs = []
        g.domain = _free_domains.pop() if _free_domains else 0
        try:
            for i in range(self.nports):
                g.pairs.append(PipePair.create(tag, i, slots=self.slots, grant=self.grant, domain=g.domain))
        except Exception:
            self._close_pairs(g)
            self.guests.pop(g.id, None)
            raise
        g.chan, theirs = Channel.pair()
        try:
            self.zygote.spawn(g.id, theirs, g.pairs, self._sandbox_of(g, tag))
        finally:
            theirs.close()
        for pair in g.pairs:
            pair.release_end(1)
        g.ports = [pair.open(0) for pair in g.pairs]
        self._watch(g)
        self.counts["spawned"] += 1
        if g.spec is not None:          # a queued or restarted guest
            self._send_plan(g)
        return g

    def _sandbox_of(self, g: Guest, tag: str) -> dict | None:
        """What the zygote needs to sandbox g: a memory cgroup made for it here."""
        if not self.sandbox:
            return None
        from clickpy.guest.sandbox import MemoryCgroup

        cap = g.spec.memory_cap if g.spec is not None else self.memory_cap
        g.cgroup = MemoryCgroup(tag, cap).create()
        return {"cgroup": g.cgroup.name, "memory": cap}

    def _send_plan(self, g: Guest) -> None:
        if g.cgroup is not None and g.cgroup.limit != g.spec.memory_cap:
            try:
                g.cgroup.resize(g.spec.memory_cap)
            except Exception as e:      # (above what it already uses) it keeps the pool's cap
                g.last_error = f"memory cap: {e}"
        g.state = STARTING
        self.counts["started"] += 1
        try:
            g.chan.send({"op": "start", "plan": g.spec.plan, "image": g.spec.image_id, "ports": g.spec.ports,
                         "exports": g.spec.exports})
        except ChannelError:
            pass                      # its exit is reported by the zygote

    def _watch(self, g: Guest) -> None:
        if g.chan is not None and not g.chan.closed:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if g.chan.wants_write else 0)
            self.scheduler.add_fd(g.chan.fileno(), events, lambda fd, ev, g=g: self._on_guest(g, ev))

    def _on_guest(self, g: Guest, events: int) -> None:
        if g.chan is None or g.chan.closed:
            return                    # released by an earlier callback of the same poll
        try:
            if events & selectors.EVENT_WRITE:
                g.chan.flush()
            messages = g.chan.receive() if events & selectors.EVENT_READ else []
        except ChannelError:
            self._hang_up(g)
            return
        for m in messages:
            for fd in m.get("fds", ()):
                os.close(fd)          # a guest has no business sending descriptors
            op = m.get("op")
            if "seq" in m:
                callback = g._replies.pop(m["seq"], None)
                if callback is not None:
                    callback(m)
                if op == "stats":
                    g.stats = m
            elif op == "attached":
                if g.state == SPAWNING:         # a sandbox for the pool (a guest's Plan went with its spawn)
                    g.state = IDLE
            elif op == "ready" and g.state == STARTING:
                g.state = READY
                g.ready_ns = time.monotonic_ns()
                g.last_active_ns = g.ready_ns
                g.prepared = bool(m.get("prepared"))
                g.build_ms = m.get("build_ms")
                g.timeline = (g.started_ns, m.get("received_ns"), m.get("ready_ns"), g.ready_ns)
                self._started(g)
                self.counts["ready"] += 1
                if g.on_ready is not None:
                    g.on_ready(g)
            elif op == "failed" and g.state == STARTING:
                g.last_error = str(m.get("error", ""))
                if g.warming:                   # an image that cannot run is not kept warm
                    self.warm_specs.pop(g.spec.image_id, None)
                    self.last_error = g.last_error
                self.counts["failed"] += 1
                self._started(g)
                self.stop(g)
        self._watch(g)

    def _hang_up(self, g: Guest) -> None:
        """Its channel closed: the guest exited (the zygote says how)."""
        if g.chan is not None:
            self.scheduler.remove_fd(g.chan.fileno())
            g.chan.close()

    def _on_zygote(self, _fd, _events) -> None:
        try:
            messages = self.zygote.chan.receive()
        except ChannelError:
            self._zygote_died()
            return
        for m in messages:
            op = m.get("op")
            if op == "image_ready":
                if m.get("error"):
                    self.image_errors[m.get("id")] = str(m["error"])
                continue
            g = self.guests.get(m.get("id")) if "id" in m else self.by_pid.get(m.get("pid"))
            if g is None:
                continue
            if op == "spawned":
                g.pid = int(m["pid"])
                self.by_pid[g.pid] = g
                if g.state == STOPPING:
                    self._kill(g)
            elif op == "spawn_failed":
                g.last_error = str(m.get("error"))
                self._exited(g, f"could not be started: {g.last_error}")
            elif op == "exited":
                sig = m.get("signal") or 0
                reason = (f"killed by {signal.Signals(sig).name}" if sig in signal.Signals._value2member_map_
                          else f"killed by signal {sig}") if sig else f"exited with status {m.get('code')}"
                self._exited(g, reason, sig)

    def _zygote_died(self) -> None:
        self.scheduler.remove_fd(self.zygote.chan.fileno())
        raise RuntimeError("the guest zygote died")

    def _exited(self, g: Guest, reason: str, sig: int = 0) -> None:
        self.by_pid.pop(g.pid, None)
        if g.cgroup is not None:
            try:
                if sig == signal.SIGKILL and g.cgroup.oom_kills:
                    reason = f"killed at its memory cap ({g.cgroup.limit >> 20} MiB)"
                    self.counts["memory_cap"] += 1
            except Exception:
                pass
            self._remove_cgroup(g.cgroup)
            g.cgroup = None
        if g in self.starting:
            self._started(g)
        expected = g.state in (STOPPING, GONE)
        self._release(g)
        if expected or self._closed:
            self._forget(g, "stopped")
            return
        if g in self.pool or g.warming or (g.spec is not None and g in self.warm.get(g.spec.image_id, ())):
            if g in self.pool:
                self.pool.remove(g)
            elif not g.warming:
                self.warm[g.spec.image_id].remove(g)
            self.guests.pop(g.id, None)
            self._refill_soon()
            return
        self.counts["killed" if sig == signal.SIGKILL else "crashed"] += 1
        g.exits.append((time.time(), reason))
        del g.exits[:-10]
        g.last_error = reason
        ran = (time.monotonic_ns() - g.ready_ns) / 1e9 if g.ready_ns else 0.0
        g.backoff = self.backoff_initial if not g.backoff or ran >= self.backoff_max else \
            min(g.backoff * 2, self.backoff_max)
        g.state = BACKOFF
        if g.on_exit is not None:
            g.on_exit(g, reason)
        from clickpy.runtime.scheduler import Timer

        t = Timer(callback=lambda _t: self._restart(g))
        t.initialize(self.scheduler)
        t.schedule_after(g.backoff)

    def _restart(self, g: Guest) -> None:
        if g.state != BACKOFF or self._closed:
            return
        g.restarts += 1
        self.counts["restarted"] += 1
        try:
            self._spawn(g)
        except Exception as e:          # out of buffers: back off and try again
            self.guests[g.id] = g
            self._exited(g, f"could not be restarted: {e}")
            return
        g.started_ns = time.monotonic_ns()

    def _remove_cgroup(self, cgroup, tries: int = 20) -> None:
        """Remove a reaped guest's cgroup; the kernel may take a moment to let go of it."""
        from clickpy.guest.sandbox import SandboxError

        try:
            cgroup.remove()
        except SandboxError:
            if tries and cgroup.exists:
                from clickpy.runtime.scheduler import Timer

                t = Timer(callback=lambda _t: self._remove_cgroup(cgroup, tries - 1))
                t.initialize(self.scheduler)
                t.schedule_after(0.05)

    def _kill(self, g: Guest) -> None:
        if g.pid and g.state == STOPPING:
            try:
                os.kill(g.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _release(self, g: Guest) -> None:
        """Let go of a guest's channel, ports and pipe pairs (its buffers come back)."""
        for cb in list(g._replies.values()):
            cb({"op": "error", "error": f"guest {g.id} exited"})
        g._replies.clear()
        if g.chan is not None:
            self.scheduler.remove_fd(g.chan.fileno())
            g.chan.close()
            g.chan = None
        for port in g.ports:
            port.close()
        g.ports = []
        self._close_pairs(g)
        if self.queue and g.state != QUEUED:
            self._dequeue()             # its buffers are back: a queued guest may have enough now

    def _close_pairs(self, g: Guest) -> None:
        """Close g's pipe pairs; its buffer domain is free again once they took back all it held."""
        reclaimed = [pair.close() for pair in g.pairs]
        g.pairs = []
        if g.domain:
            if all(reclaimed):
                _free_domains.append(g.domain)
            else:                       # still alive somewhere: its buffers stay out, and so does its domain
                self.counts["unreclaimed"] += 1
            g.domain = 0

    def _forget(self, g: Guest, why: str) -> None:
        if g in self.starting:
            self._started(g)
        g.state = GONE
        self.counts[why] += 1
        self.guests.pop(g.id, None)
        if g.on_exit is not None:
            g.on_exit(g, why)


def _wait_hung_up(ports, timeout: float) -> None:
    """Wait (at most timeout seconds) until the processes at the other end of ports are gone."""
    import select

    poller = select.poll()
    left = {port.fd for port in ports if port.fd >= 0}
    for fd in left:
        poller.register(fd, 0)          # POLLHUP is reported whatever is asked for
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        for fd, events in poller.poll(max(1, int((deadline - time.monotonic()) * 1000))):
            if events & (select.POLLHUP | select.POLLERR):
                left.discard(fd)
                poller.unregister(fd)


def _sweep_stale_cgroups() -> None:
    """Remove the memory cgroups of switches that are gone (named PID-GUEST-RESTARTS; empty ones only)."""
    from clickpy.guest.sandbox import MEMORY_HIERARCHY

    folder = MEMORY_HIERARCHY / "clickpy"
    try:
        names = [p.name for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return
    for name in names:
        owner = name.split("-", 1)[0]
        if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
            try:
                (folder / name).rmdir()
            except OSError:
                pass
