"""RandomSample: sampling with a seeded generator, keywords, handlers."""
import pytest
from harness import inject
from support import refused, run_config

from clickpy.runtime.packet import PacketObject


# --- RandomSample ----------------------------------------------------------------------------


def sample_run(conf, seed=17, n=2000):
    return run_config(
        f"RandomSeed({seed}); InfiniteSource(LIMIT {n}, STOP true) -> r :: RandomSample({conf});"
        " r[0] -> a :: Counter -> Discard; r[1] -> b :: Counter -> Discard;",
        "-h", "a.count", "-h", "b.count", "-h", "r.drops", "-h", "r.sampling_prob", "-h", "r.drop_prob",
        "-h", "r.config")


def counts(out):
    return [l for l in out.stdout.splitlines() if l and not l.endswith(":")]


def test_randomsample_deterministic_with_seed():
    one, two = sample_run("0.25"), sample_run("0.25")
    assert one.returncode == 0, one.stderr
    assert counts(one) == counts(two)
    a, b, drops, sp, dp, cfg = counts(one)
    assert int(a) + int(b) == 2000 and int(b) == int(drops)
    assert 400 < int(a) < 600
    assert sp == "0.25" and dp == "0.75" and cfg == "SAMPLE 0.25, ACTIVE true"
    other = sample_run("0.25", seed=18)
    assert counts(other) != counts(one)


def test_randomsample_extremes_and_keywords():
    assert counts(sample_run("1"))[:2] == ["2000", "0"]
    assert counts(sample_run("0"))[:2] == ["0", "2000"]
    assert counts(sample_run("DROP 1"))[:2] == ["0", "2000"]
    assert counts(sample_run("0, ACTIVE false"))[:2] == ["2000", "0"]
    assert counts(sample_run("SAMPLE 0.5"))[3] == "0.5"


def test_randomsample_bad_configs():
    for conf in ("", "1.5", "SAMPLE 0.5, DROP 0.5", "bogus", "DROP 2"):
        out = run_config(f"Idle -> RandomSample({conf}) -> Discard", "-q")
        assert refused(out, "RandomSample"), (conf, out.stderr)


def test_randomsample_handlers():
    r, rec = inject("RandomSample(0.5)", [])
    r.write("e.drop_prob", "0.125")
    assert r.read("e.sampling_prob") == "0.875"
    with pytest.raises(Exception):
        r.write("e.sampling_prob", "2")
    r.write("e.active", "false")
    for _ in range(50):
        r.element("e").push_packet(0, PacketObject.make(b"x"))
    assert len(rec.log) == 50
