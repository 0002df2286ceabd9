"""The checked graph as msgpack data: it round-trips, and damage is a ValueError."""
import pytest
from support import REPO

from clickpy import pipeline, plan


@pytest.mark.parametrize("name", ["firewall.click", "nat-gateway.click", "ip-router.click", "bridge.click"])
def test_a_checked_configuration_round_trips(name):
    r = pipeline.load(pipeline.Source((REPO / "configs" / name).read_text(), name))
    assert r.ok, r.diagnostics.format()
    r.diagnostics.warning(None, "a warning travels too")
    p = plan.Plan.unpack(plan.Plan(r.graph, r.ports, r.diagnostics).pack())
    graph, ports, diagnostics = p.graph, p.ports, p.diagnostics
    assert graph.signature() == r.graph.signature()
    assert graph.connection_landmarks == r.graph.connection_landmarks
    assert [e.landmark for e in graph.elements] == [e.landmark for e in r.graph.elements]
    assert ports == r.ports
    assert diagnostics.format() == r.diagnostics.format()


@pytest.mark.parametrize("data", [b"", b"\x93\x01\x02", b"\xc1", b"\x96\x01" + b"\x90" * 5])
def test_damaged_data_is_a_value_error(data):
    with pytest.raises(ValueError):
        plan.Plan.unpack(data)


def _plan(text, filename="a.click"):
    return pipeline.plan(pipeline.Source(text, filename))


def test_the_content_hash_names_what_runs_not_where_it_was_written():
    base = _plan("src :: InfiniteSource(LIMIT 5) -> c :: Counter -> Discard;")
    moved = _plan("// a comment\n\nsrc :: InfiniteSource(LIMIT 5)\n  -> c :: Counter -> Discard;", "b.click")
    other = _plan("src :: InfiniteSource(LIMIT 6) -> c :: Counter -> Discard;")
    renamed = _plan("src :: InfiniteSource(LIMIT 5) -> k :: Counter -> Discard;")
    assert base.content_hash == moved.content_hash
    assert len({base.content_hash, other.content_hash, renamed.content_hash}) == 3
    assert plan.Plan.unpack(base.pack()).content_hash == base.content_hash


def test_a_connection_outside_the_graph_is_damage():
    import msgpack

    data = msgpack.unpackb(_plan("Idle -> Discard;").pack())
    data[2].append([0, 0, 7, 0, None])
    with pytest.raises(ValueError, match="outside the graph"):
        plan.Plan.unpack(msgpack.packb(data))


def test_the_runtime_runs_a_plan_without_importing_the_front_end(tmp_path):
    """Router.from_plan needs only the Plan: no parser, elaboration or check is loaded."""
    import subprocess
    import sys

    data = _plan("InfiniteSource(LIMIT 7, STOP true) -> c :: Counter -> Discard;").pack()
    (tmp_path / "plan.bin").write_bytes(data)
    code = (
        "import sys\n"
        "from clickpy.plan import Plan\n"
        "from clickpy.runtime.router import Router\n"
        f"r = Router.from_plan(Plan.unpack(open({str(tmp_path / 'plan.bin')!r}, 'rb').read()))\n"
        "r.run()\n"
        "print(r.read('c.count'))\n"
        "front = ['clickpy.pipeline', 'clickpy.lang.parser', 'clickpy.graph.elaborate', 'clickpy.graph.check',\n"
        "         'clickpy.graph.catalog']\n"
        "print(sorted(m for m in front if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["7", "[]"]
