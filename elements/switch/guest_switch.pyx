# cython: language_level=3
"""GuestSwitch: sends each tenant's (or flow's) traffic through a guest it starts on demand."""
from libc.stdint cimport int32_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memmove

from clickpy.netmap_shim.ring cimport (Port, Ring, RingHeader, ring_next, ring_put_packet, ring_space,
                                       ring_take_packet)
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet, PacketObject, packet_kill, packet_uniqueify, pkt_data, pkt_pull, pkt_push
from clickpy.runtime.scheduler cimport Task
from clickpy.switch.keys cimport (KEY_FRAGMENT, KEY_MALFORMED, FlowKey, KeyClassifier, classify_packet,
                                  flow_key_equal)

import selectors
import time

from clickpy.runtime.args import Arg, ArgError, String, Unsigned
from clickpy.runtime.handlers import HandlerError, Read, Write

cdef int RX_BURST = 64


cdef class Attachment:
    """One key's guest as the data path sees it: its rings while it is ready, its backlog while not."""
    cdef public object guest
    cdef public int tenant
    cdef public object key           # the table's key: (tenant, flow hash or 0)
    cdef FlowKey flow                # the exact flow, to tell a hash collision from the same flow
    cdef public list backlog         # PacketObjects held while the guest starts
    cdef public uint64_t packets_in, packets_out, drops, backlog_drops
    cdef public int32_t vlan_tci     # the 802.1Q tag of the key's frames, put back on the way out; -1: none
    cdef public bint seen            # traffic since the idle timer last looked
    cdef public int idle_ticks
    cdef int nports
    cdef RingHeader **tx             # per switch port: the master end's transmit ring (ready only)
    cdef RingHeader **rx
    cdef list ports                  # the PipePorts behind tx/rx

    def __cinit__(self):
        self.tx = NULL
        self.rx = NULL
        self.backlog = []
        self.ports = []
        self.vlan_tci = -1

    def __dealloc__(self):
        free(self.tx)
        free(self.rx)

    cdef void attach_rings(self, list ports):
        cdef int i
        cdef Port port
        self.detach_rings()
        self.nports = len(ports)
        self.tx = <RingHeader **> malloc(self.nports * sizeof(RingHeader *))
        self.rx = <RingHeader **> malloc(self.nports * sizeof(RingHeader *))
        for i in range(self.nports):
            port = ports[i]
            self.tx[i] = (<Ring> port.tx_rings[0]).hdr
            self.rx[i] = (<Ring> port.rx_rings[0]).hdr
        self.ports = list(ports)

    cdef void detach_rings(self):
        free(self.tx)
        free(self.rx)
        self.tx = NULL
        self.rx = NULL
        self.ports = []
        self.nports = 0

    @property
    def ready(self):
        return self.tx != NULL

    def describe(self, tenant):
        """The key in words: the tenant's name, or its flow's two ends."""
        if self.flow.proto == 0 and self.flow.addr_lo == 0 and self.flow.addr_hi == 0:
            return tenant.name
        proto = {1: "icmp", 6: "tcp", 17: "udp"}.get(self.flow.proto, str(self.flow.proto))
        return (f"{proto} {_ip(self.flow.addr_lo)}:{self.flow.port_lo} <> "
                f"{_ip(self.flow.addr_hi)}:{self.flow.port_hi}")


cdef inline int32_t _vlan_tci(Packet *p) noexcept:
    cdef unsigned char *d = pkt_data(p)
    if p.length >= 18 and d[12] == 0x81 and d[13] == 0x00:
        return (d[14] << 8) | d[15]
    return -1


cdef Packet *_untag(Packet *p) noexcept:
    """The frame without its 802.1Q tag (as the guest sees it); NULL (p freed) if it has none."""
    cdef unsigned char *d = pkt_data(p)
    if p.length < 18 or d[12] != 0x81 or d[13] != 0x00:
        packet_kill(p)
        return NULL
    p = packet_uniqueify(p)
    if p == NULL:
        return NULL
    d = pkt_data(p)
    memmove(d + 4, d, 12)
    pkt_pull(p, 4)
    return p


cdef Packet *_tag(Packet *p, uint32_t tci) noexcept:
    """The guest's frame with the key's 802.1Q tag put back; NULL if it is too short or no room."""
    cdef unsigned char *d
    if p.length < 14:
        packet_kill(p)
        return NULL
    p = pkt_push(p, 4)
    if p == NULL:
        return NULL
    d = pkt_data(p)
    memmove(d, d + 4, 12)
    d[12] = 0x81
    d[13] = 0x00
    d[14] = (tci >> 8) & 0xFF
    d[15] = tci & 0xFF
    return p


def _ip(uint32_t a):
    return f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}"


cdef class GuestSwitch(Element):
    """=c
    GuestSwitch(POLICY [, keywords POOL, SLOTS, GRANT, STATS_INTERVAL, WARM])

    =s switch
    sends each tenant's or flow's traffic through a guest it starts on demand

    =d
    GuestSwitch is the data path of 'clickpy switch'. POLICY names a policy
    file (clickpy.switch.policy) that maps tenants -- VLANs, MAC addresses,
    IPv4 prefixes -- to guest images, one guest per tenant or one per flow.

    Input N and output N stand for the switch's host port N; each guest gets
    one pipe pair per port, and its device number N (the image's Nth device
    name) is attached to port N. A packet arriving on input N goes to its
    guest's port N; what the guest sends on its port N leaves on output N.

    A guest sees untagged frames: when a key's first frame carries an
    802.1Q tag, the switch takes the tag off every frame of the key on the
    way in and puts it back on what the guest sends (an access port of a
    VLAN switch, per tenant), so the same image serves any VLAN.

    The first packet of an unknown tenant or flow starts a guest (from a
    pool of ready sandboxes when one is there). Until the guest is ready, the
    key's packets wait in a backlog of at most BACKLOG packets (the policy's);
    they are released in order when it is ready, and the ones that did not
    fit are counted. A guest that saw no traffic for the policy's idle timeout
    is stopped. A guest that dies is restarted after a backoff; meanwhile its
    packets wait in the backlog again.

    Keyword arguments:

    POOL: ready sandboxes to keep (default 2).
    SLOTS: slots per pipe ring (default 256).
    GRANT: buffers each guest gets of the switch's pool per port (default 512).
    STATS_INTERVAL: how often (seconds) to ask each guest for its statistics (default 1).
    WARM: guests of each tenant's image to keep running, waiting for a key
    (default 0): a new key takes one and its first packet waits for no fork
    and no build.

    =h guests read-only
    A table of the guests: id, tenant, key, state, packets in and out, drops, memory, uptime, restarts.
    =h count read-only
    Packets received on all inputs.
    =h drops read-only
    Packets dropped: no tenant, malformed, guest limit, backlog full, ring full.
    =h drop_reasons read-only
    Dropped packets by reason, one "REASON COUNT" line each: no_tenant, malformed, fragment,
    hash_collision, guest_limit, ring_full, backlog_full, start_failed.
    =h manager read-only
    The guest manager's counters ("NAME COUNT" lines: spawned, started, ready, crashed, restarted, memory_cap, ...) and its last error.
    =h stop_guest write-only
    Stop the guest with this id.
    =h guest_write write-only
    "GUEST ELEMENT.HANDLER VALUE": write a handler of a guest (one its image exports); done when the guest has.
    =h reload_tenant write-only
    "TENANT IMAGE": from now on the tenant runs IMAGE (its parameters applied); each of its running guests
    reloads it as a diff of Plans, keeping its state; done when all have (the first refusal is the error).

    =e
    sw :: GuestSwitch(POLICY tenants.toml);
    FromDevice(eth1) -> [0]sw[0] -> Queue -> ToDevice(eth1);
    FromDevice(eth2) -> [1]sw[1] -> Queue -> ToDevice(eth2);
    """
    port_count = "1-/="
    processing = "h/h"
    arguments = (
        Arg("POLICY", String, positional=True, mandatory=True),
        Arg("POOL", Unsigned, 2),
        Arg("SLOTS", Unsigned, 256),
        Arg("GRANT", Unsigned, 512),
        Arg("STATS_INTERVAL", Unsigned, 1),
        Arg("WARM", Unsigned, 0),
    )

    handlers = (
        Read("guests", lambda e: e.guests_table()),
        Read("count", lambda e: str(e.count)),
        Read("drops", lambda e: str(e.no_tenant + e.malformed + e.fragments + e.collisions + e.limit_drops
                                    + e.start_failures + e.ring_drops
                                    + e.backlog_drops + sum(a.drops for a in e.attachments.values()))),
        Read("drop_reasons", lambda e: (f"no_tenant {e.no_tenant}\nmalformed {e.malformed}\n"
                                        f"fragment {e.fragments}\nhash_collision {e.collisions}\n"
                                        f"guest_limit {e.limit_drops}\nring_full {e.ring_drops}\n"
                                        f"backlog_full {e.backlog_drops}\nstart_failed {e.start_failures}\n")),
        Read("manager", lambda e: "".join(f"{k} {v}\n" for k, v in e.manager.counts.items())
                             + (f"last_error {e.last_error or e.manager.last_error}\n"
                                if e.last_error or e.manager.last_error else "")),
        Write("stop_guest", lambda e, v: e._stop_guest(v)),
        Write("guest_write", lambda e, v: e._guest_write(v)),
        Write("reload_tenant", lambda e, v: e._reload_tenant(v)),
    )

    cdef public str policy_file
    cdef public object policy, manager
    cdef public KeyClassifier classifier
    cdef public object pool, slots, grant, stats_interval, warm
    cdef public dict attachments     # (tenant, key) -> Attachment
    cdef public list ready           # Attachments with rings
    cdef public dict per_tenant      # tenant index -> guests running
    cdef public uint64_t count, no_tenant, malformed, fragments, collisions, limit_drops, ring_drops, backlog_drops
    cdef public uint64_t start_failures    # packets of keys whose guest could not be started (no buffers, ...)
    cdef public str last_error
    cdef public object task, idle_timer, stats_timer
    cdef object _specs               # tenant index -> GuestSpec

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        self.policy_file = self.policy
        from clickpy.switch.policy import PolicyError, load_policy

        try:
            self.policy = load_policy(self.policy_file)
        except PolicyError as e:
            errh.error(str(e))
            return
        except OSError as e:
            errh.error(f"POLICY {self.policy_file}: {e.strerror}")
            return
        self.attachments = {}
        self.ready = []
        self.per_tenant = {}
        try:
            self._specs = [self._spec_of(t) for t in self.policy.tenants]
        except Exception as e:
            errh.error(str(e))
            return
        from clickpy.switch.keys import KeyClassifier

        self.classifier = KeyClassifier(self.policy)

    def _spec_of(self, tenant, image_path=None):
        """The GuestSpec of a tenant: its image's Plan with the tenant's parameters."""
        from clickpy.guest.image import GuestImage
        from clickpy.guest.manager import GuestSpec

        image = GuestImage.load(str(image_path or tenant.image))
        if len(image.ports) != self.ninputs:
            raise ArgError(f"tenant {tenant.name}: image {tenant.image} has {len(image.ports)} ports "
                           f"({', '.join(image.ports)}), this switch {self.ninputs}")
        plan = image.plan_with(tenant.parameters)
        return GuestSpec(tenant.name, plan.pack(), image.ports, tenant.memory, image.exports,
                         image.specialized_module())

    def initialize(self, errh):
        from clickpy.guest.manager import GuestManager
        from clickpy.runtime.scheduler import Task, Timer

        s = self.policy.settings
        self.manager = GuestManager(self.router.scheduler, self.ninputs, pool_size=self.pool,
                                    slots=self.slots, grant=self.grant, images=self._specs,
                                    backoff_initial=s.backoff_initial / 1e9, backoff_max=s.backoff_max / 1e9,
                                    fast_cgroup_moves=s.fast_cgroup_moves)
        if self.warm:
            for spec in self._specs:
                self.manager.keep_warm(spec, self.warm)
        self.task = Task(self)
        self.task.initialize(self.router.scheduler, False)
        self.idle_timer = Timer(callback=self._idle_check)
        self.idle_timer.initialize(self.router.scheduler)
        self.idle_timer.schedule_after(self._idle_period())
        self.stats_timer = Timer(callback=self._ask_stats)
        self.stats_timer.initialize(self.router.scheduler)
        self.stats_timer.schedule_after(self.stats_interval)

    def cleanup(self, stage):
        if self.manager is not None:
            self.manager.close()
            self.manager = None
        for a in list(self.attachments.values()) if self.attachments else ():
            self._drop_backlog(a)
        self.attachments = {}
        self.ready = []

    # --- the data path ----------------------------------------------------------

    cdef void push(self, int port, Packet *p) noexcept:
        cdef FlowKey flow
        cdef int tenant
        cdef Attachment a
        self.count += 1
        tenant = classify_packet(&self.classifier.table, p, &flow)
        if tenant < 0:
            if tenant == KEY_MALFORMED:
                self.malformed += 1
            elif tenant == KEY_FRAGMENT:
                self.fragments += 1
            else:
                self.no_tenant += 1
            packet_kill(p)
            return
        try:
            a = self.attachments.get((tenant, flow.hash))
            if a is None:
                try:
                    a = self._attach(tenant, flow.hash)
                except Exception as e:
                    self.last_error = str(e)
                    self.start_failures += 1
                    packet_kill(p)
                    return
                if a is None:
                    self.limit_drops += 1
                    packet_kill(p)
                    return
                a.flow = flow
                a.vlan_tci = _vlan_tci(p)
            elif not flow_key_equal(&a.flow, &flow):
                self.collisions += 1
                packet_kill(p)
                return
        except BaseException:
            packet_kill(p)
            return
        a.seen = True
        a.packets_in += 1
        if a.vlan_tci >= 0:
            p = _untag(p)
            if p == NULL:
                self.malformed += 1
                return
        if a.tx == NULL:
            self._hold(a, port, p)
        else:
            self._to_guest(a, port, p)

    cdef void _to_guest(self, Attachment a, int port, Packet *p) noexcept:
        cdef RingHeader *r = a.tx[port]
        if ring_space(r) == 0:
            (<Port> a.ports[port]).txsync(0)
        if ring_space(r) == 0 or ring_put_packet(r, r.head, p, True) != 0:
            a.drops += 1
            self.ring_drops += 1
            packet_kill(p)
            return
        r.head = ring_next(r, r.head)
        r.cur = r.head
        (<Port> a.ports[port]).txsync(0)

    cdef void _hold(self, Attachment a, int port, Packet *p) noexcept:
        if len(a.backlog) >= self.policy.settings.backlog:
            a.backlog_drops += 1
            self.backlog_drops += 1
            packet_kill(p)
            return
        try:
            a.backlog.append((port, PacketObject.wrap(p)))
        except BaseException:
            packet_kill(p)

    cdef bint run_task(self, object task) noexcept:
        """Packets the guests sent, out of the matching outputs."""
        cdef Attachment a
        cdef RingHeader *r
        cdef Packet *p
        cdef int i, n, moved = 0
        for a in self.ready:
            if a.rx == NULL:
                continue
            for i in range(a.nports):
                r = a.rx[i]
                if r.head == r.tail:
                    if (<Port> a.ports[i]).rxsync(0) <= 0:
                        continue
                n = 0
                while r.head != r.tail and n < RX_BURST:
                    p = ring_take_packet(r, r.head, True)
                    r.head = ring_next(r, r.head)
                    n += 1
                    if p != NULL and a.vlan_tci >= 0:
                        p = _tag(p, <uint32_t> a.vlan_tci)
                    if p != NULL:
                        self.output_push(i, p)
                    else:
                        a.drops += 1
                r.cur = r.head
                a.packets_out += n
                a.seen = True
                moved += n
        if moved:
            (<Task> task).fast_reschedule()
        return moved > 0

    # --- guests coming and going (the driver's thread, between batches) ----------

    def _attach(self, int tenant, key):
        """The Attachment for a new key, its guest starting; None past a guest limit."""
        t = self.policy.tenants[tenant]
        running = self.per_tenant.get(tenant, 0)
        if len(self.attachments) >= self.policy.settings.max_guests or \
                (t.max_guests is not None and running >= t.max_guests):
            return None
        a = Attachment()
        a.tenant = tenant
        a.key = key
        a.guest = self.manager.start(self._specs[tenant], key=key, tenant=t.name,
                                     on_ready=lambda g, a=a: self._guest_ready(a),
                                     on_exit=lambda g, why, a=a: self._guest_exited(a, why))
        self.attachments[(tenant, key)] = a
        self.per_tenant[tenant] = running + 1
        if a.guest.state == "ready":            # a warm guest: no waiting at all
            self._guest_ready(a)
        return a

    def _guest_ready(self, Attachment a):
        a.attach_rings(a.guest.ports)
        sched = self.router.scheduler
        for port in a.guest.ports:
            sched.add_fd(port.fd, selectors.EVENT_READ, self._wake)
        self.ready.append(a)
        held, a.backlog = a.backlog, []
        for port, po in held:
            self._release_held(a, port, po)
        self.task.reschedule()

    def _release_held(self, Attachment a, int port, PacketObject po):
        cdef Packet *p = po.release()
        if p != NULL:
            self._to_guest(a, port, p)

    def _wake(self, fd, events):
        self.task.reschedule()

    def _guest_exited(self, Attachment a, why):
        """The guest is gone: for good ('stopped'), or to be restarted (its key keeps waiting)."""
        sched = self.router.scheduler
        for port in a.ports:
            sched.remove_fd(port.fd)
        a.detach_rings()
        if a in self.ready:
            self.ready.remove(a)
        if why == "stopped":
            self._forget(a)

    def _forget(self, Attachment a):
        if self.attachments.get((a.tenant, a.key)) is a:
            del self.attachments[(a.tenant, a.key)]
            self.per_tenant[a.tenant] -= 1
        self._drop_backlog(a)

    def _drop_backlog(self, Attachment a):
        for _port, po in a.backlog:
            po.kill()
        a.backlog = []

    def _idle_period(self):
        return max(self.policy.settings.idle_timeout / 4e9, 0.01)

    def _idle_check(self, timer):
        """Stop the guests that saw no packet for the idle timeout (four looks in a row)."""
        for a in list(self.attachments.values()):
            if a.seen or not a.ready:
                # (a guest still starting is not idle: its packets wait for it)
                a.seen = False
                a.idle_ticks = 0
            else:
                a.idle_ticks += 1
                if a.idle_ticks >= 4:
                    self._guest_exited(a, "stopped")
                    self.manager.stop(a.guest)
        timer.schedule_after(self._idle_period())

    def _ask_stats(self, timer):
        from clickpy.guest.manager import READY

        for a in self.ready:
            if a.guest.state == READY:
                a.guest.request({"op": "stats"})
        timer.schedule_after(self.stats_interval)

    # --- handlers --------------------------------------------------------------------

    def guests_table(self) -> str:
        from clickpy.switch.status import format_table

        return format_table(self.status_rows())

    def status_rows(self) -> list[dict]:
        rows = []
        for a in self.attachments.values():
            g = a.guest
            rows.append({"id": g.id, "tenant": g.tenant, "key": a.describe(self.policy.tenants[a.tenant]),
                         "state": g.state, "pid": g.pid, "in": a.packets_in, "out": a.packets_out,
                         "drops": a.drops + a.backlog_drops, "held": len(a.backlog),
                         "memory": g.stats.get("uss", 0), "uptime": g.uptime, "restarts": g.restarts,
                         "last_error": g.last_error})
        return rows

    def _guest_write(self, value):
        from clickpy.runtime.pending import Pending

        gid, _, rest = value.strip().partition(" ")
        handler, _, text = rest.partition(" ")
        a = self._by_guest_id(gid)
        if not handler:
            raise HandlerError("expected 'GUEST ELEMENT.HANDLER VALUE'")
        pending = Pending()
        a.guest.request({"op": "write", "handler": handler, "value": text},
                        lambda reply: pending.settle(None if reply.get("op") == "written"
                                                     else f"{gid}: {reply.get('error')}"))
        return pending

    def _reload_tenant(self, value):
        from clickpy.guest.image import GuestImageError
        from clickpy.runtime.pending import Pending

        name, _, path = value.strip().partition(" ")
        index = next((i for i, t in enumerate(self.policy.tenants) if t.name == name), None)
        if index is None or not path.strip():
            raise HandlerError(f"expected 'TENANT IMAGE' with one of the policy's tenants, not {value.strip()!r}")
        try:
            spec = self._spec_of(self.policy.tenants[index], path.strip())
        except (GuestImageError, ArgError) as e:
            raise HandlerError(str(e)) from None
        self._specs[index] = spec
        self.manager.prepare(spec)
        guests = [a.guest for a in self.attachments.values() if a.tenant == index and a.ready]
        pending = Pending()
        if not guests:
            pending.settle()
            return pending
        waiting = [len(guests)]
        errors = []

        def answered(reply, gid):
            if reply.get("op") != "reloaded":
                errors.append(f"{gid}: {reply.get('error')}")
            waiting[0] -= 1
            if not waiting[0]:
                pending.settle(errors[0] if errors else None)

        for g in guests:
            g.spec = spec                     # a restart runs the new image too
            g.request({"op": "reload", "plan": spec.plan}, lambda reply, gid=g.id: answered(reply, gid))
        return pending

    def _by_guest_id(self, gid):
        for a in self.attachments.values():
            if a.guest.id == gid:
                return a
        raise HandlerError(f"no guest '{gid}'")

    def _stop_guest(self, value):
        a = self._by_guest_id(value.strip())
        self._guest_exited(a, "stopped")
        self.manager.stop(a.guest)

