# cython: language_level=3
"""Pipes: two ports joined back to back through shared memory (netmap's pipes).

``pipe:NAME{N`` is the master end, ``pipe:NAME}N`` the slave end. Each
direction is one ring of slots in a shared control region (a memfd): the
sender's transmit ring and the receiver's receive ring are two views of the
same slots, so a frame crosses by its buffer index alone. Each end has its
own ``RingHeader`` (head/cur/tail) in private memory placed just before a
mapping of the shared slots; the shared state of a direction is only the
producer's and the consumer's published indices and two wake-up flags.

Wake-ups go through one Unix stream socket pair, one socket per end (that
end's ``Port.fd``): an end that waits for frames arms ``c_wait`` and the
sender writes a byte to its own socket when it sees the flag (the receiver
becomes readable); an end whose transmit ring is full arms ``p_wait`` and
fills its own socket's send buffer (it stops being writable) until the
receiver, seeing the flag, reads its socket dry. So ``poll`` on an end's fd
means what netmap's does: readable when rxsync would bring frames, writable
when txsync would free slots.
"""
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t, uint64_t

from clickpy.netmap_shim.ring cimport Port, RingHeader

cdef enum:
    PIPE_MAGIC = 0x50504C43       # "CLPP"
    PIPE_VERSION = 1
    PIPE_MASTER = 0               # end 0 ({) sends on direction 0
    PIPE_SLAVE = 1                # end 1 (}) sends on direction 1
    PIPE_DESTROYED = -1           # end_pid value once the creator reclaimed the buffers
    PIPE_NAME_MAX = 127

# The shared state of one direction: the producer's line and the consumer's line.
cdef struct PipeDir:
    uint32_t prod                 # first slot the producer has not published
    uint32_t p_wait               # producer waits for space (its socket is filled)
    uint32_t _p_pad[14]
    uint32_t cons                 # first slot the consumer has not released
    uint32_t c_wait               # consumer waits for frames (wake it with a byte)
    uint32_t _c_pad[14]

# Page 0 of the control region. The grant area and the two slot arrays
# follow at page-aligned offsets.
cdef struct PipeShared:
    uint32_t magic
    uint32_t version
    uint32_t num_slots
    uint32_t buf_size             # the pool's geometry: both sides must agree
    uint32_t nbuffers
    uint32_t pipe_index           # N of pipe:NAME{N
    uint32_t grant_cap            # entries of the grant area
    uint32_t grant_count          # buffers waiting there for the attaching process
    uint32_t returned             # buffers a detaching process gave back there
    int32_t creator_pid
    int32_t end_pid[2]            # process holding each end open; 0 = free
    uint64_t ctrl_size
    uint64_t slots_off[2]         # slot array of direction 0 (master to slave) and 1
    uint64_t grant_off
    char name[128]
    uint32_t _pad[12]
    PipeDir dir[2]


cdef class PipePair:
    cdef readonly str name
    cdef readonly int index
    cdef readonly uint32_t slots
    cdef readonly uint32_t grant          # buffers set aside for an attaching process
    cdef readonly bint creator            # this process made the pair and reclaims its buffers
    cdef readonly bint auto               # made by open_port: goes away with its last end
    cdef int ctrl_fd
    cdef int socks[2]                     # -1 where this process has no descriptor for an end
    cdef PipeShared *sh
    cdef size_t ctrl_size
    cdef int pid                          # the process this object serves (fork detection)
    cdef uint32_t taken                   # grant buffers this process took when attaching
    cdef list ports                       # weak references to this process's open ends
    cdef readonly int domain              # creator: the peer's buffer domain (0: none, plain foreign mark)
    cdef uint16_t mark                    # how this process marks the buffers it lent through the pair

    @staticmethod
    cdef PipePair _make(str name, int index, uint32_t slots, long grant, bint auto, int domain)
    cdef _live(self)
    cdef uint32_t _take_grant(self, bint fresh_region) except? 0
    cdef void _reclaim(self)
    cdef bint _end_free(self, int e)
    cdef void _give_back(self)
    cdef void _close_fds(self)
    cdef void _unmap_close(self)


cdef class PipePort(Port):
    cdef readonly PipePair pair
    cdef readonly int end                 # PIPE_MASTER or PIPE_SLAVE
    cdef PipeShared *sh
    cdef PipeDir *txd
    cdef PipeDir *rxd
    cdef RingHeader *txr
    cdef RingHeader *rxr
    cdef size_t txmap_len
    cdef size_t rxmap_len
    cdef uint32_t tx_prod                 # what this end last published
    cdef uint32_t rx_cons
    cdef int sock
    cdef int pid
    cdef readonly uint64_t tx_packets     # frames published
    cdef readonly uint64_t rx_packets     # frames released after reading
    cdef readonly uint64_t wakeups        # doorbells rung for the peer
    cdef readonly uint64_t waits          # times this end armed a wake-up
    cdef object __weakref__
    cdef readonly bint peer_gone          # the other end's socket hung up (its process exited)
    cdef int sync_error                   # why the last sync failed (SYNC_* in pipe.pyx), 0 = it did not
    cdef int64_t last_hup_check           # when an idle sync last looked for a hang-up (ns, monotonic)

    cdef void _unmap(self) noexcept
