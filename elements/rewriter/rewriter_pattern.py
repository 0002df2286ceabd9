"""The rewriters' pattern language (slow path: configuration and handlers).

A pattern says how a new flow's ID is rewritten (Click's IPRewriterPattern)::

    SADDR SPORT DADDR DPORT     NAPT: IPRewriter, TCPRewriter, UDPRewriter, ...
    SADDR DADDR                 addresses only: IPAddrRewriter, IPAddrPairRewriter
    SADDR DADDR SPORT           (Click accepts this order too)
    NAME                        a pattern defined by IPRewriterPatterns

Each field may be '-' (keep the packet's value). SADDR may be a range
'A1-A2' or a prefix 'ADDR/LEN' (any address of it but PREFIX.0 and the
broadcast); SPORT may be a range 'P1-P2'. The rewriter then picks a value
from the range that no existing mapping uses: the packet's own source port
first if it is in the range, else a random one; a trailing '#' makes the
choice sequential (and skips the preference), a trailing '?' random without
the preference. In a rewriter's input spec a pattern is followed by the
forward and reply output ports.

``parse_pattern`` turns words into a ``PatternSpec`` (plain data, host-order
integers); the rewriters make a C ``flow_table.Pattern`` of it, which holds
the state a sequential search keeps. Named patterns are shared: every
rewriter that names one uses the same ``Pattern``.
"""
from __future__ import annotations

from dataclasses import dataclass

from clickpy.runtime.args import ArgError, Int, IPAddress, ip_prefix, mask_prefix_len, unparse_ip

_MESSAGES = {
    "syntax": "syntax error",
    "saddr": "bad source address",
    "sport": "bad source port",
    "daddr": "bad destination address",
    "dport": "bad destination port",
}


class PatternError(ValueError):
    """A pattern or input spec that does not parse; the message is Click's."""


@dataclass
class PatternSpec:
    saddr: int = 0              # host-order address; 0 means '-'
    sport: int = 0              # 0 means '-'
    daddr: int = 0
    dport: int = 0
    variation_top: int = 0      # the range holds base .. base + variation_top
    is_napt: bool = False       # ports are part of the pattern (3 or 4 words)
    sequential: bool = False    # '#': search the range in order
    same_first: bool = True     # prefer the packet's own source port

    def unparse(self) -> str:
        """As Click's IPRewriterPattern::unparse (the 'patterns' handler)."""
        out = []
        if not self.is_napt and self.variation_top:
            out.append(f"{unparse_ip(self.saddr)}-{unparse_ip(self.saddr + self.variation_top)}")
        elif self.saddr:
            out.append(unparse_ip(self.saddr))
        else:
            out.append("-")
        if self.is_napt:
            if not self.sport:
                out.append("-")
            elif self.variation_top:
                out.append(f"{self.sport}-{self.sport + self.variation_top}")
            else:
                out.append(str(self.sport))
        out.append(unparse_ip(self.daddr) if self.daddr else "-")
        if self.is_napt:
            out.append(str(self.dport) if self.dport else "-")
        return " ".join(out)


def _addr(text: str, context) -> int | None:
    try:
        return IPAddress(text, context)
    except ArgError:
        return None


def _int(text: str) -> int | None:
    try:
        return Int(text)
    except ArgError:
        return None


def _strip_flags(text: str, spec: PatternSpec) -> str:
    if text.endswith("#"):
        spec.sequential, spec.same_first = True, False
        return text[:-1]
    if text.endswith("?"):
        spec.same_first = False
        return text[:-1]
    return text


def _address_variation(text: str, spec: PatternSpec, context) -> bool:
    """'A1-A2[#?]' or 'ADDR/LEN[#?]': sets saddr and variation_top."""
    body = _strip_flags(text, spec)
    if "-" in body:
        left, _, right = body.partition("-")
        a1, a2 = _addr(left, context), _addr(right, context)
        if a1 is None or a2 is None or a2 < a1:
            return False
        spec.saddr, spec.variation_top = a1, a2 - a1
        return True
    try:
        addr, mask = ip_prefix(body, context, allow_bare=True)
    except ArgError:
        return False
    if not addr or not mask or mask_prefix_len(mask) < 0:
        return False
    if mask == 0xFFFFFFFF:
        spec.saddr, spec.variation_top = addr, 0
    elif mask == 0xFFFFFFFE:
        spec.saddr, spec.variation_top = addr & mask, 1
    else:
        # PREFIX.0 and the broadcast address are not handed out
        spec.saddr = (addr & mask) | 1
        spec.variation_top = (~mask & 0xFFFFFFFF) - 2
    return True


def _port_variation(text: str, spec: PatternSpec) -> bool:
    body = _strip_flags(text, spec)
    left, dash, right = body.partition("-")
    p1 = _int(left)
    p2 = _int(right) if dash else None
    if p1 is None or p2 is None or p1 < 0 or p2 < p1 or p2 >= 65536:
        return False
    spec.sport, spec.variation_top = p1, p2 - p1
    return True


def parse_pattern(words: list[str], context):
    """Words of a pattern -> a PatternSpec, or the shared Pattern a name refers to.

    Raises PatternError with Click's message.
    """
    if not 1 <= len(words) <= 4:
        raise PatternError(_MESSAGES["syntax"])
    if len(words) == 1:
        found = find_pattern(context, words[0])
        if found is None:
            raise PatternError(f"no such pattern '{words[0]}'")
        return found
    spec = PatternSpec(is_napt=len(words) >= 3)
    # source address
    w = words[0]
    if w != "-":
        a = _addr(w, context)
        if a is not None:
            spec.saddr = a
        elif not _address_variation(w, spec, context):
            raise PatternError(_MESSAGES["saddr"])
    # source port: the last word of three, the second of four
    i = 0
    if len(words) >= 3:
        w = words[2 if len(words) == 3 else 1]
        if w != "-":
            p = _int(w)
            if p is not None and 0 < p < 65536:
                spec.sport = p
            elif not _port_variation(w, spec):
                raise PatternError(_MESSAGES["sport"])
        i = 0 if len(words) == 3 else 1
    # destination address
    i += 1
    w = words[i]
    if w != "-":
        a = _addr(w, context)
        if a is None:
            raise PatternError(_MESSAGES["daddr"])
        spec.daddr = a
    # destination port
    if len(words) == 4:
        w = words[3]
        if w != "-":
            p = _int(w)
            if p is None or not 0 < p < 65536:
                raise PatternError(_MESSAGES["dport"])
            spec.dport = p
    return spec


def parse_ports(words: list[str]) -> tuple[int, int]:
    """'FOUTPUT ROUTPUT' -> (foutput, routput)."""
    f = _int(words[0]) if len(words) == 2 else None
    if f is None:
        raise PatternError("bad forward port")
    r = _int(words[1])
    if r is None:
        raise PatternError("bad reply port")
    return f, r


def parse_pattern_with_ports(words: list[str], context):
    """'PATTERN... FOUTPUT ROUTPUT' -> (PatternSpec or Pattern, foutput, routput)."""
    if len(words) <= 2:
        raise PatternError(_MESSAGES["syntax"])
    pattern = parse_pattern(words[:-2], context)
    f, r = parse_ports(words[-2:])
    return pattern, f, r


# --- named patterns (IPRewriterPatterns) --------------------------------------------------

_ATTACHMENT = "IPRewriterPatterns"


def _scopes(context):
    """Compound prefixes visible from context, innermost first ('a/b/', 'a/', '')."""
    name = getattr(context, "name", "") or ""
    parts = name.split("/")[:-1]
    for n in range(len(parts), -1, -1):
        yield "".join(p + "/" for p in parts[:n])


def define_pattern(context, name: str, pattern) -> bool:
    """Define name in context's compound; False if it is already defined there."""
    router = context.router
    table = router.attachments.setdefault(_ATTACHMENT, {})
    scope = next(_scopes(context))
    if (scope, name) in table:
        return False
    table[(scope, name)] = pattern
    return True


def find_pattern(context, name: str):
    """The Pattern named name, seen from context (inner compounds first), or None."""
    router = getattr(context, "router", None)
    if router is None:
        return None
    table = router.attachments.get(_ATTACHMENT, {})
    for scope in _scopes(context):
        p = table.get((scope, name))
        if p is not None:
            return p
    return None


def undefine_patterns(context) -> None:
    """Forget every pattern (the defining elements are going away)."""
    router = getattr(context, "router", None)
    if router is not None:
        router.attachments.pop(_ATTACHMENT, None)
