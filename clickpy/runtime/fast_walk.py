"""What a classifying element and a specialised module agree on.

An element that walks a decision program (Classifier, IPClassifier,
IPFilter) describes it with ``fast_walk()``: a tuple of steps ``(base,
offset, mask, values, miss, hit)``. A step loads the 4 bytes at ``offset``
from ``base[base]`` (a pointer the element supplies: the data start, or the
MAC, IP and transport headers), ANDs them with ``mask`` (memory order) and
looks the result up in ``values`` (none: a miss); ``miss`` and ``hit`` are
``("step", index)``, always forward, or ``("out", output)``.

clickpy.specialize turns the walk into a C function ``int f(const unsigned
char **base)`` and hands it over in a capsule named ``FAST_WALK_CAPSULE``
with the walk's fingerprint; the element's ``specialize(capsule,
fingerprint)`` takes it only while its own walk has that fingerprint.
"""
import hashlib

FAST_WALK_CAPSULE = "clickpy.fast_walk"


def walk_fingerprint(walk) -> str:
    """What a specialised walk was made from: it goes only to an element whose walk is the same."""
    return hashlib.sha256(repr(walk).encode()).hexdigest()[:32]
