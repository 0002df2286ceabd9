# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""RandomSample: passes each packet with a fixed probability."""
import re
from fractions import Fraction

from libc.stdint cimport uint32_t

from clickpy.elements.standard.random_seed cimport click_random
from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport Packet

from clickpy.runtime.args import Arg, ArgError, Bool, parse_arguments
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite

cdef enum:
    SAMPLING_SHIFT = 28
    SAMPLING_ONE = 1 << 28
    SAMPLING_MASK = (1 << 28) - 1

_REAL = re.compile(r"\+?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\Z")


def fixed_point(text, element=None):
    """A non-negative real as Click's fixed point with 28 fraction bits (rounded)."""
    m = _REAL.match(text.strip())
    if not m or not (m.group(1) or m.group(2)):
        raise ArgError("expected real number")
    if m.group(3) and abs(int(m.group(3))) > 1000:  # '1e999999999': not a billion-digit number
        raise ArgError("out of range")
    v = Fraction(text.strip().lstrip("+"))
    r = int(v * SAMPLING_ONE + Fraction(1, 2))
    if r > 0xFFFFFFFF:
        raise ArgError("out of range")
    return r


def unparse_real2(uint32_t real, int frac_bits=SAMPLING_SHIFT):
    """Click's cp_unparse_real2: the shortest decimal that reads back as real."""
    cdef uint32_t one = 1 << frac_bits
    out = [str(real >> frac_bits)]
    r = real & (one - 1)
    if not r:
        return out[0]
    out.append(".")
    r = 10 * r + 5
    allowable = 10
    rounder = 5
    while rounder < (one >> 1):
        rounder *= 10
    while True:
        if allowable > one:
            r = (r + (one >> 1) - rounder) & 0xFFFFFFFF     # Click's unsigned arithmetic
        out.append(chr(ord("0") + (r >> frac_bits)))
        r = (10 * (r & (one - 1))) & 0xFFFFFFFF
        allowable *= 10
        if r <= allowable:
            break
    return "".join(out)


def _prob_write(bint drop):
    def write(e, value):
        from clickpy.lang.confstring import uncomment
        try:
            p = fixed_point(uncomment(value))
        except ArgError:
            p = SAMPLING_ONE + 1
        if p > SAMPLING_ONE:
            raise HandlerError("Must be given a number between 0.0 and 1.0")
        e.sampling_prob = SAMPLING_ONE - p if drop else p
    return write


def _write_active(e, value):
    try:
        e.active = Bool(value)
    except ArgError:
        raise HandlerError("expected boolean") from None


cdef class RandomSample(BranchElement):
    """=c
    RandomSample([P, keywords SAMPLE, DROP, ACTIVE])

    =s classification
    samples packets with some probability

    =d
    Sends each packet to output 0 with probability P (SAMPLE P says the
    same; DROP Q means probability 1-Q); the others are dropped, or leave on
    output 1 if there is one. Give P, SAMPLE or DROP. ACTIVE false (default
    true) sends every packet to output 0. Draws come from the random
    generator every element shares (see RandomSeed).

    =h sampling_prob read/write: the sampling probability
    =h drop_prob read/write: the drop probability, 1 - sampling_prob
    =h active read/write: the ACTIVE setting
    =h drops read-only: packets not sampled
    =h config read/write: 'SAMPLE P, ACTIVE B' (writing reconfigures)

    =a RandomBitErrors, RandomSeed
    """
    port_count = "1/1-2"
    processing = "a/ah"
    live_reconfigure = True
    arguments = (
        Arg("P", fixed_point, None, positional=True),
        Arg("SAMPLE", fixed_point, None),
        Arg("DROP", fixed_point, None),
        Arg("ACTIVE", Bool, True),
    )
    handlers = (
        ReadWrite("sampling_prob", lambda e: unparse_real2(e.sampling_prob), _prob_write(False)),
        ReadWrite("drop_prob", lambda e: unparse_real2(SAMPLING_ONE - e.sampling_prob), _prob_write(True)),
        ReadWrite("active", lambda e: e.active, _write_active),
        Read("drops", lambda e: e.drops),
        Read("config", lambda e: f"SAMPLE {unparse_real2(e.sampling_prob)}, ACTIVE {'true' if e.active else 'false'}",
             calm=True),
    )

    cdef public uint32_t sampling_prob     # out of 1 << 28
    cdef public bint active
    cdef public uint32_t drops

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        prob = 0xFFFFFFFF
        if v["p"] is not None:
            prob = v["p"]
        if v["sample"] is not None and v["drop"] is not None:
            errh.error("give at most one of SAMPLE and DROP")
            return False
        if v["sample"] is not None:
            prob = v["sample"]
        elif v["drop"] is not None:
            prob = SAMPLING_ONE - v["drop"]
        if prob < 0 or prob > SAMPLING_ONE:
            errh.error("sampling probability must be between 0 and 1")
            return False
        self.sampling_prob = prob
        self.active = v["active"]
        return True

    def initialize(self, errh):
        self.drops = 0

    cdef inline bint sampled(self) noexcept:
        return not self.active or (click_random() & SAMPLING_MASK) < self.sampling_prob

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        if self.sampled():
            out[0] = 0
        else:
            out[0] = 1
            self.drops += 1
        return p
