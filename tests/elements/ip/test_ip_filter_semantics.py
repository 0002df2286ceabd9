"""IPFilter / IPClassifier against a direct reading of the same rules.

Random rules are made as expression trees. A tree prints as filter text
(with random spellings: 'and', '&&' or two terms side by side, 'or'/'||',
'not'/'!', extra parentheses, '?:') and also evaluates directly on a
packet's bytes here, by the language's documented meaning. The compiled
program, walked in C, must agree on random packets (every protocol,
fragments, IP and TCP options, packets cut short).

Short packets: a test whose bytes are missing is false, and stays false
under '!=' and '<='-style relations, while 'not' and '!' flip it. A relation
('<', '>', ...) whose field is only partly in the packet is left undecided
here (Click decides it from the bytes that are there) and such packets are
skipped for that rule set.

Click's optimizer is exact for packets that hold every word its program
tests, but not always for shorter ones: two of its rewrites (merging a test
into the one on its yes branch, and judging an implication with the packet
length known at another copy of the same test) can change a short packet's
answer. We keep the documented meaning instead: IPFilter walks the
optimized program only for packets that hold every word, and the
unoptimized one for the others (ip_filter_language.exact_program). So the
checks are:

* the reference agrees with the unoptimized program (the language's meaning,
  short packets included);
* the element agrees with the reference on every packet the reference can
  decide, short or not;
* for packets that hold every word, the element agrees with its optimized
  program walked here in Python (the C fast walk).
"""
import ipaddress

import pytest

from clickpy.elements.ip import ip_filter_language as language

# --- reading packets -----------------------------------------------------------------------


class View:
    """A frame as IPFilter sees it: the MAC header at 0, the IP header at 14."""

    def __init__(self, frame):
        self.frame = frame
        self.net = frame[14:]
        hl = (self.net[0] & 0x0F) * 4 if self.net else 0
        self.transp = self.net[hl:] if len(self.net) > hl else b""

    def word_field(self, region, word_off, shift, mask):
        """(state, value): state 'all' / 'none' / 'partial' for the masked bytes."""
        buf = self.net if region == "net" else self.transp
        m = (mask << shift) & 0xFFFFFFFF
        needed = [i for i in range(4) if (m >> (24 - 8 * i)) & 0xFF]
        have = [word_off + i < len(buf) for i in needed]
        word = int.from_bytes(buf[word_off:word_off + 4].ljust(4, b"\0"), "big")
        value = (word >> shift) & mask
        if all(have):
            return "all", value
        return ("none" if not any(have) else "partial"), value


def tri_and(values):
    values = list(values)
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def tri_or(values):
    values = list(values)
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def tri_not(v):
    return None if v is None else not v


# --- relations, as Click reduces them -----------------------------------------------------

def reduce_relation(op, value, mask):
    """(kind, value, negated): kind 'eq', 'gt' or 'const' (value is then the truth)."""
    if op in ("", "=", "=="):
        return "eq", value, False
    if op == "!=":
        return "eq", value, True
    if op in ("<", ">="):
        if value == 0 or value > mask:
            truth = (value > mask) if op == "<" else not (value > mask)
            return "const", truth, False
        return "gt", value - 1, op == "<"
    if value >= mask:        # '>' / '<='
        return "const", op == "<=", False
    return "gt", value, op == "<="


def part(state, x, kind, value, mask, negated):
    """One comparison: false when its bytes are missing, even when negated."""
    if kind == "const":
        return value != negated
    if state != "all":
        if kind == "gt" and state == "partial":
            return None
        return False
    x &= mask
    if kind == "eq":
        return (x == (value & mask)) != negated
    return (x > value) != negated


def relation(view, region, word_off, shift, full, op, value, mask=None):
    """A field relation (Click's fields negate only the comparison)."""
    mask = full if mask is None else mask
    kind, v, neg = reduce_relation(op, value, mask)
    state, x = view.word_field(region, word_off, shift, full)
    if kind != "const":
        state, _ = view.word_field(region, word_off, shift, mask)
    return part(state, x, kind, v, mask, neg)


def srcdst(parts, sd, negated):
    """Combine src/dst parts; a negated relation negates the combination (De Morgan)."""
    if sd in ("src", "dst"):
        return parts[0]
    if (sd == "src and dst") != negated:
        return tri_and(parts)
    return tri_or(parts)


def proto_is(view, protos):
    state, x = view.word_field("net", 8, 16, 0xFF)
    return state == "all" and x in protos


def first_fragment(view):
    state, x = view.word_field("net", 4, 0, 0x1FFF)
    return state == "all" and x == 0


# --- primitives: (text, evaluate, ends with a value word) ------------------------------------

MACS = ["00:01:02:03:04:05", "0a:0b:0c:0d:0e:0f", "10:20:30:40:50:60", "ff:ff:ff:ff:ff:ff"]
PORTS = [0, 7, 22, 23, 53, 80, 137, 443, 1023, 1024, 1025, 5000, 5100, 8080, 65535]
ADDR_CHOICES = ["10.0.0.1", "10.0.0.2", "10.1.2.3", "192.168.1.10", "18.26.4.44", "1.2.3.4"]
PREFIXES = [("10.0.0.0", 8), ("10.0.0.0", 24), ("192.168.0.0", 16), ("0.0.0.0", 0), ("18.26.4.44", 32),
            ("172.16.0.0", 12)]
PORT_NAMES = {"www": 80, "ssh": 22, "domain": 53, "https": 443, "telnet": 23, "netbios-ns": 137}
ICMP_NAMES = {"echo": 8, "echo-reply": 0, "unreachable": 3, "timeexceeded": 11}
FLAGS = {"fin": 1, "syn": 2, "rst": 4, "psh": 8, "ack": 16, "urg": 32}
RELOPS = ["", "", "==", "=", "!=", ">", "<", ">=", "<="]
SDS = ["src", "dst", "src or dst", "src and dst", ""]


def _sd_prefix(sd):
    return f"{sd} " if sd else ""


def prim_host(rng):
    sd = rng.choice(SDS)
    form = rng.randrange(6)
    neg = False
    if form == 0:
        addr, plen = rng.choice(ADDR_CHOICES), 32
        text = f"{_sd_prefix(sd)}host {addr}"
    elif form == 1:
        addr, plen = rng.choice(ADDR_CHOICES), 32
        sd = sd or "src"
        text = f"{sd} {addr}"
    elif form == 2:
        addr, plen = rng.choice(PREFIXES)
        text = f"{_sd_prefix(sd)}net {addr}/{plen}"
    elif form == 3:
        addr, plen = rng.choice(PREFIXES)
        sd = sd or "dst"
        text = f"{sd} {addr}/{plen}"
    elif form == 4:
        addr, plen = rng.choice(PREFIXES)
        mask = str(ipaddress.IPv4Network(f"0.0.0.0/{plen}").netmask)
        text = f"{_sd_prefix(sd)}net {addr} mask {mask}"
    else:
        addr, plen = rng.choice(ADDR_CHOICES), 32
        neg = True
        text = f"{_sd_prefix(sd)}host != {addr}"
    value = int(ipaddress.IPv4Address(addr))
    mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
    sd = sd or "src or dst"

    def ev(view):
        parts = []
        if sd in ("src", "src or dst", "src and dst"):
            parts.append(relation(view, "net", 12, 0, 0xFFFFFFFF, "!=" if neg else "", value, mask))
        if sd in ("dst", "src or dst", "src and dst"):
            parts.append(relation(view, "net", 16, 0, 0xFFFFFFFF, "!=" if neg else "", value, mask))
        return srcdst(parts, sd, neg)
    return text, ev, True


def prim_port(rng):
    sd = rng.choice(SDS)
    proto = rng.choice(["tcp", "udp", "", "tcpudp"])
    op = rng.choice(RELOPS)
    masked = rng.random() < 0.15
    mask = rng.choice([0xFF00, 0x00FF, 0xFFF0, 0x0F0F]) if masked else 0xFFFF
    if op in ("", "==", "=", "!=") and not masked and rng.random() < 0.3:
        name = rng.choice(sorted(PORT_NAMES))
        value, value_text = PORT_NAMES[name], name
    else:
        value = rng.choice(PORTS + [1000, 1100, 65534])
        if op in ("", "==", "=", "!=") and masked:
            value &= mask
        value_text = str(value) if rng.random() < 0.8 else hex(value)
    if not op and not masked and not sd and proto and rng.random() < 0.3:
        text = f"{proto} {value_text}" if value_text in PORT_NAMES else f"{proto} port {value_text}"
    else:
        mtext = f" & {hex(mask)}" if masked else ""
        optext = f" {op}" if op else ""
        text = f"{_sd_prefix(sd)}{proto + ' ' if proto else ''}port{mtext}{optext} {value_text}"
    protos = {"tcp": (6,), "udp": (17,)}.get(proto, (6, 17))
    sdd = sd or "src or dst"
    kind, v, neg = reduce_relation(op, value, mask)

    def ev(view):
        if not (proto_is(view, protos) and first_fragment(view)):
            return False
        parts = []
        for shift, wanted in ((16, ("src", "src or dst", "src and dst")), (0, ("dst", "src or dst", "src and dst"))):
            if sdd in wanted:
                state, x = view.word_field("transp", 0, shift, mask if kind != "const" else 0xFFFF)
                parts.append(part(state, x, kind, v, mask, neg))
        return srcdst(parts, sdd, neg)
    return text, ev, True


FIELDS = [
    # text, region, word offset, shift, full mask, protocols (None: any) and whether first fragments only
    ("ip vers", "net", 0, 28, 0xF, None),
    ("ip hl", "net", 0, 24, 0xF, None),
    ("ip tos", "net", 0, 16, 0xFF, None),
    ("ip dscp", "net", 0, 18, 0x3F, None),
    ("ip len", "net", 0, 0, 0xFFFF, None),
    ("ip id", "net", 4, 16, 0xFFFF, None),
    ("ip ttl", "net", 8, 24, 0xFF, None),
    ("tcp win", "transp", 12, 0, 0xFFFF, (6,)),
    ("icmp type", "transp", 0, 24, 0xFF, (1,)),
]


def prim_field(rng):
    r = rng.random()
    if r < 0.5:
        name, region, word_off, shift, full, protos = rng.choice(FIELDS)
        first_frag = region == "transp"
    else:
        length = rng.choice([1, 1, 2, 4])
        pos = rng.choice([p for p in range(0, 24) if p % 4 + length <= 4])
        header = rng.choice(["ip", "ip", "transp", "tcp", "udp", "icmp"])
        if length == 1 and rng.random() < 0.3:
            name = f"{header}[{pos}]"
        elif rng.random() < 0.2:
            name = f"{header}[{pos},{pos + length - 1}]"
        else:
            name = f"{header}[{pos}:{length}]"
        region = "net" if header == "ip" else "transp"
        word_off, shift = pos & ~3, 32 - ((pos % 4) + length) * 8
        full = (1 << (8 * length)) - 1
        protos = {"tcp": (6,), "udp": (17,), "icmp": (1,)}.get(header)
        first_frag = header != "ip"
    op = rng.choice(RELOPS)
    masked = rng.random() < 0.2
    mask = full
    if masked:
        mask = rng.randrange(1, full + 1)
    if name == "icmp type" and op in ("", "==", "!=") and rng.random() < 0.5:
        vname = rng.choice(sorted(ICMP_NAMES))
        value, value_text = ICMP_NAMES[vname], vname
    else:
        value = rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 17, 20, 45, 64, 0x80, 0xFF, 0x4500, 0xFFFF, 1024,
                            rng.randrange(full + 1)])
        if op in ("", "==", "=", "!=") or value > full + 1:
            value &= full
        value_text = str(value)
    mtext = f" & {mask}" if masked else ""
    text = f"{name}{mtext}{' ' + op if op else ''} {value_text}"

    def ev(view):
        if protos is not None and not proto_is(view, protos):
            return False
        if first_frag and not first_fragment(view):
            return False
        return relation(view, region, word_off, shift, full, op, value, mask)
    return text, ev, True


def prim_proto(rng):
    r = rng.randrange(6)
    if r == 0:
        name = rng.choice(["tcp", "udp", "icmp"])
        p = {"tcp": 6, "udp": 17, "icmp": 1}[name]
        return name, (lambda view: proto_is(view, (p,))), False
    if r == 1:
        return "tcpudp", (lambda view: proto_is(view, (6, 17))), False
    if r == 2:
        neg = rng.random() < 0.5
        text = f"ip proto {'!= ' if neg else ''}tcpudp"

        def ev(view):
            state, x = view.word_field("net", 8, 16, 0xFF)
            return state == "all" and ((x in (6, 17)) != neg)
        return text, ev, neg
    op = rng.choice(RELOPS)
    value = rng.choice([1, 2, 6, 17, 47, 50, 0, 200, 255])
    word = rng.choice(["ip proto", "proto"])
    name = {6: "tcp", 17: "udp", 1: "icmp"}.get(value)
    value_text = name if name and op in ("", "==", "!=") and rng.random() < 0.5 else str(value)
    text = f"{word}{' ' + op if op else ''} {value_text}"
    # a protocol name right after 'proto' reads as a qualifier, so another
    # primitive must not follow it without 'and'
    return text, (lambda view: relation(view, "net", 8, 16, 0xFF, op, value)), not value_text.isalpha() or bool(op)


def prim_flags(rng):
    flag = rng.choice(sorted(FLAGS))
    text = rng.choice([f"tcp opt {flag}", f"tcp flags {flag}", f"tcp {flag}"])
    f = FLAGS[flag]

    def ev(view):
        if not (proto_is(view, (6,)) and first_fragment(view)):
            return False
        state, x = view.word_field("transp", 12, 16, 0xFF)
        return state == "all" and x & f == f
    return text, ev, True


def prim_frag(rng):
    unfrag = rng.random() < 0.5
    text = rng.choice(["ip unfrag", "unfrag"] if unfrag else ["ip frag", "frag"])

    def ev(view):
        state, x = view.word_field("net", 4, 0, 0x3FFF)
        return state == "all" and ((x == 0) == unfrag)
    return text, ev, False


def prim_ecn(rng):
    ce = rng.random() < 0.5
    text = rng.choice(["ip ce", "ce"] if ce else ["ip ect", "ect"])

    def ev(view):
        state, x = view.word_field("net", 0, 16, 0x3)
        return state == "all" and (x == 3 if ce else x != 0)
    return text, ev, False


def prim_ether(rng):
    sd = rng.choice(SDS)
    mac = rng.choice(MACS + ["00:00:00:00:00:01"])
    neg = rng.random() < 0.2
    if rng.random() < 0.3 and not neg:
        sd = sd or "src"
        text = f"{sd} {mac}"
    else:
        text = f"{_sd_prefix(sd)}ether host {'!= ' if neg else ''}{mac}"
    value = bytes(int(x, 16) for x in mac.split(":"))
    sdd = sd or "src or dst"

    def ev(view):
        parts = []
        if sdd in ("src", "src or dst", "src and dst"):
            parts.append((view.frame[6:12] == value) != neg)
        if sdd in ("dst", "src or dst", "src and dst"):
            parts.append((view.frame[0:6] == value) != neg)
        return srcdst(parts, sdd, neg)
    return text, ev, True


def prim_const(rng):
    v = rng.random() < 0.5
    return ("true" if v else "false"), (lambda view: v), True


PRIMITIVES = [(prim_host, 4), (prim_port, 4), (prim_field, 5), (prim_proto, 3), (prim_flags, 2),
              (prim_frag, 1), (prim_ecn, 1), (prim_ether, 1), (prim_const, 1)]


def random_primitive(rng):
    total = sum(w for _, w in PRIMITIVES)
    r = rng.randrange(total)
    for gen, w in PRIMITIVES:
        if r < w:
            return gen(rng)
        r -= w
    raise AssertionError


# --- expressions -----------------------------------------------------------------------------

class Expr:
    """kind: 'prim', 'not', 'and', 'or', 'tern'; evaluate() and render()."""

    def __init__(self, kind, *, items=(), text=None, ev=None, ends_value=True):
        self.kind = kind
        self.items = list(items)
        self.text = text
        self.ev = ev
        self.ends_value = ends_value

    def evaluate(self, view):
        if self.kind == "prim":
            return self.ev(view)
        if self.kind == "not":
            return tri_not(self.items[0].evaluate(view))
        if self.kind == "and":
            return tri_and(i.evaluate(view) for i in self.items)
        if self.kind == "or":
            return tri_or(i.evaluate(view) for i in self.items)
        c = self.items[0].evaluate(view)
        if c is None:
            return None
        return self.items[1].evaluate(view) if c else self.items[2].evaluate(view)


PREC = {"tern": 0, "or": 1, "and": 2, "not": 3, "prim": 4}


def random_expr(rng, depth):
    r = rng.random()
    if depth == 0 or r < 0.4:
        text, ev, ends = random_primitive(rng)
        return Expr("prim", text=text, ev=ev, ends_value=ends)
    if r < 0.55:
        return Expr("not", items=[random_expr(rng, depth - 1)])
    if r < 0.77:
        return Expr("and", items=[random_expr(rng, depth - 1) for _ in range(rng.randint(2, 3))])
    if r < 0.93:
        return Expr("or", items=[random_expr(rng, depth - 1) for _ in range(rng.randint(2, 3))])
    return Expr("tern", items=[random_expr(rng, depth - 1) for _ in range(3)])


def render(e, rng):
    """(text, ends with a value word or ')') for e, parenthesized only as needed
    (sometimes more)."""
    def sub(child, min_prec):
        text, ends = render(child, rng)
        if PREC[child.kind] < min_prec or (child.kind != "prim" and rng.random() < 0.15):
            return f"({text})", True
        return text, ends

    if e.kind == "prim":
        return e.text, e.ends_value
    if e.kind == "not":
        child = e.items[0]
        if child.kind == "prim":
            text, ends = render(child, rng)
            return rng.choice(["not ", "! ", "!"]) + text, ends
        text, _ = render(child, rng)
        return f"{rng.choice(['not ', '!'])}({text})", True
    if e.kind in ("and", "or"):
        parts = [sub(c, 2 if e.kind == "and" else 1) for c in e.items]
        out, ends = parts[0]
        for text, next_ends in parts[1:]:
            if e.kind == "or":
                out += rng.choice([" or ", " || "])
            else:
                out += rng.choice([" and ", " && "] + ([" "] if ends else []))
            out += text
            ends = next_ends
        return out, ends
    c, _ = sub(e.items[0], 1)
    a, _ = sub(e.items[1], 1)
    b, ends = sub(e.items[2], 1)
    return f"{c} ? {a} : {b}", ends


def reference_output(exprs, actions, view):
    """The output of the first rule that matches (None: dropped); 'undecided' if
    a rule before it cannot be decided from the packet's bytes."""
    for expr, action in zip(exprs, actions):
        v = expr.evaluate(view)
        if v is None:
            return "undecided"
        if v:
            return action
    return None


# --- walking a program in Python ------------------------------------------------------------

def walk(prog, view):
    """The output an optimized Program gives a packet, read as IPFilter's C walk reads it."""
    if not prog.insns:
        oe = prog.output_everything
        return oe if 0 <= oe < 0x7FFFFFFF else None
    regions = [(b"\0\0" + view.frame, 2), (view.net, 0), (view.transp, 0)]
    pos = 0
    while True:
        e = prog.insns[pos]
        r = 0 if e.offset < 256 else (1 if e.offset < 512 else 2)
        buf, lo = regions[r]
        a = e.offset - 256 * r
        m = e.mask
        need = max((i + 1 for i in range(4) if (m >> (24 - 8 * i)) & 0xFF), default=0)
        lead = min((i for i in range(4) if (m >> (24 - 8 * i)) & 0xFF), default=4)
        if need == 0 or (a + lead >= lo and a + need <= len(buf)):
            word = bytes(buf[k] if lo <= k < len(buf) else 0 for k in range(a, a + 4))
            pos = e.j[(int.from_bytes(word, "big") & m) == e.value]
        else:
            pos = e.j[e.short_output]
        if pos <= 0:
            return -pos if -pos < 0x7FFFFFFF else None


def is_short(prog, view):
    """Some test of prog cannot see all its bytes in this packet."""
    regions = [(b"\0\0" + view.frame, 2), (view.net, 0), (view.transp, 0)]
    for e in prog.insns:
        r = 0 if e.offset < 256 else (1 if e.offset < 512 else 2)
        buf, lo = regions[r]
        if e.mask and e.offset - 256 * r + 4 > len(buf):
            return True
    return False


# --- the tests ---------------------------------------------------------------------------

def unoptimized_program(rules):
    """The rules' program exactly as compiled (merged, never optimized)."""
    return language.exact_program(rules)


def _check(rules, actions, exprs, fel, packets, views):
    """Returns (packets compared with the reference, of which short)."""
    compared = short = 0
    raw = unoptimized_program(fel.rules)
    optimized = language.build_program(fel.rules)
    for p, view in zip(packets, views):
        got = fel.match_packet(p)
        context = f"rules {rules!r}\npacket {view.frame.hex()}\n{fel.program_text()}"
        is_s = is_short(optimized, view) or is_short(raw, view)
        if not is_s:
            assert got == walk(optimized, view), context
        want = reference_output(exprs, actions, view)
        if want == "undecided":
            continue
        assert walk(raw, view) == want, "compiled program differs from the reference\n" + context
        assert got == want, f"reference says {want}, IPFilter says {got}\n" + context
        short += is_s
        compared += 1
    return compared, short


def _arg(text):
    """A rule as a configuration argument: quoted if it holds a comma ('ip[0,1]')."""
    return f'"{text}"' if "," in text else text


def _random_rule_sets(rng, n, classifier):
    sets = []
    for _ in range(n):
        k = rng.randint(1, 4)
        exprs = [random_expr(rng, rng.randint(0, 3)) for _ in range(k)]
        texts = [render(e, rng)[0] for e in exprs]
        if classifier:
            actions = list(range(k))
            body = f"IPClassifier({', '.join(map(_arg, texts))})"
            nout = k
        else:
            nout = 3
            actions = [rng.choice([0, 1, 2, None]) for _ in range(k)]
            words = [rng.choice(["deny", "drop"]) if a is None else ("allow" if a == 0 and rng.random() < 0.5 else str(a))
                     for a in actions]
            texts = [f"{w} {t}" for w, t in zip(words, texts)]
            body = f"IPFilter({', '.join(map(_arg, texts))})"
        sets.append((texts, actions, exprs, body, nout))
    return sets


@pytest.mark.parametrize("classifier", [True, False], ids=["IPClassifier", "IPFilter"])
@pytest.mark.parametrize("seed", range(6))
def test_random_rules_match_reference(ipf, frames, seed, classifier):
    import random

    rng = random.Random(seed * 7919 + classifier)
    sets = _random_rule_sets(rng, 25, classifier)
    router = ipf.filter_router([(body, nout) for _, _, _, body, nout in sets])
    packets = ipf.marked_packets(frames)
    views = [View(f) for f in frames]
    compared = short = 0
    for i, (texts, actions, exprs, body, nout) in enumerate(sets):
        c, s = _check(texts, actions, exprs, router.find(f"f{i}"), packets, views)
        compared += c
        short += s
    # almost every packet is decidable; both walks are exercised
    assert compared > 0.9 * len(sets) * len(frames)
    assert compared - short > 0.3 * len(sets) * len(frames)
    assert short > 0.1 * len(sets) * len(frames)


def test_every_primitive_kind_agrees(ipf, frames):
    """Each primitive generator alone, many times, against every packet."""
    import random

    rng = random.Random(99)
    bodies, cases = [], []
    for gen, _ in PRIMITIVES:
        for _ in range(12):
            text, ev, _ = gen(rng)
            cases.append((text, Expr("prim", text=text, ev=ev)))
            bodies.append((f"IPClassifier({_arg(text)})", 1))
    router = ipf.filter_router(bodies)
    packets = ipf.marked_packets(frames)
    views = [View(f) for f in frames]
    for i, (text, expr) in enumerate(cases):
        _check([text], [0], [expr], router.find(f"f{i}"), packets, views)


def test_matches_happen(frames):
    """The random packets exercise both answers of the common primitives."""
    views = [View(f) for f in frames]
    counts = {"tcp": 0, "udp": 0, "icmp": 0, "short": 0, "frag": 0}
    for v in views:
        counts["tcp"] += proto_is(v, (6,))
        counts["udp"] += proto_is(v, (17,))
        counts["icmp"] += proto_is(v, (1,))
        counts["short"] += len(v.transp) < 4
        state, x = v.word_field("net", 4, 0, 0x3FFF)
        counts["frag"] += state == "all" and x != 0
    assert all(n >= 20 for n in counts.values()), counts


@pytest.mark.parametrize("classifier", [True, False], ids=["IPClassifier", "IPFilter"])
def test_batch_path_gives_per_packet_results(ipf, frames, classifier):
    """BURST 1 (push) and BURST 32 (push_batch) send every packet to the same
    output, keep each output's packets in order, and agree with match_packet."""
    import random

    rng = random.Random(5 + classifier)
    for texts, actions, exprs, body, nout in _random_rule_sets(rng, 6, classifier):
        single, order1, _ = ipf.outputs(body, frames, burst=1, noutputs=nout)
        batch, order32, _ = ipf.outputs(body, frames, burst=32, noutputs=nout)
        assert single == batch, body
        for port in range(nout):
            assert [i for i in order1 if single[i] == port] == [i for i in order32 if batch[i] == port]
        router = ipf.filter_router([(body, nout)])
        packets = ipf.marked_packets(frames)
        assert [router.find("f0").match_packet(p) for p in packets] == single


@pytest.mark.parametrize("classifier", [True, False], ids=["IPClassifier", "IPFilter"])
@pytest.mark.parametrize("seed", range(3))
def test_a_specialised_walk_sends_every_packet_where_the_generic_one_does(ipf, frames, seed, classifier):
    """clickpy.specialize: the straight-line C made for each filter's program
    gives every random packet (short ones, fragments, any protocol) the
    output the generic walk gives it."""
    import random

    from clickpy import spec_cache, specialize

    rng = random.Random(seed * 31 + classifier)
    sets = _random_rule_sets(rng, 25, classifier)
    router = ipf.filter_router([(body, nout) for _, _, _, body, nout in sets])
    packets = ipf.marked_packets(frames)
    names = [f"f{i}" for i in range(len(sets))]
    generic = {n: [router.find(n).match_packet(p) for p in packets] for n in names}
    done = specialize.install(router, spec_cache.load(router.plan))
    walking = [n for n in names if router.find(n).fast_walk() is not None]
    assert sorted(done["installed"]) == sorted(walking) and done["refused"] == []
    assert len(walking) > len(names) // 2
    for n in names:
        assert router.find(n).specialized == (n in walking)
        assert [router.find(n).match_packet(p) for p in packets] == generic[n], n
