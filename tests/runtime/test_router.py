"""The router: building (every error reported in one pass, with its landmark),
finding elements, connections, running and stopping, cleaning up."""
import pytest
from support import build_router, run_for

from clickpy.errors import ConfigError
from clickpy.runtime.element import Element
from clickpy.runtime.handlers import HandlerError


class ConfigureBug(Element):
    """An element whose configure has a bug (raises)."""
    port_count = "1/1"
    processing = "a"
    arguments = None

    def configure(self, conf, errh):
        raise RuntimeError("a bug in configure")


class InitializeFails(Element):
    """Configures, then reports an error while initializing; records cleanups."""
    port_count = "1/1"
    processing = "a"
    cleanups: list = []

    def initialize(self, errh):
        errh.error("cannot open the thing")

    def cleanup(self, stage):
        InitializeFails.cleanups.append((self.name, stage))


class Cleaned(Element):
    port_count = "1/1"
    processing = "a"
    stages: list = []

    def cleanup(self, stage):
        Cleaned.stages.append((self.name, stage))


def build_error(config: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        build_router(config)
    return info.value


def test_unknown_class_is_a_read_error_with_landmark_and_suggestions():
    err = build_error("Idle -> Countr -> Discard")
    assert err.stage == "read"
    assert err.diagnostics.format().startswith("test.click:1:9: undeclared element 'Countr'")
    assert "did you mean 'Counter'" in err.diagnostics.format()


def test_every_configure_error_is_reported_in_one_pass():
    err = build_error("Idle -> c :: Counter(1, 2, 3)\n -> q :: Queue(bogus)\n -> Discard")
    assert err.stage == "initialize"
    assert err.diagnostics.format().splitlines() == [
        "test.click:1:9: While configuring 'c :: Counter':",
        "  too many arguments",
        "test.click:2:5: While configuring 'q :: Queue':",
        "  CAPACITY: expected unsigned integer",
    ]


def test_a_bug_in_configure_is_an_internal_error_not_a_crash():
    err = build_error("Idle -> b :: ConfigureBug -> q :: Queue(bogus) -> Discard")
    text = err.diagnostics.format()
    assert "While configuring 'b :: ConfigureBug':" in text
    assert "internal error: RuntimeError('a bug in configure')" in text
    assert "While configuring 'q :: Queue':" in text        # the other errors are still reported


def test_wiring_errors_stop_the_build_before_configuring():
    err = build_error("Idle -> Discard -> Discard")
    assert "has no output 0" in err.diagnostics.format()
    assert "While configuring" not in err.diagnostics.format()


def test_an_initialize_error_is_reported_and_the_router_cleaned_up():
    InitializeFails.cleanups.clear()
    err = build_error("Idle -> i :: InitializeFails -> Discard")
    assert err.stage == "initialize"
    assert err.diagnostics.format().splitlines() == [
        "test.click:1:9: While initializing 'i :: InitializeFails':", "  cannot open the thing"]
    assert InitializeFails.cleanups == [("i", "configured")]


def test_cleanup_cleans_every_element_once_in_reverse_order():
    Cleaned.stages.clear()
    r = build_router("Idle -> a :: Cleaned -> b :: Cleaned -> Discard")
    r.cleanup()
    r.cleanup()
    assert Cleaned.stages == [("b", "initialized"), ("a", "initialized")]


def test_find_looks_in_the_callers_compound_first():
    r = build_router("elementclass Box { input -> c :: Counter -> output };"
                     " b :: Box; Idle -> b -> c :: Counter -> Discard")
    inner, top = r.element("b/c"), r.element("c")
    assert inner is not top and inner is not None and top is not None
    assert r.find("c", inner) is inner
    assert r.find("c") is top
    assert r.find("c", top) is top
    assert r.find("nothing", inner) is None and r.element("b/nothing") is None


def test_connections_of_each_port():
    r = build_router("s :: Idle -> t :: Tee(2); t[0] -> d0 :: Discard; t[1] -> d1 :: Discard; Idle -> [0]d1")
    t, d1 = r.element("t"), r.element("d1")
    assert r.input_connections(t, 0) == [(r.element("s"), 0)]
    assert r.output_connections(t, 1) == [(d1, 0)]
    assert {e.name for e, _ in r.input_connections(d1, 0)} == {"t", "Idle@5"}


def test_expand_handler_pattern():
    r = build_router("Idle -> c1 :: Counter -> c2 :: Counter -> x :: Counter -> Discard")
    assert r.expand_handler_pattern("c1") == ([r.element("c1")], False)
    assert r.expand_handler_pattern("c*") == ([r.element("c1"), r.element("c2")], True)
    assert r.expand_handler_pattern("Counter")[0] == [r.element(n) for n in ("c1", "c2", "x")]
    with pytest.raises(HandlerError, match="no element matching 'z\\*'"):
        r.expand_handler_pattern("z*")
    with pytest.raises(HandlerError, match="no element 'zz'"):
        r.expand_handler_pattern("zz")


def test_run_until_the_source_stops_then_run_again():
    r = build_router("i :: InfiniteSource(LIMIT 5, STOP true) -> c :: Counter -> Discard", simulated=True)
    r.run()
    assert r.read("c.count") == "5"
    r.write("i.reset")
    r.run()                          # a router that stopped runs again when asked
    assert r.read("c.count") == "10"


def test_the_stop_handler_ends_the_run():
    r = build_router("i :: InfiniteSource(LIMIT 5, STOP false) -> c :: Counter -> Discard;"
                     " Script(wait 1s, write stop)", simulated=True)
    start = r.now()
    run_for(r, 5)                              # a timer 5 s ahead stops it if nothing else does
    assert r.read("c.count") == "5"
    assert r.now() - start == 1_000_000_000    # the Script's stop, after 1 s

