"""Click's keyword handlers: one configuration argument read and rewritten."""
import pytest

from clickpy.runtime.handlers import HandlerError
from support import build_router


class Configured:
    def __init__(self, config):
        self.config = config


@pytest.mark.parametrize("config, keyword, argno, expected", [
    ("10", "CAPACITY", 0, "10"),                        # positional
    ("CAPACITY 10", "CAPACITY", 0, "10"),               # keyword form
    ("10, CAPACITY 20", "CAPACITY", 0, "20"),           # the keyword wins over the position
    ("", "CAPACITY", 0, ""),                            # absent
    ("0800, 1:2:3:4:5:6, 6:5:4:3:2:1", "DST", 2, "6:5:4:3:2:1"),
    ("0800, SRC 1:2:3:4:5:6", "DST", 2, ""),
])
def test_reading_an_argument(config, keyword, argno, expected):
    from clickpy.runtime.handlers import config_argument

    assert config_argument(Configured(config), keyword, argno) == expected


@pytest.mark.parametrize("config, keyword, argno, expected", [
    ("10", "CAPACITY", 0, "5"),                         # replaced where it was written
    ("CAPACITY 10", "CAPACITY", 0, "CAPACITY 5"),       # keyword form kept as a keyword
    ("", "CAPACITY", 0, "CAPACITY 5"),                  # appended when absent
    ("1, BURST 2", "RATE", -1, "1, BURST 2, RATE 5"),
])
def test_rewriting_an_argument(config, keyword, argno, expected):
    from clickpy.runtime.handlers import config_with_argument

    assert config_with_argument(config, keyword, "5", argno) == expected


def test_queue_capacity_write_shows_in_config_and_bad_value_keeps_old():
    router = build_router("q :: Queue(10); Idle -> q -> Discard")
    router.write("q.capacity", "25")
    assert router.read("q.capacity").strip() == "25"
    assert router.read("q.config").strip() == "25"
    with pytest.raises(HandlerError):
        router.write("q.capacity", "lots")
    assert router.read("q.capacity").strip() == "25"
    assert router.read("q.config").strip() == "25"


def test_ether_encap_dst_write_reconfigures():
    router = build_router("e :: EtherEncap(0x0800, 1:2:3:4:5:6, 6:5:4:3:2:1); Idle -> e -> Discard")
    router.write("e.dst", "0:0:0:0:0:9")
    assert router.read("e.config") == "0x0800, 1:2:3:4:5:6, 0:0:0:0:0:9"
    with pytest.raises(HandlerError):
        router.write("e.dst", "not-an-address")
    assert router.read("e.config") == "0x0800, 1:2:3:4:5:6, 0:0:0:0:0:9"
