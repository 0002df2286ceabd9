# cython: language_level=3
"""ARPTable: IP-to-Ethernet mappings with packets waiting for them (see arp_table.pyx).

Also the ARP wire format the ARP elements share: an ARP packet over
Ethernet is the 14-byte Ethernet header followed by the 28-byte
``click_ether_arp`` body laid out by the ``ARP_*`` offsets below (from the
start of the ARP body).

Time in the table is counted in jiffies of one millisecond, as Click's
user-level ``click_jiffies()``; it comes from the router's scheduler, so
tables behave the same, to the millisecond, under ``--simtime``.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet
from clickpy.runtime.scheduler cimport Scheduler

cdef enum:
    ETHERTYPE_IP = 0x0800
    ETHERTYPE_ARP = 0x0806
    ETHERTYPE_TRAIL = 0x1000
    ARPHRD_ETHER = 1
    ARPOP_REQUEST = 1
    ARPOP_REPLY = 2
    ARPOP_REVREQUEST = 3
    ARPOP_REVREPLY = 4
    ARPOP_INVREQUEST = 8
    ARPOP_INVREPLY = 9

    ARP_HEADER_LEN = 8          # sizeof(click_arp): hrd, pro, hln, pln, op
    ARP_ETHER_LEN = 28          # sizeof(click_ether_arp)
    ARP_PACKET_LEN = 42         # Ethernet header + click_ether_arp
    # offsets inside click_ether_arp
    ARP_HRD = 0
    ARP_PRO = 2
    ARP_HLN = 4
    ARP_PLN = 5
    ARP_OP = 6
    ARP_SHA = 8
    ARP_SPA = 14
    ARP_THA = 18
    ARP_TPA = 24

    JIFFIES_PER_SEC = 1000      # Click's CLICK_HZ at user level

    ARP_ENOMEM = -12
    ARP_EAGAIN = -11


cdef struct ARPEntry:
    uint32_t ip             # host order
    int32_t hash_next       # next slot in this bucket (or in the free list); -1 ends
    int32_t age_prev        # neighbours in the age list (oldest first); -1 ends
    int32_t age_next
    int64_t live_at_j       # when the mapping was last confirmed
    int64_t polled_at_j     # when it was last queried
    Packet *head            # packets waiting for the mapping, oldest first (linked by next)
    Packet *tail
    uint32_t npackets
    uint8_t eth[6]
    uint8_t known           # eth is a real answer (not the broadcast placeholder)
    uint8_t polls           # queries since the last answer, saturating at 255
    uint8_t used            # the slot holds an entry


cdef class ARPTable(Element):
    cdef ARPEntry *_e           # entry slots
    cdef int32_t _ecap          # slots allocated
    cdef int32_t _enext         # slots ever handed out
    cdef int32_t _efree         # first free slot (linked by hash_next), or -1
    cdef int32_t *_buckets      # hash chains of slot numbers
    cdef uint32_t _nbuckets     # a power of two
    cdef int32_t _age_head      # oldest entry, or -1
    cdef int32_t _age_tail
    cdef public uint32_t entry_count
    cdef public uint32_t packet_count
    cdef public uint32_t drops              # packets dropped for timeouts and capacities
    cdef public uint32_t entry_capacity     # 0: unlimited
    cdef public uint32_t packet_capacity    # 0: unlimited
    cdef public uint32_t entry_packet_capacity
    cdef public uint32_t capacity_slim_factor
    cdef public int64_t timeout_j           # 0: entries never expire
    cdef Scheduler _sched
    cdef object _timer

    cdef int64_t now_j(self) noexcept
    cdef int32_t find(self, uint32_t ip) noexcept
    cdef int32_t ensure(self, uint32_t ip, int64_t now) noexcept
    cdef void slim(self, int64_t now) noexcept
    cdef void _age_unlink(self, int32_t i) noexcept
    cdef void _age_insert_before(self, int32_t i, int32_t next) noexcept
    cdef void _erase(self, int32_t i) noexcept
    cdef bint _grow_buckets(self) noexcept
    cdef int lookup(self, uint32_t ip, uint8_t *eth, int64_t poll_timeout_j) noexcept
    cdef int insert(self, uint32_t ip, const uint8_t *eth, Packet **head) noexcept
    cdef int append_query(self, uint32_t ip, Packet *p) noexcept
    cdef void clear(self) noexcept
