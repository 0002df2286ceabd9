"""StaticIPLookup: LinearIPLookup's lookups, no route changes after configuration."""
import pytest
from support import build_router

from clickpy.runtime.handlers import HandlerError


def test_routes_fixed_after_configuration():
    r = build_router("Idle -> rt :: StaticIPLookup(18.26.4.0/24 0, 0/0 18.26.4.1 1) -> Discard;"
                     "rt[1] -> Discard")
    assert r.read("rt.table").splitlines() == ["18.26.4.0/24\t\t-\t\t0",
                                               "0.0.0.0/0\t\t18.26.4.1\t1"]
    assert r.read("rt.lookup", param="18.26.4.9") == "0"
    assert r.read("rt.lookup", param="9.9.9.9") == "1 18.26.4.1"
    for h in ("add", "set", "remove", "ctrl"):
        with pytest.raises(HandlerError, match="no handler"):
            r.write(f"rt.{h}", "1.0.0.0/8 0")
    rt = r.element("rt")
    from clickpy.elements.ip.ip_route_table import CollectErrors, parse_route

    errh = CollectErrors()
    assert rt.add_route(parse_route("1.0.0.0/8 0"), False, errh)[0] < 0
    assert rt.remove_route(parse_route("18.26.4.0/24 0"), errh)[0] < 0
    assert errh.messages == ["can't add routes dynamically", "can't remove routes dynamically"]
    assert r.read("rt.lookup", param="18.26.4.9") == "0"
