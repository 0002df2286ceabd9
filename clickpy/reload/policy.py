"""Which traffic changes fate between two configurations of one filter element.

For a reload that changes an IPFilter, IPClassifier or Classifier, the two
configurations compile (with the elements' own compilers) into decision
programs of 4-byte masked word tests. ``policy_diff`` walks both programs
together, one path pair at a time, carrying what the path so far says about
the packet: per header word, bits known equal to a value and masked values
it is known not to have, and per header region, how many bytes the packet
holds there (a test whose bytes are missing takes its short-packet branch,
as the elements' checked walks do). A combination no packet can satisfy is
pruned, so every pair of leaves reached is a non-empty region of header
space, and the regions where the two outputs differ are exactly the traffic
whose fate changes. For rule lists the walks go a rule at a time in step,
stop where both have the same rules left, and pass in one step a rule no
packet of the path can match, so the cost follows the change, not the list.

Regions with the same fates are merged where they differ in one word only
(the word then has a choice of values), described in IP terms (protocol,
prefixes, port ranges, TCP flags, fragments) where the bits line up, in
Classifier's ``OFFSET/VALUE%MASK`` terms otherwise, and given one example
packet built from the constraints (a valid IPv4 header with its checksum
where the region allows).

What the walk follows is what the elements run: IPFilter and IPClassifier
the rules' unoptimized program (the documented meaning, which the element
walks for short packets and its optimized program reproduces for the
others), Classifier its optimized program under the checked walk. Packets
are read as they arrive at IPFilter after MarkIPHeader: the IP header at
the data start, the transport header after IHL words, and no MAC header
annotation (a configuration that tests Ethernet addresses is not analysed).
By default only packets CheckIPHeader passes are considered (IPv4, IHL 5
or more); ``checked=False`` covers bogus headers too.

The walk keeps the IP and transport headers' words apart, though the
transport header starts inside the packet at IHL words: a region whose
only packets would need one byte to hold two values has no example and
is left out (``PolicyDiff.unfound`` counts them).

For the rewriters the policy is the input spec of each input port; a line
per input whose spec changed.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from clickpy.lang.confstring import split_args, split_words

DROPPED = -1
NO_MATCH = "no match"           # the label of a packet no rule or pattern takes
DEFAULT_BUDGET = 1_000_000      # steps of the joint walk before giving up (some seconds)

FILTER_CLASSES = ("IPFilter", "IPClassifier", "Classifier")

# header regions: the packet's data (Classifier), the IP header and the transport header
DATA, NET, TRANSP = 0, 1, 2
_M32 = 0xFFFFFFFF


class PolicyError(Exception):
    """A configuration that does not compile, or a diff too large to compute exactly."""


# --- constraints on one header word -------------------------------------------------------

def _bits(mask):
    return [1 << i for i in range(32) if mask >> i & 1]


def _word_sat(known, value, negs):
    """Some word w has w & known == value and w & m != v for every (m, v) in negs.

    negs are reduced (masks disjoint from known, never empty). Splits on one
    bit of the tightest constraint at a time; the union bound answers at
    once when the excluded parts cannot cover the word.
    """
    if not negs:
        return True
    if sum(2.0 ** -bin(m).count("1") for m, _ in negs) < 1:
        return True
    m, v = min(negs, key=lambda n: bin(n[0]).count("1"))
    bit = m & -m
    for b in (bit & ~v, bit & v):
        got = _reduce(known | bit, value | b, negs)
        if got is not None and _word_sat(known | bit, value | b, got):
            return True
    return False


def _reduce(known, value, negs):
    """negs restricted to the bits not known: None if one is certainly violated."""
    out = set()
    for m, v in negs:
        if (value ^ v) & m & known:
            continue                    # the known bits already differ
        u = m & ~known
        if not u:
            return None                 # every bit known, and equal
        out.add((u, v & u))
    return frozenset(out)


def _canonical(known, value, negs):
    """(known, value, negs) reduced, with a one-bit exclusion turned into a known bit."""
    while True:
        negs = _reduce(known, value, negs)
        if negs is None:
            return None
        single = next(((m, v) for m, v in negs if not m & (m - 1)), None)
        if single is None:
            return known, value, negs
        known |= single[0]
        value |= single[0] & ~single[1]


@dataclass(frozen=True)
class WordFact:
    """A header word w with w & known == value and (w & m) != v for (m, v) in negs."""
    known: int = 0
    value: int = 0
    negs: frozenset = frozenset()

    def holds(self, w):
        return (w & self.known) == self.value and all((w & m) != v for m, v in self.negs)

    def with_test(self, mask, value, equal):
        """This fact and the test's answer, or None if no word has both."""
        if equal:
            if (self.value ^ value) & self.known & mask:
                return None
            c = _canonical(self.known | mask, self.value | value, self.negs)
        else:
            c = _canonical(self.known, self.value, self.negs | {(mask, value)})
        if c is None or not _word_sat(*c):
            return None
        return WordFact(*c)

    def solve(self, template):
        """A word satisfying the fact, as close to template as the search finds."""
        w = (template & ~self.known) | self.value
        return _solve(self.known, w, sorted(self.negs))

    @property
    def empty(self):
        return not self.known and not self.negs


def _solve(fixed, w, negs):
    bad = next(((m, v) for m, v in negs if (w & m) == v and m & ~fixed), None)
    if bad is None:
        return w if all((w & m) != v for m, v in negs) else None
    m, v = bad
    for bit in _bits(m & ~fixed):
        got = _solve(fixed | bit, w ^ bit, negs)
        if got is not None:
            return got
        fixed |= bit
    return None


# --- regions of header space ----------------------------------------------------------

@dataclass(frozen=True)
class Space:
    """The packets a path pair reaches: word facts and per-region byte counts.

    words: ((region, offset), WordFact) pairs; avail: (region, lo, hi) with
    hi None for no bound: the packet holds lo..hi bytes from the region's
    start. ``layout`` is "ip" (IP header at the data start) or "data".
    """
    layout: str
    words: tuple = ()
    avail: tuple = ()

    def word(self, key):
        for k, f in self.words:
            if k == key:
                return f
        return WordFact()

    def bounds(self, region):
        for r, lo, hi in self.avail:
            if r == region:
                return lo, hi
        return 0, None

    def with_word(self, key, fact):
        words = tuple(sorted([(k, f) for k, f in self.words if k != key]
                             + ([(key, fact)] if not fact.empty else [])))
        return Space(self.layout, words, self.avail)

    def with_bounds(self, region, lo, hi):
        avail = [(r, a, b) for r, a, b in self.avail if r != region]
        if lo or hi is not None:
            avail.append((region, lo, hi))
        return Space(self.layout, self.words, tuple(sorted(avail)))

    def matches(self, packet):
        view = _View(self.layout, bytes(packet))
        return _fits(view, self.avail) and all(f.holds(view.word(*key)) for key, f in self.words)


def _fits(view, avail) -> bool:
    """Does the packet hold, in each header region, as many bytes as avail's (region, lo, hi) allow?"""
    for r, lo, hi in avail:
        n = view.avail(r)
        if n < lo or (hi is not None and n > hi):
            return False
    return True


class _View:
    """A packet's regions as the filter elements read them."""

    def __init__(self, layout, data):
        self.data = data
        if layout == "ip":
            t = (data[0] & 0x0F) * 4 if data else 0
            self.starts = {NET: 0, TRANSP: t}
        else:
            self.starts = {DATA: 0}

    def avail(self, region):
        return max(0, len(self.data) - self.starts[region])

    def word(self, region, offset):
        a = self.starts[region] + offset
        return int.from_bytes(self.data[a:a + 4].ljust(4, b"\0"), "big")


# --- the decision programs -----------------------------------------------------------------

@dataclass
class Step:
    region: int
    offset: int         # of the word, from the region's start
    mask: int
    value: int
    threshold: int      # the test sees its bytes when the region holds this many
    no: int             # targets: >= 0 a step, < 0 ~leaf
    yes: int
    short: int          # 0 / 1: the branch taken when the bytes are missing


@dataclass
class Decision:
    """A filter configuration compiled: steps from 0, leaves (port, label).

    For a rule list (IPFilter, IPClassifier), rule_starts maps the first step
    of each rule to its index and rule_keys says what each rule is (text,
    port, label): two walks standing at the starts of rules whose remaining
    lists are the same will end alike.
    """
    layout: str
    steps: list
    leaves: list
    start: int
    rule_starts: dict = field(default_factory=dict)
    rule_ends: list = field(default_factory=list)      # per rule, where the next one starts
    rule_keys: list = field(default_factory=list)
    suffix_ids: list = field(default_factory=list)     # set by _number_suffixes
    suffix_at: dict = field(default_factory=dict)      # suffix number -> rule index


def _need(mask):
    """Bytes of the word up to its last masked byte (0 for no mask)."""
    for n, m in ((4, 0xFF), (3, 0xFF00), (2, 0xFF0000), (1, 0xFF000000)):
        if mask & m:
            return n
    return 0


def _decision(layout, prog, leaf_of):
    """A Decision from a classifier.Program; leaf_of(jump) -> (port, label)."""
    leaves, leaf_index = [], {}

    def target(j):
        if j > 0:
            return j
        key = leaf_of(j)
        if key not in leaf_index:
            leaf_index[key] = len(leaves)
            leaves.append(key)
        return ~leaf_index[key]

    if not prog.insns:
        oe = prog.output_everything
        return Decision(layout, [], [], target(-oe if 0 <= oe < 0x7FFFFFFF else -0x7FFFFFFF))
    steps = []
    for e in prog.insns:
        need = _need(e.mask)
        if layout == "ip":
            region = TRANSP if e.offset >= 512 else NET
            off = e.offset - (512 if region == TRANSP else 256)
            threshold = off + need if need else 0
        else:
            region, off = DATA, e.offset - prog.align_offset
            threshold = off + max(need, 1)
        steps.append(Step(region, off, e.mask, e.value, threshold, target(e.no), target(e.yes),
                          e.short_output))
    return Decision(layout, steps, leaves, 0)


_RULE_MARK = 1 << 20        # rule k's leaf while compiling: -(_RULE_MARK + k)


def _ip_decision(class_name, config, noutputs, context):
    from clickpy.elements.ip import ip_filter_language as language
    from clickpy.runtime.error_handler import ElementErrors

    args = split_args(config)
    classifier = class_name == "IPClassifier"
    if classifier:
        noutputs = len(args)
    errh = ElementErrors()
    rules = language.parse_rules(args, noutputs if noutputs is not None else 1 << 16, context,
                                 errh, classifier)
    if errh.nerrors:
        raise PolicyError(errh.text())
    # each rule leads to a leaf of its own, so a leaf says which rule matched
    marked = [language.Rule(r.number, _RULE_MARK + k, r.tree, r.text) for k, r in enumerate(rules)]
    prog = language.exact_program(marked)
    # the exact program is the rules' programs one after another
    starts, at = {}, 0
    for k, rule in enumerate(marked):
        n = len(language.exact_program([rule]).insns)
        if not n:
            break               # a rule that matches everything ends the program
        starts[at] = k
        at += n
    if at != len(prog.insns):
        starts = {}             # not laid out as expected: no shortcut
    if any(e.mask and e.offset < 256 for e in prog.insns):
        return None             # Ethernet header tests: not analysed (see the module's doc)

    def leaf_of(j):
        k = -j - _RULE_MARK
        if not 0 <= k < len(rules):
            return DROPPED, NO_MATCH
        rule = rules[k]
        port = rule.slot if 0 <= rule.slot < 0x7FFFFFFF and (noutputs is None or rule.slot < noutputs) \
            else DROPPED
        word = rule.text.split()[0]
        label = None if classifier or word.isdigit() else word     # a number names its output
        return port, label

    decision = _decision("ip", prog, leaf_of)
    if prog.insns:
        decision.rule_starts = starts
        decision.rule_ends = sorted(starts)[1:] + [len(prog.insns)]
        # a rule is what it compiles to, not its text: the same words may mean
        # other addresses when an AddressInfo changes
        decision.rule_keys = [(_compiled(language, rule), *leaf_of(-(_RULE_MARK + k)))
                              for k, rule in enumerate(marked)]
    return decision


def _compiled(language, rule) -> tuple:
    """A rule's own program as plain values (its leaf marks aside), for comparing rules."""
    return tuple((i.offset, i.mask, i.value, i.short_output, *("match" if j == -rule.slot else j for j in i.j))
                 for i in language.exact_program([rule]).insns)


def _classifier_decision(config):
    from clickpy.elements.standard.classifier import parse_patterns
    from clickpy.runtime.error_handler import ElementErrors

    args = split_args(config)
    errh = ElementErrors()
    prog = parse_patterns(args, errh)
    if errh.nerrors:
        raise PolicyError(errh.text())

    def leaf_of(j):
        return (-j, None) if 0 <= -j < len(args) else (DROPPED, NO_MATCH)

    return _decision("data", prog, leaf_of)


# What CheckIPHeader lets through: IPv4, a header of 20 bytes or more
# (IHL 5-15), in a packet of 20 bytes or more.
CHECKED_IP = Space("ip", (((NET, 0), WordFact(*_canonical(
    0xF0000000, 0x40000000, frozenset({(0x0C000000, 0), (0x0F000000, 0x04000000)})))),), ((NET, 20, None),))
_CHECKED_TEXTS = {("ip vers", "4"), ("ip hl", "5-15")}


# --- the joint walk --------------------------------------------------------------------------

def _branches(space, s):
    """(branch, space) for each answer of step s some packet of space gives."""
    lo, hi = space.bounds(s.region)
    if lo < s.threshold:
        # packets without the step's bytes
        top = s.threshold - 1 if hi is None else min(hi, s.threshold - 1)
        yield s.short, space.with_bounds(s.region, lo, top)
        if hi is not None and hi < s.threshold:
            return
        space = space.with_bounds(s.region, s.threshold, hi)
    if not s.mask:
        yield 1, space
        return
    key = (s.region, s.offset)
    fact = space.word(key)
    for answer in (1, 0):
        got = fact.with_test(s.mask, s.value, answer == 1)
        if got is not None:
            yield answer, space.with_word(key, got)


def _rule_fails(d, start, space):
    """(the next rule's start, cost) if no packet of space can match the rule
    starting at step start, else (None, cost); cost: the steps looked at."""
    k = d.rule_starts[start]
    end = d.rule_ends[k]
    stack, cost = [(start, space)], 0
    while stack:
        at, sp = stack.pop()
        if at == end:
            continue
        if at < 0 or at > end:
            return None, cost           # a leaf: the rule may decide this packet
        cost += 1
        s = d.steps[at]
        for branch, sub in _branches(sp, s):
            stack.append(((s.no, s.yes)[branch], sub))
    return end, cost


def _number_suffixes(old, new):
    """Number each rule list's suffixes so that equal suffixes (of either) get equal numbers."""
    ids = {}
    for d in (old, new):
        d.suffix_ids = [0] * (len(d.rule_keys) + 1)
        nxt = ids.setdefault((), 0)
        for k in range(len(d.rule_keys) - 1, -1, -1):
            nxt = d.suffix_ids[k] = ids.setdefault((d.rule_keys[k], nxt), len(ids))
        d.suffix_at = {sid: k for k, sid in enumerate(d.suffix_ids)}


def _walk(old, new, budget, start):
    """(old leaf, new leaf, space) for every leaf pair reachable from the
    packets of space start where the outputs differ.

    The walks go in step: each goes through one rule at a time and waits at
    the next rule's start for the other; when both wait at rules whose
    remaining lists are the same, every packet of the space ends alike and
    the pair is done. So a change costs the rules up to it, not the list.
    """
    _number_suffixes(old, new)
    out = []
    stack = [(old.start, new.start, start, True)]
    steps = 0
    while stack:
        a, b, space, old_turn = stack.pop()
        if a < 0 and b < 0:
            if old.leaves[~a][0] != new.leaves[~b][0]:
                out.append((old.leaves[~a], new.leaves[~b], space))
            continue
        if a >= 0 and a not in old.rule_starts:
            move_old = True             # inside a rule: finish it
        elif b >= 0 and b not in new.rule_starts:
            move_old = False
        elif a < 0 or b < 0:
            move_old = a >= 0           # one has ended: the other goes on
        else:
            i, j = old.rule_starts[a], new.rule_starts[b]
            so, sn = old.suffix_ids[i], new.suffix_ids[j]
            if so == sn:
                continue                # the same rules ahead of both
            # catch up with a suffix the other has further on, else take turns
            if new.suffix_at.get(so, -1) > j:
                move_old = False
            elif old.suffix_at.get(sn, -1) > i:
                move_old = True
            else:
                move_old = old_turn
                old_turn = not old_turn
        steps += 1
        if steps > budget:
            raise PolicyError(f"the two configurations differ in too many ways to list exactly "
                              f"(over {budget} steps of the joint walk)")
        d, x = (old, a) if move_old else (new, b)
        if x in d.rule_starts:
            skip, cost = _rule_fails(d, x, space)
            steps += cost
            if skip is not None:
                # no packet of the space matches this rule: on to the next one
                stack.append((skip, b, space, old_turn) if move_old else (a, skip, space, old_turn))
                continue
        moves = []
        if move_old:
            s = old.steps[a]
            for k, sp in _branches(space, s):
                moves.append(((s.no, s.yes)[k], b, sp, old_turn))
        else:
            s = new.steps[b]
            for k, sp in _branches(space, s):
                moves.append((a, (s.no, s.yes)[k], sp, old_turn))
        stack.extend(reversed(moves))
    return out


# --- merging regions -------------------------------------------------------------------------

def _merge_partner(f, alts, fields):
    """(g, merged) for a g among alts such that f or g is exactly one fact
    merged, or None. Two facts that differ in one known bit merge only where
    that bit is the lowest known bit of its field (fields: masks), so that
    prefixes and port ranges stay prefixes and ranges; a fact merges with the
    one that is it minus one exclusion."""
    for fmask in fields:
        known = f.known & fmask
        d = known & -known
        if d:
            g = WordFact(f.known, f.value ^ d, f.negs)
            if g in alts:
                return g, WordFact(f.known & ~d, f.value & ~d, f.negs)
    for m, v in f.negs:
        base = WordFact(f.known, f.value, f.negs - {(m, v)})
        g = base.with_test(m, v, True)
        if g is not None and g != f and g in alts:
            return g, base
    return None


def _contains(outer, inner):
    """Every word of fact inner satisfies fact outer."""
    if (outer.value ^ inner.value) & outer.known & inner.known:
        return False
    rest = outer.known & ~inner.known
    if rest and not inner.negs:
        return False
    for b in _bits(rest):
        if inner.with_test(b, ~outer.value & b, True) is not None:
            return False
    return all(inner.with_test(m, v, True) is None for m, v in outer.negs)


ABSORB_MAX = 64     # choices of one word past which only exact merges are tried


def _merge_alternatives(alts, fields=(_M32,)):
    """A word's choices (a union) in fewer, simpler facts: pairs that make one
    fact merged, and (for a few choices) an exclusion dropped where another
    choice covers what it excludes, and a choice inside another dropped."""
    alts = set(alts)
    changed = True
    while changed:
        changed = False
        for f in sorted(alts, key=repr):
            if f in alts:
                got = _merge_partner(f, alts, fields)
                if got is not None:
                    alts -= {f, got[0]}
                    alts.add(got[1])
                    changed = True
        if len(alts) > ABSORB_MAX:
            continue
        for a in sorted(alts, key=repr):
            for m, v in sorted(a.negs):
                wider = WordFact(a.known, a.value, a.negs - {(m, v)})
                excluded = wider.with_test(m, v, True)
                if excluded is not None and any(b is not a and _contains(b, excluded) for b in alts):
                    alts.discard(a)
                    alts.add(wider)
                    a = wider
                    changed = True
        for b in sorted(alts, key=repr):
            if any(a is not b and _contains(a, b) for a in alts):
                alts.discard(b)
                changed = True
    return frozenset({WordFact()}) if WordFact() in alts else frozenset(alts)


def _merge_bounds(b1, b2):
    (lo1, hi1), (lo2, hi2) = sorted([b1, b2], key=lambda b: b[0])
    if hi1 is not None and hi1 + 1 < lo2:
        return None
    hi = None if hi1 is None or hi2 is None else max(hi1, hi2)
    return lo1, hi


_ANY_WORD = frozenset({WordFact()})


@dataclass(frozen=True)
class Region:
    """Merged spaces: per word a choice of facts (any one holds), per region
    one byte-count interval. The packets are the product of the choices."""
    layout: str
    words: tuple = ()       # ((region, offset), tuple of WordFacts)
    avail: tuple = ()       # (region, lo, hi)

    def matches(self, packet):
        view = _View(self.layout, bytes(packet))
        return _fits(view, self.avail) and \
            all(any(f.holds(view.word(*key)) for f in alts) for key, alts in self.words)

    def bounds(self, region):
        for r, lo, hi in self.avail:
            if r == region:
                return lo, hi
        return 0, None

    def parts(self):
        """Spaces of one choice per word, the first choices first (each a part of the region)."""
        keys = [k for k, _ in self.words]
        for choice in itertools.product(*(alts for _, alts in self.words)):
            yield Space(self.layout, tuple(zip(keys, choice)), self.avail)


def _components(space):
    comps = {("w",) + k: frozenset({f}) for k, f in space.words}
    comps.update({("a", r): (lo, hi) for r, lo, hi in space.avail})
    return comps


def _from_components(layout, comps):
    words = tuple(sorted((c[1:], tuple(sorted(f, key=repr))) for c, f in comps.items()
                         if c[0] == "w" and f != _ANY_WORD))
    avail = tuple(sorted((c[1],) + b for c, b in comps.items()
                         if c[0] == "a" and (b[0] or b[1] is not None)))
    return Region(layout, words, avail)


def _merge(spaces):
    """Regions covering exactly the packets of spaces (disjoint): spaces that
    differ in one word only become one region with a choice for that word."""
    items = [_components(s) for s in spaces]
    layout = spaces[0].layout if spaces else "ip"
    changed = True
    while changed:
        changed = False
        keys = sorted({c for comps in items for c in comps})
        for c in keys:
            default = _ANY_WORD if c[0] == "w" else (0, None)
            buckets = {}
            for i, comps in enumerate(items):
                rest = frozenset((k, v) for k, v in comps.items() if k != c)
                buckets.setdefault(rest, []).append(i)
            gone = set()
            for group in buckets.values():
                for x in range(len(group)):
                    i = group[x]
                    if i in gone:
                        continue
                    for y in range(x + 1, len(group)):
                        j = group[y]
                        if j in gone:
                            continue
                        vi, vj = items[i].get(c, default), items[j].get(c, default)
                        if c[0] == "w":
                            fields = [f[0] for f in _IP_FIELDS.get(c[1:], ())] if layout == "ip" else ()
                            m = _merge_alternatives(vi | vj, fields or (_M32,))
                        else:
                            m = _merge_bounds(vi, vj)
                        if m is None:
                            continue
                        items[i] = {k: v for k, v in items[i].items() if k != c}
                        if m != default:
                            items[i][c] = m
                        gone.add(j)
                        changed = True
            items = [comps for i, comps in enumerate(items) if i not in gone]
    return [_from_components(layout, comps) for comps in items]


# --- describing regions ------------------------------------------------------------------------

_PROTO_NAMES = {1: "icmp", 2: "igmp", 4: "ipip", 6: "tcp", 17: "udp", 33: "dccp"}
_TCP_FLAGS = ((0x01, "fin"), (0x02, "syn"), (0x04, "rst"), (0x08, "psh"), (0x10, "ack"), (0x20, "urg"),
              (0x40, "ece"), (0x80, "cwr"))


def _field(fact, fmask):
    """The fact restricted to one field's bits, shifted down: (known, value, negs),
    or None when an exclusion spans this field and another."""
    shift = (fmask & -fmask).bit_length() - 1
    negs = []
    for m, v in fact.negs:
        if m & fmask and m & ~fmask:
            return None
        if m & fmask:
            negs.append((m >> shift, v >> shift))
    return (fact.known & fmask) >> shift, (fact.value & fmask) >> shift, negs


def _values(known, value, negs, width):
    return [x for x in range(1 << width)
            if (x & known) == value and all((x & m) != v for m, v in negs)]


def _ranges(xs):
    out = []
    for x in xs:
        if out and out[-1][1] == x - 1:
            out[-1][1] = x
        else:
            out.append([x, x])
    return out


def _set_text(xs, width, name=str):
    """A field's allowed values (sorted) as '80', '1024-65535', '80,443' or '!22'."""
    full = 1 << width
    if len(xs) == full:
        return None
    rs = _ranges(xs)
    if len(xs) > full // 2:
        missing = _ranges(sorted(set(range(full)) - set(xs)))
        if len(missing) < len(rs):
            text = _join_ranges(missing, name)
            return f"!({text})" if len(missing) > 1 else "!" + text
    return _join_ranges(rs, name)


def _join_ranges(rs, name):
    parts = [name(a) if a == b else f"{name(a)}-{name(b)}" for a, b in rs[:6]]
    if len(rs) > 6:
        parts.append("...")
    return ",".join(parts)


def _addr_text(known, value, negs):
    from clickpy.runtime.args import mask_prefix_len, unparse_ip

    def one(m, v):
        n = mask_prefix_len(m)
        if n == 32:
            return unparse_ip(v)
        if n >= 0:
            return f"{unparse_ip(v)}/{n}"
        return f"{unparse_ip(v)}%{unparse_ip(m)}"

    parts = [one(known, value)] if known else []
    parts += ["!" + one(m | known, v | value) for m, v in sorted(negs)]
    return " ".join(parts) if parts else None


def _flags_text(known, value, negs):
    parts = []
    for bit, name in _TCP_FLAGS:
        if known & bit:
            parts.append(name if value & bit else "!" + name)
    for m, v in sorted(negs):
        names = [("" if v & bit else "!") + name for bit, name in _TCP_FLAGS if m & bit]
        parts.append("!(" + " ".join(names) + ")")
    return " ".join(parts)


def _generic(region, offset, fact):
    where = {DATA: "", NET: "ip", TRANSP: "transp"}[region]

    def clause(m, v, neg):
        lo = max(i for i in range(4) if m >> (8 * i) & 0xFF)
        hi = min(i for i in range(4) if m >> (8 * i) & 0xFF)
        first = offset + 3 - lo
        n = lo - hi + 1
        mm = (m >> (8 * hi)) & ((1 << (8 * n)) - 1)
        vv = (v >> (8 * hi)) & mm
        text = f"{first}/{vv:0{2 * n}x}" + ("" if mm == (1 << (8 * n)) - 1 else f"%{mm:0{2 * n}x}")
        if where:
            text = f"{where}[{text}]"
        return ("!" if neg else "") + text

    parts = [clause(fact.known, fact.value, False)] if fact.known else []
    parts += [clause(m, v, True) for m, v in sorted(fact.negs)]
    return parts


# (region, word offset) -> its fields: (mask, name, kind)
_IP_FIELDS = {
    (NET, 0): ((0xF0000000, "ip vers", "int"), (0x0F000000, "ip hl", "int"), (0x00FF0000, "ip tos", "int"),
               (0x0000FFFF, "ip len", "int")),
    (NET, 4): ((0xFFFF0000, "ip id", "int"), (0x0000FFFF, "ip frag", "frag")),
    (NET, 8): ((0xFF000000, "ip ttl", "int"), (0x00FF0000, "proto", "proto"), (0x0000FFFF, "ip csum", "int")),
    (NET, 12): ((_M32, "src", "addr"),),
    (NET, 16): ((_M32, "dst", "addr"),),
    (TRANSP, 0): ((0xFFFF0000, "sport", "int"), (0x0000FFFF, "dport", "int")),
    (TRANSP, 12): ((0xFF000000, "tcp off", "int"), (0x00FF0000, "flags", "flags"),
                   (0x0000FFFF, "tcp win", "int")),
}


_FRAG_NAMES = {   # (offsets without MF, offsets with MF) -> name; offsets: "0", ">0", "any"
    ("0", None): "unfrag", (">0", "any"): "frag", ("0", "0"): "first-fragment",
    (">0", ">0"): "later-fragment",
}


def _frag_text(xs):
    """ip[6:2] (flags and fragment offset) by the fragment tests' names where
    the DF and reserved bits do not matter, else None."""
    got = set(xs)
    if any(x ^ 0x4000 not in got or x ^ 0x8000 not in got for x in got):
        return None
    offsets = []
    for mf in (0, 0x2000):
        o = sorted(x & 0x1FFF for x in got if x & 0xE000 == mf)
        if not o:
            offsets.append(None)
        elif o == [0]:
            offsets.append("0")
        elif len(o) == 0x2000:
            offsets.append("any")
        elif len(o) == 0x1FFF and o[0] == 1:
            offsets.append(">0")
        else:
            offsets.append(_set_text(o, 13))
    name = _FRAG_NAMES.get(tuple(offsets))
    if name:
        return name
    parts = [("MF" if mf else "!MF") + ("" if o == "any" else f" offset {o}")
             for mf, o in zip((1, 0), reversed(offsets)) if o is not None]
    return " or ".join(parts)


_ICMP_FIELDS = ((0xFF000000, "icmp type", "int"), (0x00FF0000, "icmp code", "int"),
                (0x0000FFFF, "icmp csum", "int"))


def _field_texts(region, offset, alts, icmp):
    """[(name, text)] for a word whose choices line up with its fields (they
    may differ in one field only), else None."""
    layout = _ICMP_FIELDS if icmp and (region, offset) == (TRANSP, 0) else _IP_FIELDS.get((region, offset))
    if layout is None:
        return None
    per_field = []
    for fmask, name, kind in layout:
        got = [_field(f, fmask) for f in alts]
        if any(g is None for g in got):
            return None
        per_field.append(got)
    if sum(len({repr(g) for g in got}) > 1 for got in per_field) > 1:
        return None
    parts = []
    for (fmask, name, kind), got in zip(layout, per_field):
        if len({repr(g) for g in got}) == 1:
            got = got[:1]
        if any(not known and not negs for known, _, negs in got):
            continue
        width = bin(fmask).count("1")
        if kind == "addr":
            text = ",".join(_addr_text(*g) for g in sorted(got, key=lambda g: (g[1], g[0])))
        elif kind == "flags":
            text = " or ".join(_flags_text(*g) for g in got)
        else:
            xs = sorted({x for g in got for x in _values(*g, width)})
            if kind == "proto":
                text = _set_text(xs, width, lambda p: _PROTO_NAMES.get(p, str(p)))
            elif kind == "frag":
                text = _frag_text(xs) or f"ip[6:2] {_set_text(xs, width, hex)}"
            else:
                text = _set_text(xs, width)
        if text:
            parts.append((name, text))
    return parts


def _generic_choice(region, offset, alts):
    texts = [" ".join(_generic(region, offset, f)) for f in alts]
    return texts if len(texts) == 1 else ["(" + " or ".join(texts) + ")"]


def _describe_ip(region, checked):
    """'PROTO SRC[:SPORT] -> DST[:DPORT] [flags ...] [other fields] [(short)]'
    (leaving out what every checked packet has, when checked)."""
    proto = dict(region.words).get((NET, 8), (WordFact(),))
    icmp = all((f.known & 0x00FF0000) == 0x00FF0000 and (f.value >> 16) & 0xFF == 1 for f in proto)
    fields, extra = {}, []
    for (where, offset), alts in region.words:
        parts = _field_texts(where, offset, alts, icmp)
        if parts is None:
            extra += _generic_choice(where, offset, alts)
        else:
            fields.update(p for p in parts if not (checked and p in _CHECKED_TEXTS))
    proto = fields.pop("proto", None)
    src, dst = fields.pop("src", "any"), fields.pop("dst", "any")
    sport, dport = fields.pop("sport", None), fields.pop("dport", None)
    if (sport or dport or "flags" in fields or icmp) and fields.get("ip frag") == "first-fragment":
        del fields["ip frag"]       # a port (or flag, or ICMP type) test reads first fragments only
    words = [f"{proto or 'ip'} {src}{':' + sport if sport else ''} -> {dst}{':' + dport if dport else ''}"]
    if "flags" in fields:
        words.append(f"flags {fields.pop('flags')}")
    if "ip frag" in fields:
        words.append(fields.pop("ip frag"))
    words += [f"{name} {text}" for name, text in fields.items()]
    return " ".join(words + extra + _bounds_text(region))


def _bounds_text(space):
    out = []
    for region, lo, hi in space.avail:
        if hi is None:
            continue
        where = {DATA: "packet", NET: "packet", TRANSP: "transport part"}[region]
        if not hi:
            out.append("(empty packet)" if where == "packet" else "(no transport bytes)")
        elif not lo:
            out.append(f"({where} under {hi + 1} bytes)")
        else:
            out.append(f"({where} {lo} bytes)" if lo == hi else f"({where} {lo}-{hi} bytes)")
    return out


def _describe_data(region):
    parts = []
    for (where, offset), alts in region.words:
        parts += _generic_choice(where, offset, alts)
    parts += _bounds_text(region)
    return " ".join(parts) if parts else "any"


def describe(region, checked=False):
    """A Region as text a person reads (see the module's doc)."""
    return _describe_ip(region, checked) if region.layout == "ip" else _describe_data(region)


# --- example packets ---------------------------------------------------------------------------

def _put(buf, at, word, mask):
    """Write the masked bytes of a word at buf[at:at+4] (buf grows as needed)."""
    for i in range(4):
        m = (mask >> (24 - 8 * i)) & 0xFF
        if m and at + i < len(buf):
            buf[at + i] = (buf[at + i] & ~m) | ((word >> (24 - 8 * i)) & m)


def _template_ip(hl, length):
    """A plain TCP/IPv4 packet: the starting point an example is made from."""
    buf = bytearray(length)
    base = bytes([0x40 | hl, 0, length >> 8 & 0xFF, length & 0xFF, 0, 1, 0, 0, 64, 6, 0, 0,
                  192, 0, 2, 1, 198, 51, 100, 1])
    buf[:min(20, length)] = base[:length]
    t = hl * 4
    tcp = bytes([0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xFF, 0xFF])
    for i, b in enumerate(tcp):
        if t + i < length:
            buf[t + i] = b
    return buf


def _fill(space, buf, starts):
    for (region, offset), fact in space.words:
        at = starts[region] + offset
        template = int.from_bytes(bytes(buf[at:at + 4]).ljust(4, b"\0"), "big")
        w = fact.solve(template)
        if w is None:
            return False
        _put(buf, at, w, _M32)
    return True


def example(region, checked=False, tries=64):
    """One packet in the Region (bytes), or None if none was found among the
    first ``tries`` combinations of its words' choices. checked: the packet
    must hold its whole IP header (as CheckIPHeader wants)."""
    for space in itertools.islice(region.parts(), tries):
        packet = _example_data(space) if space.layout == "data" else _example_from_space(space, checked)
        if packet is not None:
            return packet
    return None


def _example_data(space):
    lo, hi = space.bounds(DATA)
    length = max(lo, 60) if hi is None else min(max(lo, 60), hi)
    buf = bytearray(length)
    if _fill(space, buf, {DATA: 0}):
        packet = bytes(buf)
        if space.matches(packet):
            return packet
    return None


def _example_from_space(space, checked):
    nlo, nhi = space.bounds(NET)
    tlo, thi = space.bounds(TRANSP)
    hl_fact = space.word((NET, 0))
    for hl in [5] + list(range(6, 16)) + list(range(0, 5)):
        if not hl_fact.with_test(0x0F000000, hl << 24, True):
            continue
        # the lengths L with nlo <= L <= nhi and tlo <= max(0, L - 4 hl) <= thi
        t = 4 * hl
        low = max(nlo, 1, t + tlo if tlo else 0, t if checked else 0)
        high = min(x for x in (nhi, None if thi is None else t + thi, 0xFFFF) if x is not None)
        if low > high:
            continue
        preferred = max(low, min(high, t + 20))
        for length in dict.fromkeys((preferred, low, high)):
            packet = _example_ip(space, hl, length)
            if packet is not None:
                return packet
    return None


def _example_ip(space, hl, length):
    from clickpy.elements.analysis.ipsummary_format import in_cksum

    buf = _template_ip(hl, length)
    fixed = space.with_word((NET, 0), space.word((NET, 0)).with_test(0x0F000000, hl << 24, True))
    # the transport words first, then the IP words (which win where the two overlap)
    for part in ((TRANSP,), (NET,)):
        sub = Space(space.layout, tuple((k, f) for k, f in fixed.words if k[0] in part))
        if not _fill(sub, buf, {NET: 0, TRANSP: 4 * hl}):
            return None
    net = space.word((NET, 0))
    if not net.known & 0x0000FFFF and not any(m & 0xFFFF for m, _ in net.negs) and length >= 4:
        buf[2:4] = length.to_bytes(2, "big")
    csum = space.word((NET, 8))
    h = 4 * hl
    if length >= max(h, 20) and not csum.known & 0xFFFF and not any(m & 0xFFFF for m, _ in csum.negs):
        buf[10:12] = b"\0\0"
        buf[10:12] = in_cksum(bytes(buf[:h])).to_bytes(2, "big")
    packet = bytes(buf)
    return packet if space.matches(packet) else None


# --- the result -----------------------------------------------------------------------------

@dataclass
class PolicyChange:
    """One region of header space (or one rewriter input) whose fate changes.

    Ports are output numbers, DROPPED (-1) for no output. ``example`` starts
    at the IP header (IPFilter, IPClassifier) or the data (Classifier); b""
    for rewriter lines. ``space`` is the Region ``matches`` tests.
    """
    region: str
    old_port: int
    new_port: int
    old_label: str | None = None
    new_label: str | None = None
    example: bytes = b""
    input: int | None = None            # the rewriter input this line is about
    space: Space | None = field(default=None, repr=False, compare=False)

    def matches(self, packet: bytes) -> bool:
        """The packet lies in this region (any packet, for a rewriter input's line)."""
        return True if self.space is None else self.space.matches(packet)


class PolicyDiff(list):
    """The changes (at most ``limit``); ``more`` counts those left out, and
    ``unfound`` the regions left out because no packet for them was found."""
    more = 0
    unfound = 0


def _fate(port, label):
    text = "dropped" if port == DROPPED else f"output {port}"
    return f"{text} ({label})" if label else text


def format_change(c: PolicyChange) -> str:
    """The one-line form: 'tcp 10.0.0.0/8 -> any:8080  was output 0 (allow), now dropped (deny)'."""
    if c.input is not None:
        return f"{c.region}  was {c.old_label}, now {c.new_label}"
    return f"{c.region}  was {_fate(c.old_port, c.old_label)}, now {_fate(c.new_port, c.new_label)}"


def format_diff(changes) -> list[str]:
    """One line per change, then '... and N more regions' if some were left out."""
    lines = [format_change(c) for c in changes]
    more = getattr(changes, "more", 0)
    if more:
        lines.append(f"... and {more} more region{'s' if more != 1 else ''}")
    return lines


def decision(class_name, config, *, noutputs=None, context=None):
    """The Decision a filter configuration compiles to, or None if not analysed."""
    if class_name == "Classifier":
        return _classifier_decision(config)
    if class_name in ("IPFilter", "IPClassifier"):
        return _ip_decision(class_name, config, noutputs, context)
    return None


def policy_diff(class_name: str, old_config: str, new_config: str, *, limit: int | None = 50,
                noutputs: int | None = None, context=None, checked: bool = True,
                budget: int = DEFAULT_BUDGET) -> list[PolicyChange] | None:
    """The traffic whose fate differs between old_config and new_config of
    class_name, or None for a class (or configuration) it does not analyse.

    noutputs: the element's output count (IPFilter; None: as many as the
    rules name). context: the element names in the configurations are
    resolved from (AddressInfo, PortInfo, named rewriter patterns), or a
    pair of them (old configuration's, new configuration's).
    checked (IPFilter, IPClassifier): only packets CheckIPHeader lets through
    (IPv4, IHL 5 or more, 20 bytes or more), as usually reach a filter;
    False covers every packet, bogus headers and all. Raises
    PolicyError when a configuration does not compile or the diff is too
    large to compute exactly within budget.
    """
    old_context, new_context = context if isinstance(context, tuple) else (context, context)
    if class_name not in FILTER_CLASSES:
        return _rewriter_diff(class_name, old_config, new_config, limit, old_context, new_context)
    old = decision(class_name, old_config, noutputs=noutputs, context=old_context)
    new = decision(class_name, new_config, noutputs=noutputs, context=new_context)
    if old is None or new is None:
        return None
    groups = {}
    start = CHECKED_IP if checked and old.layout == "ip" else Space(old.layout)
    checked = start is CHECKED_IP
    for (op, ol), (np_, nl), space in _walk(old, new, budget, start):
        groups.setdefault((op, np_, ol, nl), []).append(space)
    found, unfound = [], 0
    for (op, np_, ol, nl), spaces in groups.items():
        for region in _merge(spaces):
            packet = example(region, checked)
            if packet is None:
                # The walk reads the IP and transport headers as separate
                # words; a region whose only packets would need one byte to
                # hold two values (the transport header inside the IP
                # header) has none.
                unfound += 1
            else:
                found.append(((op == DROPPED, op, np_), (op, np_, ol, nl), packet, region))
    found.sort(key=lambda f: f[0])
    shown = found if limit is None else found[:limit]
    result = PolicyDiff(PolicyChange(describe(region, checked), *fate, packet, space=region)
                        for _, fate, packet, region in shown)
    result.more = len(found) - len(shown)
    result.unfound = unfound
    return result


# --- rewriters ----------------------------------------------------------------------------------

_SPEC_KINDS = {"pass": "pass", "passthrough": "pass", "nochange": "pass", "keep": "keep",
               "drop": "drop", "discard": "drop", "pattern": "pattern", "xpattern": "pattern"}


def _rewriter_class(class_name):
    from clickpy.runtime import registry

    try:
        cls = registry.lookup(class_name)
        from clickpy.elements.rewriter.rewriter_base import IPRewriterBase
    except ImportError:
        return None
    return cls if cls is not None and issubclass(cls, IPRewriterBase) else None


def _input_specs(cls, config):
    keywords = {a.keyword for a in getattr(cls, "arguments", ()) if not a.rest}
    specs = []
    for arg in split_args(config):
        words = split_words(arg)
        if len(words) > 1 and words[0] in keywords:
            continue
        specs.append(words)
    return specs


def _spec_meaning(words, context):
    """(what the spec does, forward output) with spellings made equal."""
    from clickpy.elements.rewriter.rewriter_pattern import PatternError, PatternSpec, parse_pattern_with_ports

    if not words:
        return ("none",), DROPPED
    kind = _SPEC_KINDS.get(words[0])
    rest = words[1:]
    if kind == "pass":
        out = int(rest[0]) if rest and rest[0].isdigit() else 0
        return ("pass", out), out
    if kind == "drop":
        return ("drop",), DROPPED
    if kind == "keep":
        return ("keep",) + tuple(rest), int(rest[0]) if rest and rest[0].isdigit() else DROPPED
    if kind == "pattern":
        try:
            pattern, f, r = parse_pattern_with_ports(rest, context)
        except (PatternError, ValueError):
            return ("pattern",) + tuple(rest), DROPPED
        text = pattern.unparse() if isinstance(pattern, PatternSpec) else " ".join(rest[:-2])
        return ("pattern", text, pattern.sequential if isinstance(pattern, PatternSpec) else None,
                pattern.same_first if isinstance(pattern, PatternSpec) else None, f, r), f
    return ("mapper",) + tuple(words), DROPPED


def _rewriter_diff(class_name, old_config, new_config, limit, old_context, new_context):
    cls = _rewriter_class(class_name)
    if cls is None:
        return None
    old, new = _input_specs(cls, old_config), _input_specs(cls, new_config)
    changes = []
    for i in range(max(len(old), len(new))):
        ow = old[i] if i < len(old) else []
        nw = new[i] if i < len(new) else []
        (om, op), (nm, np_) = _spec_meaning(ow, old_context), _spec_meaning(nw, new_context)
        if om != nm:
            changes.append(PolicyChange(f"input {i} (all traffic on it)", op, np_,
                                        " ".join(ow) or "(no such input)", " ".join(nw) or "(no such input)",
                                        example=b"", input=i))
    result = PolicyDiff(changes if limit is None else changes[:limit])
    result.more = len(changes) - len(result)
    return result
