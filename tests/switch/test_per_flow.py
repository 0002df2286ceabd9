"""Per-flow guests with real traffic between namespaces: every new flow starts its own guest, and no
packet is lost while guests start (bench/per_flow.py runs the same at 1,000 new flows per second)."""
import importlib.util

import pytest
from netns import is_root
from support import REPO

pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(not is_root(), reason="needs root (network namespaces)")]


def _bench():
    spec = importlib.util.spec_from_file_location("per_flow", REPO / "bench" / "per_flow.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_new_flow_gets_a_guest_and_no_packet_is_lost():
    r = _bench().run(rate=40, seconds=2)
    assert r["flows"] == 80
    assert r["first_packets_forwarded"] == 80, r
    assert r["lost"] == 0 and r["duplicates"] == 0, r
    assert r["guests_ready"] >= 80, "one guest per flow"
    assert not set(r["switch_drops"]) - {"no_tenant"}, r   # (the kernel's own IPv6 chatter has no tenant)
