"""SharedPort: elements sharing one port's descriptor start and stop reading
through its public methods (want_read, stop_reading)."""
import selectors

from clickpy.elements.devices.device_port import SharedPort


class RecordingScheduler:
    def __init__(self):
        self.registered = {}          # fd -> (events, callback)

    def add_fd(self, fd, events, callback):
        self.registered[fd] = (events, callback)

    def remove_fd(self, fd):
        del self.registered[fd]


class Router:
    def __init__(self):
        self.scheduler = RecordingScheduler()
        self.attachments = {}


class Port:
    fd = 7


def test_stop_reading_unregisters_only_when_no_reader_is_left():
    router = Router()
    shared = SharedPort(router, "pipe:t{0", Port(), "pipe", direct=True)
    calls = []
    shared.want_read("a", lambda: calls.append("a"))
    shared.want_read("b", lambda: calls.append("b"))
    events, ready = router.scheduler.registered[7]
    assert events == selectors.EVENT_READ

    shared.stop_reading("a")
    ready(7, selectors.EVENT_READ)
    assert calls == ["b"]             # a no longer hears of the descriptor
    assert 7 in router.scheduler.registered

    shared.stop_reading("b")
    assert 7 not in router.scheduler.registered
    shared.stop_reading("b")          # stopping twice is harmless

    shared.want_read("a", lambda: calls.append("a again"))
    router.scheduler.registered[7][1](7, selectors.EVENT_READ)
    assert calls == ["b", "a again"]


def test_a_writer_keeps_the_descriptor_registered_for_writing():
    router = Router()
    shared = SharedPort(router, "pipe:t{0", Port(), "pipe", direct=True)
    shared.want_read("from", lambda: None)
    shared.want_write("to", lambda: None)
    shared.stop_reading("from")
    assert router.scheduler.registered[7][0] == selectors.EVENT_WRITE
