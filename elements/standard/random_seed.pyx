# cython: language_level=3
"""RandomSeed, and the random number source every element shares.

One generator (PCG32: 64-bit state, 32-bit output) serves the whole
process. Elements reach it two ways, both drawing from the same state:

* Cython, without the GIL: ``cimport click_random, click_random_below,
  click_random_double`` from ``clickpy.elements.standard.random_seed``;
* Python: ``from clickpy.elements.standard.random_seed import rng``, a
  ``random.Random`` whose ``random()`` and ``getrandbits()`` come from that
  generator (so ``randint``, ``choice``, ``shuffle``... follow the seed too).

It starts from a truly random seed; ``seed(n)`` (or a RandomSeed element)
makes every element's random choices repeat from run to run.
"""
import os
import random as _random

from libc.stdint cimport uint32_t, uint64_t

from clickpy.runtime.element cimport Element

from clickpy.runtime.args import Arg, ArgError, Unsigned
from clickpy.runtime.handlers import HandlerError, ReadWrite

cdef uint64_t _state = 0
cdef uint64_t _inc = 1442695040888963407ULL     # PCG32's default stream
cdef uint64_t _MULT = 6364136223846793005ULL


cdef uint32_t click_random() noexcept nogil:
    global _state
    cdef uint64_t old = _state
    _state = old * _MULT + _inc
    cdef uint32_t xorshifted = <uint32_t> (((old >> 18) ^ old) >> 27)
    cdef uint32_t rot = <uint32_t> (old >> 59)
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31))


cdef uint32_t click_random_below(uint32_t n) noexcept nogil:
    # Rejection sampling: no modulo bias.
    cdef uint32_t threshold, r
    if n == 0:
        return 0
    threshold = (-n) % n
    while True:
        r = click_random()
        if r >= threshold:
            return r % n


cdef double click_random_double() noexcept nogil:
    cdef uint64_t hi = click_random() >> 5
    cdef uint64_t lo = click_random() >> 6
    return (hi * 67108864.0 + lo) / 9007199254740992.0


def seed(value=None):
    """Seed the shared generator: an integer, or None for a truly random seed."""
    global _state
    cdef uint64_t s
    if value is None:
        s = int.from_bytes(os.urandom(8), "little")
    else:
        s = (<object> value) & 0xFFFFFFFFFFFFFFFF
    _state = 0
    click_random()
    _state += s
    click_random()


def random_u32():
    """32 random bits from the shared generator."""
    return click_random()


class ClickRandom(_random.Random):
    """A random.Random drawing from the shared generator (all instances share it)."""

    def __init__(self):
        _random.Random.__init__(self, None)

    def seed(self, a=None, version=2):
        # Called by random.Random.__init__ with None: leave the shared state alone then.
        if a is not None:
            seed(a)

    def random(self):
        return click_random_double()

    def getrandbits(self, int k):
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        v = 0
        got = 0
        while got < k:
            v |= click_random() << got
            got += 32
        return v & ((1 << k) - 1) if k else 0

    def getstate(self):
        return (_state, _inc)

    def setstate(self, state):
        global _state
        _state = state[0]


rng = ClickRandom()
seed(None)


def _write_seed(e, value):
    try:
        e.set_seed(value)
    except ArgError as err:
        raise HandlerError(f"seed: {err}") from None


cdef class RandomSeed(Element):
    """=c
    RandomSeed([SEED])

    =s control
    sets random seed

    =d
    Seeds the random number source every element shares (see
    clickpy.elements.standard.random_seed) with SEED, an unsigned integer,
    so that random choices repeat from run to run; without SEED, with a
    truly random value. It is configured before other elements.

    =h seed read/write
    The SEED given (empty if none). Writing a number reseeds with it;
    writing nothing reseeds with a truly random value.

    =e
    RandomSeed(42);
    src -> RandomSample(0.5) -> Discard;
    """
    port_count = "0/0"
    processing = "a"
    configure_phase = 0     # Click's CONFIGURE_PHASE_FIRST
    arguments = (Arg("SEED", Unsigned, None, positional=True),)
    handlers = (ReadWrite("seed", lambda e: "" if e.seed is None else e.seed, _write_seed, calm=True),)

    cdef public object seed

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        seed(self.seed)

    def set_seed(self, value):
        value = value.strip()
        self.seed = Unsigned(value) if value else None
        seed(self.seed)
