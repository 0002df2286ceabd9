"""Fuzz guest images: any bytes are an image whose Plan matches its hash, or a GuestImageError."""
import pytest
from fuzzing import corpus, edits_strategy, explore, mutate, run_target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import REPO

from clickpy import pipeline
from clickpy.guest.image import GuestImage, GuestImageError, build

SEEDS = [build(pipeline.plan(pipeline.Source(text, "seed.click"))).pack() for text in (
    "Idle -> Discard;",
    (REPO / "configs" / "nat-firewall.click").read_text(),
)]
PIECES = [b"\x00", b"\xff", b"\xc1", b"\x90", b"\x91", b"\xa0", b"\x81\xa6format\x02", b"clickpy guest image\n"]


def read_image(data: bytes) -> None:
    try:
        image = GuestImage.unpack(data)
    except GuestImageError:
        return
    assert image.content_hash == image.plan.content_hash
    image.describe()
    if image.specialized is not None:      # what a switch would load: the bytes the digest names
        import hashlib

        assert hashlib.sha256(image.specialized["so"]).hexdigest() == image.specialized["sha256"]
        assert image.specialized["name"].startswith("clickpy_spec_")
        image.specialized_module()


def specialized_seed() -> bytes:
    """An image that carries its specialised module (compiled once per session)."""
    from clickpy.guest.image import specialized_of

    plan = pipeline.plan(pipeline.Source("Idle -> f :: Classifier(12/0800, -) => Discard, Discard;", "seed.click"))
    return build(plan, specialized=specialized_of(plan)).pack()


@pytest.mark.parametrize("path", corpus("guest_image"), ids=lambda p: p.name)
def test_corpus_guest_image(path):
    run_target("guest_image", read_image, path.read_bytes(), ".guest", keep=False)


def test_mutated_images_are_refused_or_consistent():
    seeds = SEEDS + [specialized_seed()]

    @settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(seeds), edits_strategy(6))
    def one(seed, edits):
        run_target("guest_image", read_image, mutate(seed, edits, PIECES), ".guest")

    explore(one)
