"""Fuzz element configurations: any argument text gets an error or a configured element.

Each input is an element class and a configuration string. The element is
wired to the fewest ports its class allows and checked the way a
``hotconfig`` write is (``clickpy.control.background_build.check_bounded``:
front end and configure-only dry run in a child with memory and CPU limits).
The answer must be success or located errors: never an exception escaping
an element's configure ("internal error"), never a child that dies of
anything but a limit.
"""
import pytest
from fuzzing import corpus, explore, run_target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickpy import pipeline
from clickpy.control.background_build import check_bounded
from clickpy.graph import catalog
from clickpy.runtime import registry

# Classes whose configure touches the host (devices, sockets, files) are
# left to their own tests; here they could open real resources.
HOST_CLASSES = {"FromDevice", "ToDevice", "FromHost", "ToHost", "ControlSocket", "KernelTun", "KernelTap"}
# Only the library's classes: test modules define elements of their own.
CLASSES = sorted(n for n, c in registry.element_classes().items()
                 if c.__module__.startswith("clickpy.") and n not in HOST_CLASSES)

WORDS = ["0", "1", "-1", "65535", "65536", "4294967295", "4294967296", "99999999999999999999", "1e308",
         "nan", "inf", "-inf", "0x", "0xffffffffffff", "true", "false", "maybe", "1.2.3.4", "10.0.0.0/8",
         "999.1.1.1", "1.2.3.4/33", "00:01:02:03:04:05", "ff:ff", "-", "tcp", "udp", "icmp", "src", "dst",
         "host", "net", "port", "and", "or", "not", "allow", "deny", "drop", "pass", "keep", "pattern",
         "12/0800", "12/08%ff", "!", "$x", "${x}", "\"", "'", "\\", "\\<41>", "(", ")", "/* c */", "// c\n",
         "x" * 300, "a b c", "", " ", "LENGTH", "LIMIT", "RATE", "BURST", "CAPACITY", "ACTIVE", "STOP",
         "DATA", "TIMEOUT", "INTERVAL", "SNAPLEN", "FILENAME", "1s", "1ms", "-1s", "1e9s", "1Gbps", "100%"]


def wired(class_name: str, config: str) -> str:
    spec = catalog.lookup(class_name)
    nin, nout = spec.ports.resolve(0, 0) if spec is not None and spec.ports else (0, 0)
    lines = [f"x :: {class_name}({config});"]
    lines += [f"Idle -> [{i}] x;" for i in range(nin)]
    lines += [f"x [{o}] -> Discard;" for o in range(nout)]
    return "\n".join(lines)


def check_configuration(data: bytes) -> None:
    class_name, _, config = data.decode("latin-1").partition("\t")
    checked, error = check_bounded(pipeline.Source(wired(class_name, config), "fuzz.click"))
    if error is None:
        return
    assert "internal error" not in error, error
    assert "checking the configuration failed" not in error, error
    assert error.startswith("fuzz.click:") or error.startswith("configuration "), error


@pytest.mark.parametrize("path", corpus("configure"), ids=lambda p: p.name)
def test_corpus_configuration(path):
    run_target("configure", check_configuration, path.read_bytes(), ".txt", keep=False)


FUZZ_SETTINGS = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def test_argument_soups():
    @FUZZ_SETTINGS
    @given(st.sampled_from(CLASSES),
           st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4), max_size=6))
    def one(class_name, args):
        config = ", ".join(" ".join(words) for words in args)
        run_target("configure", check_configuration, f"{class_name}\t{config}".encode("latin-1"), ".txt")

    explore(one)
