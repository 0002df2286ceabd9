# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""ARPTable: the IP-to-Ethernet map behind ARPQuerier, shareable between queriers.

Entries live in a C array of slots, found through a chained hash table on
the (host-order) IP address and kept in an age list, oldest first, which
is the order of the ``table`` handler and the order in which capacity
limits evict. Each entry holds the packets waiting for its answer as a
list linked through ``Packet.next``. Nothing on the data path allocates a
Python object.

The rules are Click's: an entry is *known* once an answer (or an
``insert``) gave it a real Ethernet address, and stays known until it is
TIMEOUT old; a query for an address is allowed every 100 ms, or every 2 s
once ten have gone unanswered; when more than CAPACITY packets wait, the
oldest entries lose their packets until the table is back to
CAPACITY - CAPACITY / CAPACITY_SLIM_FACTOR; when there are more than
ENTRY_CAPACITY entries, the oldest go.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet, packet_kill
from clickpy.runtime.scheduler cimport Scheduler, Timer

from clickpy.elements.ethernet.ether_config import unparse_ether
from clickpy.lang.confstring import split_words
from clickpy.runtime.args import Arg, ArgError, EtherAddress, IPAddress, Seconds, Unsigned, parse_arguments, unparse_ip
from clickpy.runtime.handlers import HandlerError, Read, Write

cdef uint8_t BROADCAST[6]
memset(BROADCAST, 0xFF, 6)


cdef inline uint32_t hash_ip(uint32_t ip) noexcept nogil:
    return (ip * 2654435761U) ^ (ip >> 16)


def format_jiffies(int64_t j):
    """A duration in milliseconds as Click prints a Timestamp: '0.100000'."""
    sign = ""
    if j < 0:
        sign = "-"
        j = -j
    return f"{sign}{j // JIFFIES_PER_SEC}.{(j % JIFFIES_PER_SEC) * 1000:06d}"


def timeout_jiffies(double seconds):
    """A TIMEOUT as jiffies; absurdly long timeouts mean 'never', as in Click."""
    if seconds >= 0xFFFFFFFF / JIFFIES_PER_SEC:
        return 0
    return <int64_t> (seconds * JIFFIES_PER_SEC + 0.5)


class _Collect:
    def __init__(self):
        self.messages = []

    def error(self, message):
        self.messages.append(str(message))
        return -1

    def warning(self, message):
        return 0

    def message(self, message):
        return 0


def parse_words(element, str text, spec):
    """Parse text as space-separated positional words (Click's push_back_words)."""
    errh = _Collect()
    v = parse_arguments(element, split_words(text), spec, errh)
    if v is None:
        raise HandlerError("\n".join(errh.messages))
    return v


_INSERT_SPEC = (Arg("IP", IPAddress, positional=True, mandatory=True),
                Arg("ETH", EtherAddress, positional=True, mandatory=True))
_DELETE_SPEC = (Arg("IP", IPAddress, positional=True, mandatory=True),)


def write_insert(table, value):
    v = parse_words(table, value, _INSERT_SPEC)
    table.insert_mapping(v["ip"], v["eth"])


def write_delete(table, value):
    v = parse_words(table, value, _DELETE_SPEC)
    # As Click: deleting makes the entry unknown rather than removing it.
    table.insert_mapping(v["ip"], b"\xff" * 6)


def _write_clear(e, value):
    e.clear_all()


cdef class ARPTable(Element):
    """=c
    ARPTable(keywords CAPACITY, ENTRY_CAPACITY, ENTRY_PACKET_CAPACITY, CAPACITY_SLIM_FACTOR, TIMEOUT)

    =s arp
    stores IP-to-Ethernet mappings

    =d
    An information element (no ports) holding IP-to-Ethernet mappings and
    the packets waiting for them. ARPQuerier normally keeps its own; give
    several ARPQueriers one ARPTable (their TABLE argument) to share it.

    CAPACITY is the most packets kept waiting (default 2048, 0 for no
    limit); past it, the oldest entries lose waiting packets until
    CAPACITY - CAPACITY/CAPACITY_SLIM_FACTOR remain (factor default 2).
    ENTRY_CAPACITY bounds the number of entries (default 0, no limit),
    ENTRY_PACKET_CAPACITY the packets waiting for one address (default 0,
    no limit). TIMEOUT is how long a mapping stays valid (default 5
    minutes; 0 for ever).

    =h table read-only: one line per entry, oldest first: IP, 1 if valid
    (else 0), Ethernet address, time since the entry was last updated
    =h drops read-only: packets dropped because of timeouts or capacities
    =h count read-only: entries in the table
    =h length read-only: packets waiting in the table
    =h insert write-only: 'IP ETH' adds or updates a mapping
    =h delete write-only: 'IP' makes the entry for IP invalid
    =h clear write-only: removes every entry (and drops its packets)

    =a ARPQuerier, ARPResponder
    """
    port_count = "0/0"
    processing = "a"
    live_reconfigure = True
    arguments = (
        Arg("CAPACITY", Unsigned, 2048, attr="_capacity"),
        Arg("ENTRY_CAPACITY", Unsigned, 0, attr="_entry_capacity"),
        Arg("ENTRY_PACKET_CAPACITY", Unsigned, 0, attr="_entry_packet_capacity"),
        Arg("CAPACITY_SLIM_FACTOR", Unsigned, 2, attr="_slim"),
        Arg("TIMEOUT", Seconds, 300.0, attr="_timeout"),
    )
    handlers = (
        Read("table", lambda e: e.table_text()),
        Read("drops", lambda e: e.drops),
        Read("count", lambda e: e.entry_count),
        Read("length", lambda e: e.packet_count),
        Write("insert", write_insert),
        Write("delete", write_delete),
        Write("clear", _write_clear, button=True),
    )

    def __cinit__(self, *args, **kwargs):
        self._e = NULL
        self._ecap = 0
        self._enext = 0
        self._efree = -1
        self._nbuckets = 64
        self._buckets = <int32_t *> malloc(self._nbuckets * sizeof(int32_t))
        if self._buckets == NULL:
            raise MemoryError("ARPTable: no memory")
        memset(self._buckets, 0xFF, self._nbuckets * sizeof(int32_t))
        self._age_head = -1
        self._age_tail = -1
        self.entry_count = 0
        self.packet_count = 0
        self.drops = 0
        self.entry_capacity = 0
        self.packet_capacity = 2048
        self.entry_packet_capacity = 0
        self.capacity_slim_factor = 2
        self.timeout_j = 300 * JIFFIES_PER_SEC
        self._sched = None
        self._timer = None

    def __dealloc__(self):
        self.clear()
        free(self._e)
        free(self._buckets)

    # --- configuration -------------------------------------------------------------

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        if v["_slim"] == 0:
            errh.error("CAPACITY_SLIM_FACTOR cannot be zero")
            return False
        self.packet_capacity = v["_capacity"]
        self.entry_capacity = v["_entry_capacity"]
        self.entry_packet_capacity = v["_entry_packet_capacity"]
        self.capacity_slim_factor = v["_slim"]
        self.timeout_j = timeout_jiffies(v["_timeout"])
        if self._timer is not None:       # live reconfiguration
            self._schedule_expiry(False)
        return True

    def configure_given(self, conf, errh):
        """Change only the settings conf names (a running ARPQuerier's reconfiguration)."""
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        given = v["_given"]
        if "CAPACITY_SLIM_FACTOR" in given and v["_slim"] == 0:
            errh.error("CAPACITY_SLIM_FACTOR cannot be zero")
            return False
        if "CAPACITY" in given:
            self.packet_capacity = v["_capacity"]
        if "ENTRY_CAPACITY" in given:
            self.entry_capacity = v["_entry_capacity"]
        if "ENTRY_PACKET_CAPACITY" in given:
            self.entry_packet_capacity = v["_entry_packet_capacity"]
        if "CAPACITY_SLIM_FACTOR" in given:
            self.capacity_slim_factor = v["_slim"]
        if "TIMEOUT" in given:
            self.timeout_j = timeout_jiffies(v["_timeout"])
        return True

    def initialize(self, errh):
        self.attach(self.router)

    def attach(self, router):
        """Use router's clock and start the expiry timer (also for tables ARPQuerier owns)."""
        self.router = router
        self._sched = <Scheduler> router.scheduler
        if self._timer is None:
            self._timer = Timer(self)
            (<Timer> self._timer).initialize(self._sched)
        self._schedule_expiry(False)

    def _schedule_expiry(self, bint again):
        cdef Timer t = <Timer> self._timer
        if self.timeout_j:
            # Whole seconds, as Click's schedule_after_sec.
            t.schedule_after(self.timeout_j // JIFFIES_PER_SEC + (1 if again else 0))
        else:
            t.unschedule()

    def cleanup(self, stage):
        if self._timer is not None:
            (<Timer> self._timer).unschedule()
        self.clear()

    def take_state(self, old, errh):
        if not isinstance(old, ARPTable):
            return None
        return self.take_table(old, errh)

    def take_table(self, ARPTable old, errh):
        """Take every entry (and waiting packet) of old, which is left empty; returns
        what came over, as take_state does.

        The tables are swapped (old gets this one's empty table, so
        ``old.take_table(self)`` gives them back). Entry times are kept
        relative to each table's own clock, so ages and poll times carry
        over even if the new router's clock differs. Entries and waiting
        packets beyond this table's capacities go, as they would when added.
        """
        if self.entry_count > 0:
            errh.error("late take_state")
            return None
        cdef int64_t shift = self.now_j() - old.now_j()
        cdef int32_t i
        cdef ARPEntry *e = self._e
        cdef int32_t *b = self._buckets
        cdef int32_t ecap = self._ecap, enext = self._enext, efree = self._efree
        cdef int32_t head = self._age_head, tail = self._age_tail
        cdef uint32_t nb = self._nbuckets
        cdef uint32_t n
        self._e = old._e
        self._ecap = old._ecap
        self._enext = old._enext
        self._efree = old._efree
        self._buckets = old._buckets
        self._nbuckets = old._nbuckets
        self._age_head = old._age_head
        self._age_tail = old._age_tail
        old._e = e
        old._ecap = ecap
        old._enext = enext
        old._efree = efree
        old._buckets = b
        old._nbuckets = nb
        old._age_head = head
        old._age_tail = tail
        if shift:
            for i in range(self._enext):
                if self._e[i].used:
                    self._e[i].live_at_j += shift
                    self._e[i].polled_at_j += shift
        self.entry_count, old.entry_count = old.entry_count, self.entry_count
        self.packet_count, old.packet_count = old.packet_count, self.packet_count
        self.drops, old.drops = old.drops, self.drops
        n = self.packet_count
        if ((self.entry_capacity and self.entry_count > self.entry_capacity)
                or (self.packet_capacity and self.packet_count > self.packet_capacity)):
            self.slim(self.now_j())
        carried = {}
        if self.entry_count:
            carried["entries"] = self.entry_count
        if self.packet_count:
            carried["packets"] = self.packet_count
        if n > self.packet_count:
            carried["dropped"] = n - self.packet_count
            errh.warning(f"{n - self.packet_count} waiting packets dropped: over the new capacities")
        return carried or None

    # --- the table -------------------------------------------------------------------

    cdef int64_t now_j(self) noexcept:
        if self._sched is None:
            return 0
        return self._sched.now() // 1000000

    cdef int32_t find(self, uint32_t ip) noexcept:
        cdef int32_t i = self._buckets[hash_ip(ip) & (self._nbuckets - 1)]
        while i >= 0 and self._e[i].ip != ip:
            i = self._e[i].hash_next
        return i

    cdef bint _grow_buckets(self) noexcept:
        cdef uint32_t n = self._nbuckets * 2
        cdef int32_t *b = <int32_t *> malloc(n * sizeof(int32_t))
        cdef int32_t i
        cdef uint32_t h
        if b == NULL:
            return False
        memset(b, 0xFF, n * sizeof(int32_t))
        for i in range(self._enext):
            if self._e[i].used:
                h = hash_ip(self._e[i].ip) & (n - 1)
                self._e[i].hash_next = b[h]
                b[h] = i
        free(self._buckets)
        self._buckets = b
        self._nbuckets = n
        return True

    cdef void _age_unlink(self, int32_t i) noexcept:
        cdef ARPEntry *e = &self._e[i]
        if e.age_prev >= 0:
            self._e[e.age_prev].age_next = e.age_next
        else:
            self._age_head = e.age_next
        if e.age_next >= 0:
            self._e[e.age_next].age_prev = e.age_prev
        else:
            self._age_tail = e.age_prev
        e.age_prev = -1
        e.age_next = -1

    cdef void _age_insert_before(self, int32_t i, int32_t next) noexcept:
        """Put entry i in the age list just before next (-1: at the end)."""
        cdef ARPEntry *e = &self._e[i]
        cdef int32_t prev = self._age_tail if next < 0 else self._e[next].age_prev
        e.age_prev = prev
        e.age_next = next
        if prev >= 0:
            self._e[prev].age_next = i
        else:
            self._age_head = i
        if next >= 0:
            self._e[next].age_prev = i
        else:
            self._age_tail = i

    cdef void _erase(self, int32_t i) noexcept:
        """Remove entry i: from its hash chain, the age list; its packets are dropped."""
        cdef ARPEntry *e = &self._e[i]
        cdef uint32_t h = hash_ip(e.ip) & (self._nbuckets - 1)
        cdef int32_t *link = &self._buckets[h]
        cdef Packet *p
        while link[0] != i:
            link = &self._e[link[0]].hash_next
        link[0] = e.hash_next
        self._age_unlink(i)
        while e.head != NULL:
            p = e.head
            e.head = p.next
            packet_kill(p)
            self.packet_count -= 1
            self.drops += 1
        e.tail = NULL
        e.npackets = 0
        e.used = 0
        e.hash_next = self._efree
        self._efree = i
        self.entry_count -= 1

    cdef void slim(self, int64_t now) noexcept:
        cdef int32_t i = self._age_head
        cdef uint32_t slim_capacity
        cdef ARPEntry *e
        cdef Packet *p
        # Expired entries go, and the oldest while there are too many.
        while i >= 0 and ((self.timeout_j and self._e[i].live_at_j + self.timeout_j < now)
                          or (self.entry_capacity and self.entry_count > self.entry_capacity)):
            self._erase(i)
            i = self._age_head
        # Then waiting packets, oldest entries first, down to the slim capacity.
        if self.packet_capacity and self.packet_count > self.packet_capacity:
            slim_capacity = self.packet_capacity - self.packet_capacity // self.capacity_slim_factor
            if slim_capacity == 0:      # the packet being added is already counted
                slim_capacity = 1
            while i >= 0 and self.packet_count > slim_capacity:
                e = &self._e[i]
                while e.head != NULL and self.packet_count > slim_capacity:
                    p = e.head
                    e.head = p.next
                    if e.head == NULL:
                        e.tail = NULL
                    packet_kill(p)
                    self.packet_count -= 1
                    e.npackets -= 1
                    self.drops += 1
                i = e.age_next

    cdef int32_t ensure(self, uint32_t ip, int64_t now) noexcept:
        """The entry for ip, made (as the newest) if there is none; -1 without memory."""
        cdef int32_t i = self.find(ip)
        cdef int32_t cap
        cdef ARPEntry *grown
        cdef ARPEntry *e
        cdef uint32_t h
        if i >= 0:
            return i
        self.entry_count += 1
        if self.entry_capacity and self.entry_count > self.entry_capacity:
            self.slim(now)
        if self._efree < 0 and self._enext == self._ecap:
            cap = self._ecap * 2 if self._ecap else 16
            grown = <ARPEntry *> realloc(self._e, cap * sizeof(ARPEntry))
            if grown == NULL:
                self.entry_count -= 1
                return -1
            self._e = grown
            self._ecap = cap
        if self.entry_count > self._nbuckets:
            self._grow_buckets()        # a failure only makes chains longer
        if self._efree >= 0:
            i = self._efree
            self._efree = self._e[i].hash_next
        else:
            i = self._enext
            self._enext += 1
        e = &self._e[i]
        memset(e, 0, sizeof(ARPEntry))
        e.used = 1
        e.ip = ip
        memcpy(e.eth, BROADCAST, 6)
        e.live_at_j = now
        e.polled_at_j = now - JIFFIES_PER_SEC
        h = hash_ip(ip) & (self._nbuckets - 1)
        e.hash_next = self._buckets[h]
        self._buckets[h] = i
        self._age_insert_before(i, -1)
        return i

    cdef int lookup(self, uint32_t ip, uint8_t *eth, int64_t poll_timeout_j) noexcept:
        """-1 if ip has no valid mapping; else copy it to eth and return 1 when
        the entry should be polled now (it is poll_timeout_j old), else 0."""
        cdef int32_t i = self.find(ip)
        cdef int64_t now
        cdef ARPEntry *e
        if i < 0:
            return -1
        e = &self._e[i]
        now = self.now_j()
        if not e.known or (self.timeout_j and e.live_at_j + self.timeout_j < now):
            return -1
        memcpy(eth, e.eth, 6)
        if (poll_timeout_j and now >= e.live_at_j + poll_timeout_j
                and now >= e.polled_at_j + (2 * JIFFIES_PER_SEC if e.polls >= 10 else JIFFIES_PER_SEC // 10)):
            e.polled_at_j = now
            if e.polls < 255:
                e.polls += 1
            return 1
        return 0

    cdef int insert(self, uint32_t ip, const uint8_t *eth, Packet **head) noexcept:
        """Record ip -> eth (a broadcast eth makes the entry invalid). With head,
        hand over the packets that waited for it."""
        cdef int64_t now = self.now_j()
        cdef int32_t i = self.ensure(ip, now)
        cdef ARPEntry *e
        if i < 0:
            return ARP_ENOMEM
        e = &self._e[i]
        memcpy(e.eth, eth, 6)
        e.known = memcmp(eth, BROADCAST, 6) != 0
        e.live_at_j = now
        e.polls = 0
        e.polled_at_j = now - JIFFIES_PER_SEC
        if e.age_next >= 0:
            self._age_unlink(i)
            self._age_insert_before(i, -1)
        if head != NULL:
            head[0] = e.head
            e.head = NULL
            e.tail = NULL
            self.packet_count -= e.npackets
            e.npackets = 0
        return 0

    cdef int append_query(self, uint32_t ip, Packet *p) noexcept:
        """Keep p until ip is answered: 1 if a query should go out now, 0 if not,
        ARP_EAGAIN if ip has become known, ARP_ENOMEM if p could not be kept
        (the caller then drops it)."""
        cdef int64_t now = self.now_j()
        cdef int32_t i = self.ensure(ip, now)
        cdef int32_t nxt, j
        cdef ARPEntry *e
        cdef int64_t live_min
        if i < 0:
            return ARP_ENOMEM
        e = &self._e[i]
        if e.known and not (self.timeout_j and e.live_at_j + self.timeout_j < now):
            return ARP_EAGAIN
        # While packets still want this address, keep the entry just short of
        # expiring, so the slim() below cannot remove it.
        if self.timeout_j:
            live_min = now - self.timeout_j
            if e.live_at_j < live_min:
                e.live_at_j = live_min
                nxt = e.age_next
                j = nxt
                while j >= 0 and self._e[j].live_at_j < e.live_at_j:
                    j = self._e[j].age_next
                if j != nxt:
                    self._age_unlink(i)
                    self._age_insert_before(i, j)
        if self.entry_packet_capacity and e.npackets >= self.entry_packet_capacity:
            self.drops += 1
            return ARP_ENOMEM
        self.packet_count += 1
        if self.packet_capacity and self.packet_count > self.packet_capacity:
            self.slim(now)
            e = &self._e[i]
        p.next = NULL
        if e.tail != NULL:
            e.tail.next = p
        else:
            e.head = p
        e.tail = p
        e.npackets += 1
        if now >= e.polled_at_j + (2 * JIFFIES_PER_SEC if e.polls >= 10 else JIFFIES_PER_SEC // 10):
            e.polled_at_j = now
            if e.polls < 255:
                e.polls += 1
            return 1
        return 0

    cdef void clear(self) noexcept:
        while self._age_head >= 0:
            self._erase(self._age_head)
        self.entry_count = 0
        self.packet_count = 0

    cdef void run_timer(self, object timer) noexcept:
        self.slim(self.now_j())
        try:
            self._schedule_expiry(True)
        except BaseException:
            pass

    # --- the slow path: handlers and tools ------------------------------------------

    def insert_mapping(self, ip, bytes eth):
        """Map ip (an int, clickpy.runtime.args' IPv4 form) to eth (6 bytes); waiting packets stay queued, as in Click."""
        cdef const uint8_t *b = eth
        if len(eth) != 6:
            raise ValueError("an Ethernet address has 6 bytes")
        if self.insert(ip, b, NULL) < 0:
            raise HandlerError("no memory")

    def clear_all(self):
        self.clear()

    def entries(self):
        """(ip, valid, eth, age in jiffies) per entry, oldest first."""
        cdef int64_t now = self.now_j()
        cdef int32_t i = self._age_head
        cdef ARPEntry *e
        out = []
        while i >= 0:
            e = &self._e[i]
            valid = bool(e.known) and not (self.timeout_j and e.live_at_j + self.timeout_j < now)
            out.append((e.ip, valid, bytes(e.eth[:6]), now - e.live_at_j))
            i = e.age_next
        return out

    def table_text(self):
        return "".join(f"{unparse_ip(ip)} {1 if ok else 0} {unparse_ether(eth)} {format_jiffies(age)}\n"
                       for ip, ok, eth, age in self.entries())

    def lookup_eth(self, ip):
        """The valid Ethernet address for ip (an int) as 6 bytes, or None."""
        cdef uint8_t eth[6]
        if self.lookup(ip, eth, 0) < 0:
            return None
        return bytes(eth[:6])
