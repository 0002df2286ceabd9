"""The runtime's error handlers (Click's ErrorHandler family): collect, print, add context."""
from clickpy.runtime.error_handler import EINVAL, ContextErrors, ElementErrors, StderrErrors


def test_collector_keeps_kinds_and_counts_errors_only():
    errh = ElementErrors()
    assert errh.error("bad") == -EINVAL
    assert errh.warning("careful") == 0 and errh.message("note\n") == 0
    assert errh.items == [("error", "bad"), ("warning", "careful"), ("message", "note\n")]
    assert errh.nerrors == 1
    assert errh.text() == "bad\ncareful\nnote"


def test_context_errors_print_context_once_and_indent():
    base = ElementErrors()
    ctx = ContextErrors(base, "While executing 's :: Script':")
    inner = ContextErrors(ctx, "While calling 'c.x':")
    inner.error("bad\nworse")
    ctx.error("again")
    assert [text for _, text in base.items] == ["While executing 's :: Script':", "  While calling 'c.x':",
                                                "    bad\n    worse", "  again"]
    assert base.nerrors == 2 and ctx.nerrors == 2 and inner.nerrors == 1


def test_context_keeps_the_kind_of_what_it_passes_on():
    base = ElementErrors()
    ContextErrors(base, "While initializing:").message("hello")
    assert base.items == [("message", "While initializing:"), ("message", "  hello")] and base.nerrors == 0


def test_stderr_errors_print_one_line_each(capsys):
    errh = StderrErrors()
    errh.error("one")
    errh.message("two\n")
    assert capsys.readouterr().err == "one\ntwo\n" and errh.nerrors == 1
