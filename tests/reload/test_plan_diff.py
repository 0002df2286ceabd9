"""diff(old plan, new plan): which elements are kept, rewired, reconfigured, replaced, added, removed."""
from clickpy import pipeline
from clickpy.reload.diff import diff
from clickpy.runtime import registry


def _diff(old: str, new: str):
    return diff(pipeline.plan(pipeline.Source(old, "old.click")), pipeline.plan(pipeline.Source(new, "new.click")),
                registry.lookup)


BASE = "src :: InfiniteSource -> c :: Counter -> q :: Queue(10) -> u :: Unqueue -> f :: IPFilter(allow all) -> Discard;"


def test_the_same_configuration_keeps_everything():
    d = _diff(BASE, BASE)
    assert d.unchanged
    assert d.counts() == {"keep": 6, "rewire": 0, "reconfigure": 0, "replace": 0, "add": 0, "remove": 0}


def test_moving_lines_and_comments_changes_nothing():
    moved = "// the same graph\nsrc :: InfiniteSource\n -> c :: Counter -> q :: Queue(10)\n" \
            " -> u :: Unqueue -> f :: IPFilter(allow all) -> Discard;"
    assert _diff(BASE, moved).unchanged


def test_a_changed_filter_is_replaced_and_its_neighbours_rewired():
    d = _diff(BASE, BASE.replace("allow all", "deny all"))
    assert d.names("replace") == ["f"]
    assert d.names("rewire") == ["u", "Discard@6"]      # their ports point at the new filter
    assert d.names("keep") == ["src", "c", "q"]
    assert d.reasons[4] == "configuration changed"


def test_a_queue_that_grows_is_reconfigured_in_place():
    d = _diff(BASE, BASE.replace("Queue(10)", "Queue(20)"))
    assert d.names("reconfigure") == ["q"]
    assert d.names("rewire") == [] and d.names("replace") == []


def test_a_class_change_is_a_replacement_with_the_old_class_named():
    d = _diff(BASE, BASE.replace("q :: Queue(10)", "q :: FrontDropQueue(10)"))
    assert d.names("replace") == ["q"]
    assert "replace     q :: FrontDropQueue  (was Queue)" in d.lines()
    assert "rewire      c :: Counter  (a neighbour is new)" in d.lines()


def test_an_inserted_element_is_added_and_the_ends_rewired():
    d = _diff(BASE, BASE.replace("-> c :: Counter ->", "-> c :: Counter -> p :: Paint(3) ->"))
    assert d.names("add") == ["p"]
    assert set(d.names("rewire")) == {"c", "q"}
    assert d.reasons[d.new.graph.index("q")] == "connections changed"


def test_a_removed_element_is_listed_and_its_neighbours_rewired():
    d = _diff(BASE, BASE.replace("-> c :: Counter ->", "->"))
    assert d.names("remove") == ["c"]
    assert set(d.names("rewire")) == {"src", "q"}
    assert d.lines()[-1].startswith("remove") and "c :: Counter" in d.lines()[-1]


def test_a_port_count_change_replaces_the_element():
    old = "i :: Idle -> t :: Tee -> Discard; t[1] -> Discard;"
    new = "i :: Idle -> t :: Tee -> Discard; t[1] -> Discard; t[2] -> Discard;"
    d = _diff(old, new)
    assert d.names("replace") == ["t"] and d.reasons[1] == "ports changed"


def test_an_element_that_names_a_replaced_one_is_replaced_too():
    old = "q :: Queue(10) -> Discard; Idle -> q; s :: Script(wait 1s, read q.length, loop);"
    d = _diff(old, old.replace("Queue(10)", "FrontDropQueue(10)"))
    assert d.names("replace") == ["q", "s"]
    assert d.reasons[d.new.graph.index("s")] == "names 'q', which changes"


def test_elements_using_a_changed_address_name_are_replaced():
    old = ("AddressInfo(me 10.0.0.1, peer 10.0.0.2); Idle -> a :: IPEncap(6, me, peer) -> Discard;"
           " Idle -> b :: IPEncap(6, 1.1.1.1, 2.2.2.2) -> Discard;")
    d = _diff(old, old.replace("peer 10.0.0.2", "peer 10.0.0.3"))
    assert "a" in d.names("replace") and "b" not in d.names("replace")


def test_unnamed_elements_keep_their_objects_when_numbers_shift():
    old = "Idle -> Counter -> Discard;"
    d = _diff(old, "Idle -> p :: Paint(1) -> Counter -> Discard;")
    assert d.names("add") == ["p"]
    assert d.previous[d.new.graph.index("Counter@3")] == d.old.graph.index("Counter@2")


def test_rewriters_using_a_changed_named_pattern_are_replaced():
    old = ("IPRewriterPatterns(out 1.0.0.1 1024-65535 - -); Idle -> rw :: IPRewriter(pattern out 0 0) -> Discard;"
           " Idle -> other :: IPRewriter(pass 0) -> Discard;")
    d = _diff(old, old.replace("1.0.0.1", "1.0.0.2"))
    assert "rw" in d.names("replace") and "other" not in d.names("replace")


def test_a_diff_travels_as_plain_lists_and_damage_is_refused():
    import pytest

    from clickpy.reload.diff import PlanDiff

    d = _diff(BASE, BASE.replace("-> c :: Counter ->", "-> c :: Counter -> p :: Paint(3) ->").replace("Queue(10)", "Queue(9)"))
    back = PlanDiff.unpack(d.old, d.new, d.pack())
    assert (back.actions, back.previous, back.reasons, back.removed, back.rewired) == \
        (d.actions, d.previous, d.reasons, d.removed, d.rewired)
    for damage in (lambda p: p[0].pop(), lambda p: p[1].__setitem__(0, 99), lambda p: p[1].__setitem__(1, 0),
                   lambda p: p[0].__setitem__(0, "explode"), lambda p: p[4].append(1000), lambda p: p.pop()):
        packed = d.pack()
        damage(packed)
        with pytest.raises(ValueError):
            PlanDiff.unpack(d.old, d.new, packed)
