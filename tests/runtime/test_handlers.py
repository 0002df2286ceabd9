"""Handlers: declared ones, Click's generic ones on every element, the router's
own, and how reads and writes fail."""
import pytest
from support import build_router

from clickpy.runtime.args import Arg, Int
from clickpy.runtime.element import Element
from clickpy.runtime.handlers import HandlerCall, HandlerError, Read, ReadWrite, Write, format_value


def _refuse(e, value):
    return f"refused {value}"


def _strict(e, value):
    raise HandlerError("strictly no")


class HandlerProbe(Element):
    """A Python element whose handlers succeed and fail in every way."""
    port_count = "1/1"
    processing = "a"
    arguments = (Arg("VALUE", Int, 0, positional=True),)
    live_reconfigure = True
    handlers = (
        Read("value", lambda e: e.value),
        Write("value", lambda e, v: setattr(e, "value", int(v))),   # one read/write handler with the Read
        Read("flag", lambda e: e.value > 0),
        Read("broken", lambda e: 1 // 0),
        Write("explode", lambda e, v: [][1]),
        Write("refuse", _refuse),
        Write("strict", _strict),
        ReadWrite("echo", lambda e, p: f"<{p}>", lambda e, v: None, read_param=True),
    )


class FixedProbe(Element):
    """Without live_reconfigure: its config handler is read-only."""
    port_count = "1/1"
    processing = "a"
    arguments = (Arg("VALUE", Int, 0, positional=True),)


@pytest.fixture
def router():
    return build_router("src :: Idle -> p :: HandlerProbe(5) -> q :: Queue(7) -> f :: FixedProbe(1) -> Discard;"
                        " Idle -> [0]p2 :: HandlerProbe -> Discard")


def test_declared_read_and_write_handlers(router):
    assert router.read("p.value") == "5"
    router.write("p.value", "12")
    assert router.read("p.value") == "12" and router.element("p").value == 12
    assert router.read("p.flag") == "true"          # Click's spelling of booleans
    router.write("p.value", "0")
    assert router.read("p.flag") == "false"
    assert router.read("p.echo", param="x y") == "<x y>"


def test_a_read_and_a_write_under_one_name_make_one_read_write_handler(router):
    h = router.handler(router.element("p"), "value")
    assert h.readable and h.writable and h.flags() == "rw"
    assert router.handler(router.element("p"), "refuse").flags() == "w"


def test_handler_errors_are_handler_errors_with_clear_messages(router):
    cases = [
        (lambda: router.read("nobody.value"), "no element named 'nobody'"),
        (lambda: router.read("p.nothing"), "no handler 'p.nothing'"),
        (lambda: router.read("p.refuse"), "'p.refuse' is a write handler"),
        (lambda: router.write("p.flag", "1"), "'p.flag' is a read handler"),
        (lambda: router.read("p.broken"), "read handler 'broken' failed: integer division or modulo by zero"),
        (lambda: router.write("p.explode", "x"), "write handler 'explode' failed: list index out of range"),
        (lambda: router.write("p.refuse", "this"), "refused this"),     # an error string returned
        (lambda: router.write("p.strict", ""), "strictly no"),          # a HandlerError raised
        (lambda: router.read("nothing"), "no handler 'nothing'"),
    ]
    for call, message in cases:
        with pytest.raises(HandlerError) as info:
            call()
        assert str(info.value) == message


def test_call_read_and_call_write_take_a_resolved_handler(router):
    p = router.element("p")
    router.call_write(p, router.handler(p, "value"), "33")
    assert router.call_read(p, router.handler(p, "value")) == "33"
    with pytest.raises(HandlerError, match="refused 1"):
        router.call_write(p, router.handler(p, "refuse"), "1")
    with pytest.raises(HandlerError, match="read handler 'broken' failed"):
        router.call_read(p, router.handler(p, "broken"))


def test_generic_handlers_name_class_config(router):
    assert router.read("p.name") == "p"
    assert router.read("p.class") == "HandlerProbe"
    assert router.read("p.config") == "5"
    assert router.read("q.class") == "Queue" and router.read("q.config") == "7"
    assert router.read("p2.name") == "p2" and router.read("p2.config") == ""


def test_generic_ports_handler_lists_each_port_and_its_peers(router):
    assert router.read("p.ports") == "1 input\npush\t-\tsrc [0]\n1 output\npush\t-\t[0] q\n"
    assert router.read("f.ports") == "1 input\npull\t-\tq [0]\n1 output\npull\t-\t[0] Discard@5\n"


def test_generic_handlers_handler_lists_every_handler_with_its_modes(router):
    lines = router.read("p.handlers").splitlines()
    assert {"name\tr", "class\tr", "config\trw", "ports\tr", "handlers\tr", "value\trw", "refuse\tw",
            "echo\trw"} <= set(lines)
    assert len(lines) == len(router.element_handlers(router.element("p")))
    assert "config\tr" in router.read("f.handlers").splitlines()     # not live-reconfigurable


def test_config_write_reconfigures_or_keeps_the_old_configuration(router):
    router.write("p.config", "42")
    assert (router.read("p.config"), router.read("p.value")) == ("42", "42")
    with pytest.raises(HandlerError, match="VALUE"):
        router.write("p.config", "forty")
    assert (router.read("p.config"), router.read("p.value")) == ("42", "42")
    with pytest.raises(HandlerError, match="'f.config' is a read handler"):
        router.write("f.config", "3")


def test_element_handlers_holds_generic_and_declared_handlers(router):
    names = set(router.element_handlers(router.element("p")))
    assert {"name", "class", "config", "ports", "handlers", "value", "flag", "broken", "explode"} <= names
    assert set(router.element_handlers(router.element("f"))) == {"name", "class", "config", "ports", "handlers"}


def test_router_handlers(router):
    names = router.read("list").splitlines()
    assert names[0] == str(len(router.elements)) and set(names[1:]) == {e.name for e in router.elements}
    assert "HandlerProbe" in router.read("classes").splitlines()
    assert "version\tr" in router.read("handlers").splitlines()
    with pytest.raises(HandlerError, match="'stop' is a write handler"):
        router.read("stop")


def test_format_value_prints_as_click_does():
    assert [format_value(v) for v in (None, True, False, b"\xffa", 2.0, 2.5, 7, "x")] == \
        ["", "true", "false", "\xffa", "2", "2.5", "7", "x"]


def test_handler_call_resolves_relative_to_its_compound():
    r = build_router("elementclass Box { input -> c :: Counter -> output }; b :: Box; Idle -> b -> Discard;"
                     " c :: Counter; Idle -> c -> Discard")
    inner = r.element("b/c")
    call = HandlerCall("c.reset")
    call.initialize(inner)
    assert call.element is inner            # the compound's c, not the top-level one
    call = HandlerCall("c.count")
    with pytest.raises(HandlerError, match="'c.count' is not a write handler"):
        call.initialize(inner)
    call.initialize(inner, write=False)
    assert call.call_read() == "0"
    with pytest.raises(HandlerError, match="no handler 'c.nothing'"):
        HandlerCall("c.nothing").initialize(inner)
