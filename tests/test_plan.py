"""The checked graph as msgpack data: it round-trips, and damage is a ValueError."""
import pytest
from support import REPO

from clickpy import pipeline, plan


@pytest.mark.parametrize("name", ["firewall.click", "nat-gateway.click", "ip-router.click", "bridge.click"])
def test_a_checked_configuration_round_trips(name):
    r = pipeline.load(pipeline.Source((REPO / "configs" / name).read_text(), name))
    assert r.ok, r.diagnostics.format()
    r.diagnostics.warning(None, "a warning travels too")
    graph, ports, diagnostics = plan.unpack(plan.pack(r.graph, r.ports, r.diagnostics))
    assert graph.signature() == r.graph.signature()
    assert graph.connection_landmarks == r.graph.connection_landmarks
    assert [e.landmark for e in graph.elements] == [e.landmark for e in r.graph.elements]
    assert ports == r.ports
    assert diagnostics.format() == r.diagnostics.format()


@pytest.mark.parametrize("data", [b"", b"\x93\x01\x02", b"\xc1", b"\x96\x02" + b"\x90" * 5])
def test_damaged_data_is_a_value_error(data):
    with pytest.raises(ValueError):
        plan.unpack(data)
