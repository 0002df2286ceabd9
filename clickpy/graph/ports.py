"""Click's notations for port counts, processing codes and flow codes.

* Port count (``"1/1-2"``): input range, slash, output range. A range is
  ``N``, ``N-M``, ``N-`` (at least N) or ``-`` (any, also ``-M``). Without a
  slash the one range is used for both sides. The output side may be ``=``
  (as many outputs as inputs) or ``=+``, ``=++``... (one, two... more).
* Processing code (``"a/ah"``): one letter per port, ``h`` push, ``l`` pull,
  ``a`` agnostic; the last letter repeats for the remaining ports.
* Flow code (``"xy/x"``): which inputs can send packets to which outputs,
  used to resolve agnostic ports. A letter on an input matches the same letter
  on an output; ``[abc]`` is a set, ``[^a]`` its complement, ``#`` matches the
  same port number. The default is complete flow (every input to every output).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

PUSH, PULL, AGNOSTIC = "push", "pull", "agnostic"
UNLIMITED = 1 << 30

_RANGE = re.compile(r"(\d*)(?:(-)(\d*))?")


class PortSpecError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PortCount:
    in_lo: int
    in_hi: int
    out_lo: int
    out_hi: int
    out_equals: int = 0  # 0 = a range; 1 for "=", 2 for "=+", ...

    def resolve(self, inputs_used: int, outputs_used: int) -> tuple[int, int]:
        """The element's port counts given the highest ports connected (as Click does).

        The used counts are clamped into the allowed ranges; connections to
        ports beyond the result are errors, ports below it left unconnected are
        errors too.
        """
        nin = min(max(inputs_used, self.in_lo), self.in_hi)
        if self.out_equals:
            return nin, nin + self.out_equals - 1
        return nin, min(max(outputs_used, self.out_lo), self.out_hi)

    def __str__(self) -> str:
        def rng(lo: int, hi: int) -> str:
            if lo == hi:
                return str(lo)
            return f"{lo if lo else ''}-{'' if hi >= UNLIMITED else hi}"

        out = "=" + "+" * (self.out_equals - 1) if self.out_equals else rng(self.out_lo, self.out_hi)
        return f"{rng(self.in_lo, self.in_hi)}/{out}"


def _parse_range(text: str, spec: str) -> tuple[int, int]:
    m = _RANGE.fullmatch(text)
    if not m or (not m.group(1) and not m.group(2)):
        raise PortSpecError(f"bad port count '{spec}'")
    lo = int(m.group(1)) if m.group(1) else 0
    if not m.group(2):
        return lo, lo
    hi = int(m.group(3)) if m.group(3) else UNLIMITED
    if hi < lo:
        raise PortSpecError(f"bad port count '{spec}': range {lo}-{hi} is empty")
    return lo, hi


def parse_port_count(spec: str) -> PortCount:
    """Parse Click's port-count notation; raises PortSpecError."""
    if "/" in spec:
        ins, outs = spec.split("/", 1)
    else:
        ins = outs = spec
    in_lo, in_hi = _parse_range(ins, spec)
    if outs.startswith("="):
        if outs.strip("+") != "=":
            raise PortSpecError(f"bad port count '{spec}'")
        return PortCount(in_lo, in_hi, 0, 0, len(outs))
    out_lo, out_hi = _parse_range(outs, spec)
    return PortCount(in_lo, in_hi, out_lo, out_hi)


_CODES = {"h": PUSH, "l": PULL, "a": AGNOSTIC}


def parse_processing(code: str) -> tuple[list[str], list[str]]:
    """Split a processing code into per-port lists for inputs and outputs.

    The lists hold the codes written; use :func:`port_processing` to get the
    code of port N (the last code repeats).
    """
    ins, _, outs = code.partition("/")
    if not _:
        outs = ins
    result = []
    for side in (ins, outs):
        codes = []
        for ch in side:
            kind = _CODES.get(ch.lower())
            if kind is None:
                raise PortSpecError(f"bad processing code '{code}'")
            codes.append(kind)
        result.append(codes or [AGNOSTIC])
    return result[0], result[1]


def port_processing(codes: list[str], port: int) -> str:
    return codes[port] if port < len(codes) else codes[-1]


COMPLETE_FLOW = "x/x"


def _flow_sets(side: str, nports: int) -> list[frozenset]:
    """Per-port sets of flow tokens for one side of a flow code."""
    items: list[str] = []
    i = 0
    while i < len(side):
        if side[i] == "[":
            j = side.find("]", i)
            if j < 0:
                raise PortSpecError(f"bad flow code '{side}': missing ']'")
            items.append(side[i : j + 1])
            i = j + 1
        else:
            items.append(side[i])
            i += 1
    if not items:
        raise PortSpecError("bad flow code: empty side")
    letters = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sets = []
    for port in range(nports):
        item = items[min(port, len(items) - 1)]
        if item.startswith("["):
            body = item[1:-1]
            negate = body.startswith("^")
            chars = body[1:] if negate else body
            tokens = {("#", port) if c == "#" else c for c in chars}
            for c in chars:
                if c != "#" and c not in letters:
                    raise PortSpecError(f"bad flow code character '{c}'")
            if negate:
                tokens = (letters | {("#", p) for p in range(128)}) - tokens
            sets.append(frozenset(tokens))
        elif item == "#":
            sets.append(frozenset({("#", port)}))
        elif item in letters:
            sets.append(frozenset({item}))
        else:
            raise PortSpecError(f"bad flow code character '{item}'")
    return sets


def flow_pairs(code: str, ninputs: int, noutputs: int) -> list[tuple[int, int]]:
    """(input, output) pairs between which packets may flow."""
    if code == COMPLETE_FLOW or ninputs == 0 or noutputs == 0:
        return [(i, o) for i in range(ninputs) for o in range(noutputs)]
    ins, _, outs = code.partition("/")
    if not _:
        outs = ins
    in_sets = _flow_sets(ins, ninputs)
    out_sets = _flow_sets(outs, noutputs)
    return [(i, o) for i in range(ninputs) for o in range(noutputs) if in_sets[i] & out_sets[o]]
