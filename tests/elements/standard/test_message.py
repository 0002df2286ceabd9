"""Message: a message, warning or error at configuration time."""
import pytest

from clickpy.errors import ConfigError
from support import build_router, run_config


def test_message_is_printed_under_the_element():
    p = run_config('m :: Message("hello, world"); DriverManager(stop)')
    assert p.returncode == 0
    assert p.stderr.splitlines() == ["config:1:1: While configuring 'm :: Message':", "  hello, world"] or \
        p.stderr.splitlines() == ["config:1: While configuring 'm :: Message':", "  hello, world"]


def test_warning_and_default_type():
    r = build_router('a :: Message(plain); b :: Message("careful", WARNING); c :: Message(x, MESSAGE)')
    text = r.diagnostics.format()
    assert "While configuring 'a :: Message':\n  plain" in text
    assert "While configuring 'b :: Message':\n  warning: careful" in text
    assert "While configuring 'c :: Message':\n  x" in text


def test_error_type_stops_the_router():
    with pytest.raises(ConfigError) as info:
        build_router('Message("this configuration is obsolete", ERROR); Idle')
    assert "this configuration is obsolete" in info.value.diagnostics.format()


@pytest.mark.parametrize("config, message", [
    ("Message()", "MESSAGE"),
    ("Message(x, BOGUS)", "unrecognized message type"),
    ("Message(two words)", "expected string"),
    ("Message(x, MESSAGE, more)", "too many arguments"),
])
def test_bad_arguments(config, message):
    with pytest.raises(ConfigError) as info:
        build_router(config)
    assert message in info.value.diagnostics.format()


def test_empty_quoted_message_is_allowed():
    r = build_router('m :: Message("")')
    assert "While configuring 'm :: Message':" in r.diagnostics.format()


def test_line_directives_in_landmarks(tmp_path):
    # Click's lexer-08: a '# LINE "FILE"' directive changes the landmark.
    f = tmp_path / "A.click"
    f.write_text('m :: Message(\n# 100 "foobar.click"\n"test");\nm2 :: Message("test2");\nDriverManager(stop);\n')
    p = run_config(f.read_text())
    assert "  test\n" in p.stderr and "foobar.click:101" in p.stderr
