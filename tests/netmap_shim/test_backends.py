"""The backends package: every backend registers, and AF_XDP is there wherever it can be built."""
from pathlib import Path

import pytest

from clickpy.netmap_shim.backends import LOAD_ERRORS, afxdp_built
from clickpy.netmap_shim.ring import backends


def test_every_backend_registers():
    assert {"afpacket", "afxdp", "pcap", "pipe", "tap"} <= set(backends())
    assert {k: v for k, v in LOAD_ERRORS.items() if k != "afxdp"} == {}


@pytest.mark.skipif(not any(Path(d, "xdp/xsk.h").exists() for d in ("/usr/include", "/usr/local/include")),
                    reason="libxdp's headers are not installed here, so AF_XDP is rightly not built")
def test_afxdp_is_built_and_loads_where_libxdp_is_installed():
    # Tests that need AF_XDP skip without it: this one makes sure that a
    # build or link mistake cannot hide behind those skips.
    assert afxdp_built(), LOAD_ERRORS.get("afxdp", "not built although xdp/xsk.h is installed")
