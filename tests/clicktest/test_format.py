import base64
from pathlib import Path

import pytest

from clickpy.clicktest.format import (
    ALL_FILES,
    ClickTestFormatError,
    Requirement,
    parse_clicktest,
)
from clickpy.clicktest.match import LineSyntax
from support import find_shared

SHARED = find_shared() or Path("/nonexistent")
CONFORMANCE = SHARED / "conformance" / "clicktest"
CONFORMANCE_FILES = sorted(CONFORMANCE.rglob("*.clicktest")) if CONFORMANCE.is_dir() else []

needs_conformance = pytest.mark.skipif(
    not CONFORMANCE_FILES, reason=f"no conformance tests in {CONFORMANCE}"
)


def parse(text: bytes):
    return parse_clicktest(text, source="t.clicktest")


def format_error(text: bytes) -> str:
    with pytest.raises(ClickTestFormatError) as caught:
        parse(text)
    return str(caught.value)


# --- Click's own test files --------------------------------------------------


def test_all_conformance_files_are_present(shared_dir):
    assert len(CONFORMANCE_FILES) == 97


@needs_conformance
@pytest.mark.parametrize(
    "path", CONFORMANCE_FILES, ids=lambda path: f"{path.parent.name}/{path.name}"
)
def test_conformance_file_parses(path):
    test = parse_clicktest(path)
    assert test.script.strip()
    assert test.source == str(path)


@needs_conformance
def test_binary_file_with_length_keeps_exact_bytes():
    test = parse_clicktest(CONFORMANCE / "analysis" / "IPSummaryDump-02.clicktest")
    trace = test.files["dump.trace"]
    assert len(trace) == 431
    assert trace.startswith(b"\xd4\xc3\xb2\xa1")  # pcap magic, little-endian
    assert trace.endswith(b"hi there\n")
    assert test.requires == [
        Requirement(False, "\nclick-buildtool provides FromDump ToIPSummaryDump\n\n")
    ]
    # The notes after %eof are not part of the test.
    assert all(b"Hand verification" not in rule.body for rule in test.ignores)
    assert [rule.target for rule in test.ignores] == ["stdout"]


@needs_conformance
def test_binary_bytes_inside_ordinary_sections_survive():
    test = parse_clicktest(CONFORMANCE / "userlevel" / "ControlSocket-llrpc-01.clicktest")
    assert b"llrpc s#80044006 4\n\x00\x00\x00\x00\nread s.switch\n" in test.files["CSIN"]
    [expectation] = test.expectations["CSOUT"]
    assert b"\x00\x00\x00\x00200 Write handler{{.*}}\n" in expectation.body


@needs_conformance
def test_conformance_details():
    library = parse_clicktest(CONFORMANCE / "standard" / "library-01.clicktest")
    assert set(library.files) == {"main", "lib", "dir/lib2", "lib3"}
    quiet = parse_clicktest(CONFORMANCE / "analysis" / "FromIPSummaryDump-01.clicktest")
    assert quiet.requires[0].quiet
    lexer = parse_clicktest(CONFORMANCE / "tools" / "lexer-08.clicktest")
    [stdout] = lexer.expectations["stdout"]
    assert stdout.body == b"" and stdout.ignore_space


# --- sections ----------------------------------------------------------------


def test_sections_and_their_fields():
    test = parse(
        b"%info\nWhat it tests.\n\n"
        b"%require -q\ncommand -v cat\n"
        b"%script\ncat IN > OUT\n"
        b"%file IN\nhello\n"
        b"%stdin\nfrom stdin\n"
        b"%expect -a -wi OUT\nhello\n"
        b"%expect -a OUT\nHELLO\n"
        b"%expectx stderr\nwarn.*\n"
        b"%stdout\n\n"
        b"%ignorex -i stdout OUT\n#.*\n"
        b"%ignore\nexpensive{{.*}}\n"
        b"%cut\n%file NOT_A_FILE\n"
    )
    assert test.info == "What it tests."
    assert test.requires == [Requirement(True, "command -v cat\n")]
    assert test.script == "cat IN > OUT\n"
    assert test.stdin == b"from stdin\n"
    # %cut hides nothing after the next section header, which still starts a section.
    assert set(test.files) == {"IN", "NOT_A_FILE"}
    first, second = test.expectations["OUT"]
    assert (first.alternate, first.ignore_space, first.ignore_case) == (True, True, True)
    assert (second.alternate, second.ignore_space) == (True, False)
    assert test.expectations["stderr"][0].syntax is LineSyntax.REGEX
    assert test.expectations["stdout"][0].body == b"\n"
    assert [(rule.target, rule.syntax) for rule in test.ignores] == [
        ("stdout", LineSyntax.REGEX),
        ("OUT", LineSyntax.REGEX),
        (ALL_FILES, LineSyntax.WILDCARD),
    ]
    assert [rule.target for rule in test.ignores_for("OUT")] == ["OUT", ALL_FILES]


def test_cut_section_body_is_ignored():
    test = parse(b"%script\ntrue\n%cut\nanything at all\n")
    assert test.script == "true\n"


def test_one_section_for_several_files():
    test = parse(b"%script\ntrue\n%file A B\nsame\n%expect X Y\nout\n")
    assert test.files == {"A": b"same\n", "B": b"same\n"}
    assert test.expectations["X"][0].body == test.expectations["Y"][0].body == b"out\n"


def test_eof_ends_the_file_even_before_junk():
    test = parse(b"%script\ntrue\n%eof\n%nonsense\nfree text\n")
    assert test.script == "true\n"


def test_length_body_may_contain_percent_lines_and_lack_a_newline():
    test = parse(b"%script\ntrue\n%file +7 X\n%abc\n\xff\xfe\n\n%expect X\nabc\n")
    assert test.files["X"] == b"%abc\n\xff\xfe"
    assert test.expectations["X"][0].body == b"abc\n"


def test_delete_first_character_flag():
    test = parse(b"%script\ntrue\n%file -d X\n %not a section\n\n xy\n")
    assert test.files["X"] == b"%not a section\n\nxy\n"


def test_base64_flag():
    encoded = base64.encodebytes(b"\x00binary\xff\n")
    test = parse(b"%script\ntrue\n%file -e X\n" + encoded)
    assert test.files["X"] == b"\x00binary\xff\n"


def test_script_text_keeps_undecodable_bytes():
    test = parse(b"%script\necho \xff\n")
    assert test.script.encode("utf-8", "surrogateescape") == b"echo \xff\n"


def test_include_reads_sections_relative_to_the_including_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "common.inc").write_bytes(b"%file SHARED\nshared\n%eof\n%junk\n")
    main = tmp_path / "main.clicktest"
    main.write_bytes(b"%script\ncat SHARED\n%include sub/common.inc\n%expect stdout\nshared\n")
    test = parse_clicktest(main)
    assert test.files == {"SHARED": b"shared\n"}
    assert test.expectations["stdout"][0].body == b"shared\n"


def test_include_cycle_is_an_error(tmp_path):
    loop = tmp_path / "loop.clicktest"
    loop.write_bytes(b"%script\ntrue\n%include loop.clicktest\n")
    with pytest.raises(ClickTestFormatError, match=r"loop\.clicktest:3: .*includes itself"):
        parse_clicktest(loop)


def test_unreadable_path_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        parse_clicktest(tmp_path / "missing.clicktest")


# --- malformed files ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"%script\ntrue\n\n%frobnicate\n", "t.clicktest:4: unknown section '%frobnicate'"),
        (b"stray text\n%script\ntrue\n", "t.clicktest:1: unexpected text before the first section"),
        (
            b"%script\ntrue\n%file +2 X\nab\nmore\n",
            "t.clicktest:5: unexpected text after a +LENGTH section body",
        ),
        (
            b"%script\ntrue\n%file +50 X\nshort\n",
            "t.clicktest:3: %file wants 50 bytes, but the file has only 6 left",
        ),
        (b"%script\ntrue\n%expect -z OUT\n", "t.clicktest:3: %expect has no option '-z'"),
        (b"%script\ntrue\n%file +x1 X\n", "t.clicktest:3: bad length '+x1'"),
        (b"%script -q\ntrue\n", "t.clicktest:1: %script has no option '-q'"),
        (b"%script +3\ntrue\n", "t.clicktest:1: %script takes no +LENGTH"),
        (b"%script\ntrue\n%file\n", "t.clicktest:3: %file needs a file name"),
        (b"%script\ntrue\n%stdout OUT\n", "t.clicktest:3: %stdout takes no file name"),
        (
            b"%script\ntrue\n%file ../escape\n",
            "t.clicktest:3: file name '../escape' must be a relative path",
        ),
        (
            b"%script\ntrue\n%expect /etc/passwd\n",
            "t.clicktest:3: file name '/etc/passwd' must be a relative path",
        ),
        (
            b"%script\ntrue\n%file X\n%file X\n",
            "t.clicktest:4: 'X' is already defined at t.clicktest:3",
        ),
        (
            b"%script\ntrue\n%stdin\n%file stdin\n",
            "t.clicktest:4: 'stdin' is already defined at t.clicktest:3",
        ),
        (
            b"%script\ntrue\n%script\nfalse\n",
            "t.clicktest:3: second %script section (the first is at t.clicktest:1)",
        ),
        (
            b"%script\ntrue\n%expect OUT\na\n%expect OUT\nb\n",
            "t.clicktest:5: 'OUT' is already expected at t.clicktest:3",
        ),
        (b"%script\ntrue\n%expect OUT\na\n%expect -a OUT\nb\n", "mark every alternative with -a"),
        (
            b"%script\ntrue\n%expect stdout\nok\nfoo {{bar\n",
            "t.clicktest:5: '{{' without a matching '}}'",
        ),
        (
            b"%script\ntrue\n%ignorex\n(unclosed\n",
            "t.clicktest:4: bad regular expression in '(unclosed'",
        ),
        (b"%script\ntrue\n%expect stdout\n{{a)}}\n", "t.clicktest:4: bad regular expression"),
        (b"%script\ntrue\n%file -e X\n!!!!\n", "t.clicktest:3: bad Base64 data"),
        (
            b"%script\ntrue\n%eot\n%script\nfalse\n",
            "t.clicktest:3: %eot (several tests in one file) is not supported",
        ),
        (b"%include\n", "t.clicktest:1: %include takes exactly one file name"),
        (
            b"%script\ntrue\n%include no-such-file.inc\n",
            "t.clicktest:3: cannot include 'no-such-file.inc'",
        ),
        (b"%info\nno script here\n", "t.clicktest: no %script section"),
    ],
)
def test_malformed_file_names_file_and_line(text, message):
    assert message in format_error(text)


def test_format_error_fields():
    with pytest.raises(ClickTestFormatError) as caught:
        parse(b"%script\ntrue\n%bogus\n")
    assert (caught.value.source, caught.value.line) == ("t.clicktest", 3)
