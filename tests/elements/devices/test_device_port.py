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


def test_device_elements_say_which_host_interfaces_their_arguments_name():
    from clickpy.runtime import registry

    from_device, to_device = registry.lookup("FromDevice"), registry.lookup("ToDevice")
    assert from_device.host_devices(["veth7", "SNIFFER false", "METHOD AFPACKET"]) == ["veth7"]
    assert from_device.host_devices(["DEVNAME veth7", "PROMISC true"]) == ["veth7"]
    assert to_device.host_devices(['"eth9"', "BURST 8"]) == ["eth9"]
    # backend-named ports are not interfaces of the host
    assert from_device.host_devices(["pipe:x{0"]) == []
    assert to_device.host_devices(["pcap:/tmp/out.pcap"]) == []
    # an Ethernet address names the interface that has it
    from clickpy.elements.devices.device_port import interface_macs

    macs = interface_macs()
    name, mac = min(macs.items())
    if list(macs.values()).count(mac) == 1:
        assert from_device.host_devices([":".join(f"{b:02x}" for b in mac)]) == [name]
    # arguments the element refuses name nothing (running it says why)
    assert from_device.host_devices(["veth7", "BOGUS 1"]) == []
    assert to_device.host_devices([]) == []


def test_deploy_asks_the_elements_for_their_devices():
    from clickpy import pipeline
    from clickpy.cli.deploy import device_names

    text = ("FromDevice(a0, SNIFFER false) -> Queue -> ToDevice(DEVNAME a1);"
            "FromDevice(pcap:/tmp/x.pcap) -> Queue -> ToDevice(a0);"
            "FromHost(fake0, 10.0.0.1/24) -> Discard;")
    result = pipeline.load(pipeline.Source(text, "t"))
    assert result.ok, result.diagnostics.format()
    assert device_names(result.graph) == ["a0", "a1"]


def test_to_device_on_a_pipe_sleeps_while_its_peer_has_not_read_yet():
    # Frames sent and not read yet by the other end are not a reason to come
    # back: the peer takes them by itself. (A guest whose switch was busy
    # used to wake its ToDevice again and again, burning the CPU the switch needed.)
    from support import run_for

    from clickpy import pipeline
    from clickpy.netmap_shim.ring import open_port
    from clickpy.runtime.router import Router as Built

    text = "src :: InfiniteSource(LENGTH 60, LIMIT 5, STOP false) -> Queue -> out :: ToDevice(pipe:sleepy{0);"
    router = Built.from_plan(pipeline.plan(pipeline.Source(text, "sleepy.click")))
    peer = open_port("pipe:sleepy}0")
    try:
        run_for(router, 0.3)
        out = router.element("out")
        assert out.count == 5
        assert out.pulls < 20, f"ToDevice ran {out.pulls} times for 5 frames"
        assert len(peer.recv()) == 5
    finally:
        router.cleanup()
        peer.close()
