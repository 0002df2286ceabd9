"""Argument types and printers for rates, bandwidths and time intervals, as Click's.

The queue and shaping elements read their arguments with Click's exact
integer rules (a bandwidth is a whole number of bytes per second, a burst
duration a whole number of milliseconds, a delay a number of nanoseconds)
and print them back the way Click does, so handler output matches Click's.
Parsing goes through exact fractions: no float rounding surprises.
"""
from __future__ import annotations

import re
from fractions import Fraction

from clickpy.runtime.args import ArgError, parse_time

UINT32_MAX = (1 << 32) - 1

_NUMBER_RE = re.compile(r"([+-]?)(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?")

# unit -> factor (as a Fraction of the base unit)
_BANDWIDTH_UNITS = {"baud": Fraction(1, 8), "bps": Fraction(1, 8), "b/s": Fraction(1, 8),
                    "Bps": Fraction(1), "B/s": Fraction(1)}
_BANDWIDTH_PREFIXES = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9}



def _split_unit(text: str, units: dict, prefixes: dict) -> tuple[str, Fraction, bool]:
    """(number text, unit factor, whether a unit was given); longest unit wins."""
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            head = text[: -len(unit)]
            factor = units[unit]
            if head and head[-1] in prefixes and (len(head) < 2 or not head[-2].isalpha()):
                return head[:-1].rstrip(), factor * prefixes[head[-1]], True
            return head.rstrip(), factor, True
    return text, Fraction(1), False


def _number(text: str) -> Fraction | None:
    m = _NUMBER_RE.fullmatch(text)
    if not m:
        return None
    v = Fraction(m.group(2))
    if m.group(3):
        if abs(int(m.group(3))) > 1000:  # '1e999999999' is an error, not a billion-digit number
            raise ArgError("out of range")
        v *= Fraction(10) ** int(m.group(3))
    return -v if m.group(1) == "-" else v


def _round_half_up(v: Fraction) -> int:
    return int((v + Fraction(1, 2)) // 1)


def BandwidthArg(text: str, element=None) -> int:
    """A bandwidth such as '10Mbps', '1.5MBps', '384kb/s' or '1000' (bytes/s); whole bytes per second."""
    t = text.strip()
    num, factor, _ = _split_unit(t, _BANDWIDTH_UNITS, _BANDWIDTH_PREFIXES)
    v = _number(num)
    if v is None or v < 0:
        raise ArgError("expected bandwidth")
    r = _round_half_up(v * factor)
    if r > UINT32_MAX:
        raise ArgError("out of range")
    return r


def unparse_bandwidth(x: int) -> str:
    """A bandwidth in bytes per second, printed as Click prints it ('16kbps', '8Mbps')."""
    if x >= 0x20000000:
        return _real10(x, 6) + "MBps"
    if x >= 125000000:
        return _real10(x * 8, 9) + "Gbps"
    if x >= 125000:
        return _real10(x * 8, 6) + "Mbps"
    return _real10(x * 8, 3) + "kbps"


def _real10(value: int, digits: int) -> str:
    """value / 10**digits in decimal, without trailing zeros."""
    whole, frac = divmod(value, 10**digits)
    if not frac:
        return str(whole)
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")


def MillisecondsArg(text: str, element=None) -> int:
    """A time ('25', '20ms', '0.5s') as a whole number of milliseconds (Click's SecondsArg(3))."""
    ms = _round_half_up(Fraction(parse_time(text), 10**6))
    if ms > UINT32_MAX:
        raise ArgError("out of range")
    return ms


def unparse_real(x: float) -> str:
    """A real number as Click's String(double) prints it (%.12g)."""
    return f"{x:.12g}"


# --- token bucket arguments (RatedUnqueue, RatedSplitter and their Bandwidth kin) ---

# Bandwidth limiters let a packet through while the bucket holds this many
# bytes, then charge its length: the bucket is this much larger than asked.
BANDWIDTH_THRESHOLD = 131072


def token_bucket_arguments(bandwidth: bool):
    """Click's RATE, BURST_DURATION and BURST_SIZE (BURST_BYTES) arguments."""
    from clickpy.runtime.args import Arg, Unsigned

    return (
        Arg("RATE", BandwidthArg if bandwidth else Unsigned, None, positional=True, mandatory=True),
        Arg("BURST_DURATION", MillisecondsArg, None, attr="burst_duration"),
        Arg("BURST_BYTES" if bandwidth else "BURST_SIZE", Unsigned, None, attr="burst_size"),
    )


def parse_token_bucket(element, conf, errh, bandwidth: bool):
    """(rate, capacity in tokens) for a token bucket configured Click's way, or None after errors.

    The element declares its arguments with token_bucket_arguments(bandwidth).
    """
    from clickpy.runtime.args import parse_arguments

    values = parse_arguments(element, conf, type(element).arguments, errh)
    if values is None:
        return None
    rate = values["rate"]
    duration, size = values["burst_duration"], values["burst_size"]
    if duration is not None and size is not None:
        errh.error(f"cannot specify both BURST_DURATION and {'BURST_BYTES' if bandwidth else 'BURST_SIZE'}")
        return None
    if size is None:
        size = min(rate * (20 if duration is None else duration) // 1000, UINT32_MAX)
    if bandwidth:
        size = min(size + BANDWIDTH_THRESHOLD, UINT32_MAX)
    return rate, size if size else 1
