"""Classifier: pattern parsing, the optimized decision program, short packets, batches."""
import random

import pytest
from harness import feed, run_router
from support import build_router, run_config

from clickpy.errors import ConfigError
from clickpy.runtime.error_handler import ElementErrors

from clickpy.elements.standard.classifier import CompiledProgram, Program, parse_patterns


# --- a direct reading of the pattern language, to check the compiled program against

def parse_reference(pattern):
    """[(negated, offset, [(value, mask) per byte])] for one pattern; None for '-'."""
    if pattern.strip() == "-":
        return []
    clauses = []
    for word in pattern.split():
        neg = word.startswith("!")
        word = word.lstrip("!")
        off, _, rest = word.partition("/")
        val, _, mask = rest.partition("%")
        bytes_ = []
        for i in range(0, len(val), 2):
            v = m = 0
            for k, c in enumerate(val[i:i + 2]):
                shift = 4 if k == 0 else 0
                if c != "?":
                    v |= int(c, 16) << shift
                    m |= 0xF << shift
            if mask:
                mm = 0
                for k, c in enumerate(mask[i:i + 2]):
                    if c != "?":
                        mm |= int(c, 16) << (4 if k == 0 else 0)
                m &= mm
            bytes_.append((v & m, m))
        clauses.append((neg, int(off), bytes_))
    return clauses


def reference_output(patterns, data):
    """First pattern whose clauses all hold (a clause reaching past the end fails)."""
    for port, pattern in enumerate(patterns):
        ok = True
        for neg, off, bytes_ in parse_reference(pattern):
            hit = all(m == 0 or (off + i < len(data) and data[off + i] & m == v)
                      for i, (v, m) in enumerate(bytes_))
            if hit == neg:
                ok = False
                break
        if ok:
            return port
    return None


def compile_patterns(patterns):
    errh = ElementErrors()
    prog = parse_patterns(patterns, errh)
    assert errh.nerrors == 0, errh.items
    return prog, CompiledProgram.build(prog)


def compiled_output(compiled, data, noutputs):
    o = compiled.match_bytes(data)
    return o if o < noutputs else None


def random_pattern(rng):
    if rng.random() < 0.08:
        return "-"
    clauses = []
    for _ in range(rng.randint(1, 3)):
        off = rng.choice([0, 1, 2, 3, 4, 6, 9, 12, 13, 14, 16, 20, 23, 30])
        n = rng.choice([1, 1, 2, 2, 3, 4, 5])
        val = "".join(rng.choice("0123456789abcdef??" if rng.random() < 0.3 else "0123f")
                      for _ in range(2 * n))
        clause = f"{off}/{val}"
        if rng.random() < 0.25:
            clause += "%" + "".join(rng.choice("0f?8ff") for _ in range(2 * n))
        if rng.random() < 0.2:
            clause = "!" + clause
        clauses.append(clause)
    return " ".join(clauses)


def packet_for(patterns, rng):
    """Random bytes, often made to satisfy (part of) a pattern, of a random length."""
    n = rng.choice([0, 1, 3, 8, 12, 13, 14, 15, 16, 17, 20, 22, 24, 30, 33, 40])
    data = bytearray(rng.choice([0, 1, 0x0f, 0xf0, 0x30, rng.randrange(256)]) for _ in range(n))
    clauses = [c for p in patterns for c in parse_reference(p)]
    for neg, off, bytes_ in rng.sample(clauses, min(len(clauses), rng.randint(0, 3))):
        for i, (v, m) in enumerate(bytes_):
            if off + i < len(data):
                data[off + i] = (data[off + i] & ~m & 0xFF) | v
    return bytes(data)


# --- the program ------------------------------------------------------------------

ETHER = ["12/0806 20/0001", "12/0806 20/0002", "12/0800", "-"]


def test_program_matches_clicks_documented_program():
    prog, _ = compile_patterns(ETHER)
    assert prog.unparse() == (
        " 0  12/08060000%ffff0000  yes->step 1  no->step 3\n"
        " 1  20/00010000%ffff0000  yes->[0]  no->step 2\n"
        " 2  20/00020000%ffff0000  yes->[1]  no->[3]\n"
        " 3  12/08000000%ffff0000  yes->[2]  no->[3]\n"
        "safe length 22\n"
        "alignment offset 0\n")


def test_program_handler_and_everything_pattern():
    r = build_router("Idle -> c :: Classifier(12/0800, -) -> Idle; c[1] -> Idle")
    assert r.read("c.program") == (" 0  12/08000000%ffff0000  yes->[0]  no->[1]\n"
                                   "safe length 14\nalignment offset 0\n")
    r = build_router("Idle -> c :: Classifier(-) -> Idle")
    assert r.read("c.program") == "all->[0]\nsafe length 0\nalignment offset 0\n"


@pytest.mark.parametrize("seed", range(40))
def test_compiled_program_agrees_with_the_pattern_language(seed):
    rng = random.Random(seed)
    patterns = [random_pattern(rng) for _ in range(rng.randint(1, 9))]
    prog, compiled = compile_patterns(patterns)
    for _ in range(300):
        data = packet_for(patterns, rng)
        want = reference_output(patterns, data)
        assert compiled_output(compiled, data, len(patterns)) == want, (patterns, data.hex())
        assert (lambda o: o if o < len(patterns) else None)(prog.match_python(data)) == want


def test_many_rules_compile_and_classify():
    rng = random.Random(7)
    patterns = [f"12/0800 23/{p:02x} 36/{port:04x}" for p, port in
                ((rng.choice([6, 17]), rng.randrange(1, 2000)) for _ in range(60))] + ["-"]
    prog, compiled = compile_patterns(patterns)
    for _ in range(500):
        data = packet_for(patterns, rng)
        assert compiled_output(compiled, data, len(patterns)) == reference_output(patterns, data)


def test_wildcards_and_masks():
    patterns = ["0/1?3?", "4/00%f0", "8/ff%0f 9/ab", "-"]
    _, c = compile_patterns(patterns)
    assert c.match_bytes(bytes([0x1A, 0x3B])) == 0
    assert c.match_bytes(bytes([0x1A, 0x4B])) == 3
    assert c.match_bytes(bytes(4) + bytes([0x0F])) == 1
    assert c.match_bytes(bytes(4) + bytes([0x1F])) == 3
    other = bytes([0xFF] * 8)
    assert c.match_bytes(other + bytes([0xEF, 0xAB])) == 2
    assert c.match_bytes(other + bytes([0xEE, 0xAB])) == 3


def test_short_packets_fail_clauses_and_pass_negated_ones():
    _, c = compile_patterns(["12/0800", "!12/0806", "-"])
    assert c.match_bytes(bytes(12) + b"\x08\x00") == 0
    # 13 bytes: the two-byte value at 12 is not all there
    assert c.match_bytes(bytes(12) + b"\x08") == 1
    assert c.match_bytes(b"") == 1
    _, c = compile_patterns(["12/0806", "12/08"])
    assert c.match_bytes(bytes(12) + b"\x08") == 1
    assert c.match_bytes(bytes(12)) > 1          # nothing matches: dropped


def test_no_match_drops_and_contradiction_warns():
    r = run_config("InfiniteSource(DATA \\<0102>, LIMIT 3, STOP true) -> c :: Classifier(0/03, 0/0102 0/0103)"
                   " -> Discard; c[1] -> d :: Counter -> Discard", "-h", "d.count")
    assert r.returncode == 0
    assert "output 1 matches no packets" in r.stderr
    assert r.stdout.strip() == "0"


# --- configuration errors ----------------------------------------------------------

@pytest.mark.parametrize("pattern, message", [
    ("12/0", "pattern 0: value has less than 2 hex digits"),
    ("12/080", "pattern 0: value has odd number of hex digits"),
    ("12/0800%ff", "pattern 0: mask has too few hex digits"),
    ("12/08%ffff", "pattern 0: mask has too many hex digits"),
    ("x/08", "pattern 0: expected a digit"),
    ("12:08", "pattern 0: expected '/'"),
])
def test_bad_patterns_are_configure_errors(pattern, message):
    with pytest.raises(ConfigError) as e:
        build_router(f"Idle -> c :: Classifier({pattern}) -> Idle")
    assert message in str(e.value)
    assert "While configuring 'c :: Classifier'" in str(e.value)


def test_pattern_count_must_match_outputs():
    with pytest.raises(ConfigError) as e:
        build_router("Idle -> c :: Classifier(12/0800, -) -> Idle")
    assert "need 1 arguments, one per output port" in str(e.value)


def test_live_reconfigure_replaces_the_program():
    r = build_router("Idle -> c :: Classifier(12/0800) -> Idle")
    r.write("c.config", "12/0806")
    assert "08060000%ffff0000" in r.read("c.program")
    with pytest.raises(Exception):
        r.write("c.config", "12/0")
    assert "08060000%ffff0000" in r.read("c.program")


# --- batches and single packets give the same outputs ------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_batch_and_per_packet_paths_agree(seed):
    rng = random.Random(100 + seed)
    patterns = [random_pattern(rng) for _ in range(rng.randint(2, 6))]
    packets = [packet_for(patterns, rng) for _ in range(200)]
    outs = " ".join(f"c[{i}] -> [{i}] rec;" for i in range(len(patterns)))
    results = {}
    for burst in (1, 32):
        key = feed(packets)
        r = run_router(f"HarnessFeed({key}) -> Queue(100000) -> Unqueue(BURST {burst}) "
                       f"-> c :: Classifier({', '.join(patterns)}); rec :: HarnessRecord; {outs}")
        log = r.element("rec").log
        results[burst] = {i: [x.data for x in log if x.port == i] for i in range(len(patterns))}
    expected = {i: [] for i in range(len(patterns))}
    for data in packets:
        o = reference_output(patterns, data)
        if o is not None:
            expected[o].append(data)
    assert results[1] == expected
    assert results[32] == expected


def test_batch_all_to_one_output_and_unconnected_drop():
    key = feed([bytes(12) + b"\x08\x00"] * 40 + [b"\x00"] * 5)
    r = run_router(f"HarnessFeed({key}) -> Queue(1000) -> Unqueue(BURST 32) -> c :: Classifier(12/0800, 0/ff)"
                   f" -> rec :: HarnessRecord; c[1] -> Discard")
    assert len(r.element("rec").log) == 40


# --- the building blocks other classifiers (IPFilter) use ------------------------------

def test_or_of_values_compresses_into_one_test():
    from clickpy.elements.standard.classifier import C_OR, CompressedProgram, J_FAILURE, J_NEVER
    prog = Program()
    tree = prog.init_subtree()
    prog.start_subtree(tree)
    prog.start_subtree(tree)
    for port in (80, 443, 22, 8080):
        prog.add_insn(tree, 36, port << 16, 0xFFFF0000)
    prog.finish_subtree(tree, C_OR, 0, J_FAILURE)
    prog.start_subtree(tree)
    prog.add_insn(tree, 0, 0, 0)
    prog.finish_subtree(tree, C_OR, -1, J_FAILURE)
    prog.finish_subtree(tree, C_OR, J_NEVER, J_NEVER)
    prog.optimize()
    # the OR chain is sorted by value, except across step 0 (Click's sort
    # cannot tell "only reached from step 0" from "reached from several")
    assert prog.unparse().splitlines()[:4] == [
        " 0  36/00500000%ffff0000  yes->[0]  no->step 1",
        " 1  36/00160000%ffff0000  yes->[0]  no->step 2",
        " 2  36/01bb0000%ffff0000  yes->[0]  no->step 3",
        " 3  36/1f900000%ffff0000  yes->[0]  no->[1]"]
    z = CompressedProgram().compile(prog)
    assert z.words[0] >> 17 == 4                 # one test, four values
    assert z.unparse().splitlines()[-2:] == ["safe length 38", "alignment offset 0"]
    assert len(z.unparse().splitlines()) == 6
    _, c = None, CompiledProgram.build(prog)
    for port, out in ((80, 0), (22, 0), (8080, 0), (81, 1)):
        assert c.match_bytes(bytes(36) + port.to_bytes(2, "big")) == out
    assert c.match_bytes(bytes(37)) == 1          # too short for the port: no match


def test_compressed_program_prints_like_the_program_without_groups():
    from clickpy.elements.standard.classifier import CompressedProgram
    prog, _ = compile_patterns(ETHER)
    assert CompressedProgram().compile(prog).unparse() == prog.unparse()


# --- a specialised walk (clickpy.specialize) classifies as the generic one ---------

@pytest.mark.parametrize("seed", range(4))
def test_a_specialised_walk_sends_every_packet_where_the_generic_one_does(seed):
    from clickpy import spec_cache, specialize

    rng = random.Random(500 + seed)
    sets = [[random_pattern(rng) for _ in range(rng.randint(1, 9))] for _ in range(20)]
    router = build_router("\n".join(
        f"Idle -> c{i} :: Classifier({', '.join(p)}); " + " ".join(f"c{i}[{k}] -> Discard;" for k in range(len(p)))
        for i, p in enumerate(sets)))
    packets = [[packet_for(p, rng) for _ in range(150)] for p in sets]
    names = [f"c{i}" for i in range(len(sets))]

    def outputs():
        return [[router.find(n).match_bytes(d) for d in packets[i]] for i, n in enumerate(names)]
    generic = outputs()
    done = specialize.install(router, spec_cache.load(router.plan))
    walking = [n for n in names if router.find(n).fast_walk() is not None]
    assert sorted(done["installed"]) == sorted(walking) and done["refused"] == []
    assert len(walking) > len(names) // 2
    assert all(router.find(n).specialized == (n in walking) for n in names)
    assert outputs() == generic
