"""Guest images: a checked Plan with its hash, modules, ports and metadata, in one file;
damage of any kind is a GuestImageError, never a crash."""
import msgpack
import pytest
from support import REPO

from clickpy import pipeline
from clickpy.guest.image import MAGIC, GuestImage, GuestImageError, build


def _image(**kw):
    plan = pipeline.plan(pipeline.Source((REPO / "configs" / "nat-firewall.click").read_text(), "nat-firewall.click"),
                         {"BLOCKED_PORT": "2323"})
    return build(plan, **kw)


def test_an_image_round_trips_with_its_plan_modules_ports_and_metadata():
    image = _image(memory_cap=32 << 20, exports=["rw.tcp_table"])
    back = GuestImage.unpack(image.pack())
    assert back.content_hash == image.content_hash == image.plan.content_hash
    assert back.plan.graph.signature() == image.plan.graph.signature()
    assert back.ports == ["to-client", "to-server"]
    assert "clickpy.elements.rewriter.ip_rewriter" in back.modules and back.modules == sorted(back.modules)
    assert (back.memory_cap, back.exports) == (32 << 20, ["rw.tcp_table"])
    assert "tcp dst port 2323" in back.plan.graph.element("fw").config


def test_inspect_lists_the_elements_with_their_ports_and_the_metadata():
    text = _image().describe()
    assert "memory cap 64 MiB" in text and "ports      to-client, to-server" in text
    assert "  rw :: IPRewriter(pattern to_world 0 1, drop, UDP_TIMEOUT 300," in text
    assert "  to_intern :: Queue(1024)   [1/1]" in text


def test_a_file_that_is_not_an_image_or_of_another_format_is_refused_by_name():
    with pytest.raises(GuestImageError, match="not a clickpy guest image"):
        GuestImage.unpack(b"PK\x03\x04 a zip file")
    header = msgpack.unpackb(_image().pack()[len(MAGIC):], raw=False)
    header["format"] = 99
    with pytest.raises(GuestImageError, match="format 99; this clickpy reads format 1"):
        GuestImage.unpack(MAGIC + msgpack.packb(header, use_bin_type=True))


def test_a_plan_that_does_not_match_its_hash_is_refused():
    header = msgpack.unpackb(_image().pack()[len(MAGIC):], raw=False)
    other = pipeline.plan(pipeline.Source("Idle -> Discard;", "other.click"))
    header["plan"] = other.pack()
    with pytest.raises(GuestImageError, match="does not match its hash"):
        GuestImage.unpack(MAGIC + msgpack.packb(header, use_bin_type=True))


def test_every_truncation_and_many_byte_flips_are_clear_errors():
    import random

    data = _image().pack()
    rnd = random.Random(12)
    damaged = [data[:n] for n in range(0, len(data), max(1, len(data) // 300))]
    for _ in range(300):
        b = bytearray(data)
        b[rnd.randrange(len(MAGIC), len(b))] ^= 1 << rnd.randrange(8)
        damaged.append(bytes(b))
    for d in damaged:
        try:
            image = GuestImage.unpack(d)
        except GuestImageError:
            continue
        # a flip that leaves a valid image (in a landmark, say) still matches its hash
        assert image.content_hash == image.plan.content_hash


PARAMETRIZED = "define($LIMIT 5); InfiniteSource(LIMIT $LIMIT) -> c :: Counter -> Discard;"


def test_an_image_with_its_source_takes_parameters(tmp_path):
    source = pipeline.Source(PARAMETRIZED, "p.click")
    image = build(pipeline.plan(source, {}), source=source, definitions={})
    path = tmp_path / "p.guest"
    path.write_bytes(image.pack())
    loaded = GuestImage.load(str(path))
    assert loaded.source == {"text": PARAMETRIZED, "filename": "p.click", "definitions": {}}
    assert loaded.plan_with({}) is loaded.plan
    planned = loaded.plan_with({"LIMIT": "9"})
    assert "LIMIT 9" in planned.elements[0].config and planned.content_hash != loaded.content_hash
    assert "source     p.click (" in loaded.describe()


def test_an_image_without_its_source_takes_no_parameters(tmp_path):
    image = build(pipeline.plan(pipeline.Source(PARAMETRIZED, "p.click")))
    with pytest.raises(GuestImageError, match="takes no parameters"):
        image.plan_with({"LIMIT": "9"})
    with pytest.raises(GuestImageError, match=r"nothere.guest: No such file"):
        GuestImage.load(str(tmp_path / "nothere.guest"))


def test_a_damaged_source_field_is_refused():
    image = build(pipeline.plan(pipeline.Source(PARAMETRIZED, "p.click")))
    m = msgpack.unpackb(image.pack()[len(MAGIC):])
    m["source"] = {"text": 5, "filename": "p.click", "definitions": {}}
    with pytest.raises(GuestImageError, match="source must be"):
        GuestImage.unpack(MAGIC + msgpack.packb(m))


def _specialized_image(tmp_path, monkeypatch):
    from clickpy.guest.image import specialized_of

    monkeypatch.setenv("CLICKPY_CACHE_DIR", str(tmp_path))
    plan = _image().plan
    return _image(specialized=specialized_of(plan))


def test_an_image_carries_its_specialised_module(tmp_path, monkeypatch):
    import sysconfig

    back = GuestImage.unpack(_specialized_image(tmp_path, monkeypatch).pack())
    name, so = back.specialized_module()
    assert name.startswith("clickpy_spec_") and so[:4] == b"\x7fELF"
    assert back.specialized["abi"] == sysconfig.get_config_var("EXT_SUFFIX")
    assert "fw" in back.specialized["walks"]
    assert "specialised " in back.describe() and "walks: " in back.describe()
    assert "(none: guests run the generic path)" in _image().describe()


def test_a_specialised_module_for_another_python_is_left_out_and_a_damaged_one_refused(tmp_path, monkeypatch):
    header = msgpack.unpackb(_specialized_image(tmp_path, monkeypatch).pack()[len(MAGIC):], raw=False)
    other = dict(header, specialized=dict(header["specialized"], abi=".cpython-399-sparc.so"))
    assert GuestImage.unpack(MAGIC + msgpack.packb(other, use_bin_type=True)).specialized_module() is None
    so = bytearray(header["specialized"]["so"])
    so[100] ^= 1
    damaged = dict(header, specialized=dict(header["specialized"], so=bytes(so)))
    with pytest.raises(GuestImageError, match="does not match its digest"):
        GuestImage.unpack(MAGIC + msgpack.packb(damaged, use_bin_type=True))
    renamed = dict(header, specialized=dict(header["specialized"], name="os"))
    with pytest.raises(GuestImageError, match="specialised module name 'os'"):
        GuestImage.unpack(MAGIC + msgpack.packb(renamed, use_bin_type=True))


def test_clickpy_build_puts_the_module_in_the_image_unless_told_not_to(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, CLICKPY_CACHE_DIR=str(tmp_path / "cache"))
    config = str(REPO / "configs" / "stateful-firewall.click")
    for flag, carried in (([], True), (["--specialize=off"], False)):
        out = tmp_path / "fw.guest"
        r = subprocess.run([sys.executable, "-m", "clickpy", "build", config, "-o", str(out), *flag],
                           capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 0, r.stderr
        assert ("specialised: c0, c1" in r.stdout) == carried
        assert (GuestImage.load(str(out)).specialized is not None) == carried
