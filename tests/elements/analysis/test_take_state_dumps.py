"""take_state of ToDump and FromDump when a reload keeps one scheduler: the
new ToDump appends to the file the old one writes (no second header, nothing
lost), the new FromDump reads on from where the old one was; a rollback
gives the file back."""
from scapy.all import IP, UDP, Ether, rdpcap, wrpcap
from support import build_router, retire_staged, staged_router

from clickpy.runtime.error_handler import ElementErrors
from clickpy.runtime.packet import PacketObject


def frame(i):
    return bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=i, dport=9))


def write(router, n, start):
    d = router.element("d")
    for i in range(start, start + n):
        d.push_packet(0, PacketObject.make(frame(i)))


def sports(path):
    return [p[UDP].sport for p in rdpcap(str(path))]


def test_to_dump_appends_to_the_old_file(tmp_path):
    path = tmp_path / "out.pcap"
    old = build_router(f"Idle -> d :: ToDump({path})")
    write(old, 3, 1)
    new = staged_router(f"Idle -> d :: ToDump({path}, UNBUFFERED true)", old)   # did not truncate it
    errh = ElementErrors()
    assert new.element("d").take_state(old.element("d"), errh) == {"counts": 1}
    assert errh.items == []
    assert (new.read("d.count"), old.read("d.count")) == ("3", "0")
    old.element("d").cleanup("initialized")            # closes nothing new took
    write(new, 2, 4)
    retire_staged(new)
    assert sports(path) == [1, 2, 3, 4, 5]


def test_to_dump_rollback_gives_the_file_back(tmp_path):
    path = tmp_path / "out.pcap"
    old = build_router(f"Idle -> d :: ToDump({path})")
    write(old, 2, 1)
    new = staged_router(f"Idle -> d :: ToDump({path}, UNBUFFERED true)", old)
    new.element("d").take_state(old.element("d"), ElementErrors())
    assert old.element("d").take_state(new.element("d"), ElementErrors()) == {"counts": 1}
    retire_staged(new)                                  # the abandoned new element closes nothing
    write(old, 2, 3)
    old.cleanup()
    assert sports(path) == [1, 2, 3, 4]


def test_to_dump_of_another_file_takes_nothing(tmp_path):
    old = build_router(f"Idle -> d :: ToDump({tmp_path / 'a.pcap'})")
    new = staged_router(f"Idle -> d :: ToDump({tmp_path / 'b.pcap'})", old)
    try:
        assert new.element("d").take_state(old.element("d"), ElementErrors()) is None
    finally:
        retire_staged(new)


def test_from_dump_reads_on_from_the_old_position(tmp_path):
    path = tmp_path / "in.pcap"
    wrpcap(str(path), [Ether(frame(i)) for i in range(1, 11)])
    old = build_router(f"fd :: FromDump({path}) -> Idle")

    def pull(router, n):
        return [UDP in Ether(p.data) and Ether(p.data)[UDP].sport for p in
                (router.element("fd").pull_packet(0) for _ in range(n))]

    assert pull(old, 4) == [1, 2, 3, 4]
    new = staged_router(f"fd :: FromDump({path}, TIMING false) -> Idle", old)
    try:
        assert new.element("fd").take_state(old.element("fd"), ElementErrors()) == {"counts": 1}
        assert new.read("fd.count") == "4"
        assert pull(new, 2) == [5, 6]
        # Rollback: old reads on from where new got to.
        assert old.element("fd").take_state(new.element("fd"), ElementErrors()) == {"counts": 1}
        assert pull(old, 2) == [7, 8]
        assert old.read("fd.count") == "8"
    finally:
        retire_staged(new)
