"""The registry finds element classes by the index the build writes, and
without it (missing or stale) by importing the library."""
import subprocess
import sys
import textwrap
import types

import pytest

from clickpy.runtime import registry
from clickpy.runtime.element import Element


@pytest.fixture
def fresh(monkeypatch):
    """The registry as a new process sees it (its caches are restored afterwards)."""
    for name, value in (("_index", None), ("_have_index", False), ("_all_imported", False)):
        monkeypatch.setattr(registry, name, value)
    return registry


def test_concrete_elements_lists_only_element_classes_that_are_not_abstract():
    module = types.ModuleType("clickpy_test_fake_elements")

    class Helper:  # a helper class beside the element: not an element
        pass

    class Base(Element):
        abstract = True

    class Real(Base):
        pass

    for cls in (Helper, Base, Real):
        cls.__module__ = module.__name__
        setattr(module, cls.__name__, cls)
    module.Element = Element  # imported, not defined here
    assert registry.concrete_elements(module) == [Real]


def test_the_written_index_holds_elements_and_no_helpers(tmp_path):
    path = tmp_path / "_index.py"
    failed = registry.write_index(path)
    assert failed == []
    ns = {}
    exec(path.read_text(), ns)
    assert ns["INDEX"]["Counter"] == "clickpy.elements.standard.counter"
    assert ns["INDEX"]["IPRewriter"] == "clickpy.elements.rewriter.ip_rewriter"
    # helper classes the old scan of the sources took for elements
    for helper in ("PatternError", "ScriptError", "IPRewriterBase", "IPMapper", "ClickRandom"):
        assert helper not in ns["INDEX"]


def test_the_build_wrote_an_index_that_is_current(fresh):
    assert fresh._library_index()["Counter"] == "clickpy.elements.standard.counter"
    assert fresh._have_index, "elements/_index.py is missing or stale: run python3 setup.py build_ext --inplace"


def in_new_process(body: str) -> str:
    """Run body in a fresh interpreter (nothing imported yet); its output."""
    script = "from clickpy.runtime import registry\n" + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_without_an_index_the_library_is_imported():
    out = in_new_process("""
        registry.INDEX_MODULE = "_no_such_index"
        assert registry._library_index() == {} and not registry._have_index
        print(registry.lookup("Counter").__module__)
        print(registry.is_defined("Discard"), registry.is_defined("NoSuchElementClass"))
        print(registry.lookup("NoSuchElementClass"))
    """)
    assert out.split("\n")[:3] == ["clickpy.elements.standard.counter", "True False", "None"]


def test_without_an_index_an_unbuilt_library_is_a_clear_error():
    out = in_new_process("""
        registry.INDEX_MODULE = "_no_such_index"
        real = registry._library_modules
        registry._library_modules = lambda: real() + ["clickpy.elements.standard.not_built"]
        try:
            registry.lookup("Counter")
        except ImportError as e:
            print(e)
    """)
    assert "element library is not fully built" in out and "clickpy.elements.standard.not_built" in out


def test_with_an_index_a_known_name_imports_only_its_module():
    out = in_new_process("""
        import sys
        print(registry.lookup("Tee").__module__, registry.is_defined("Counter"))
        print(sorted(m for m in sys.modules if m.startswith("clickpy.elements.") and m.count(".") == 3))
    """)
    first, modules = out.split("\n")[:2]
    assert first == "clickpy.elements.standard.tee True"
    assert modules == "['clickpy.elements.standard.tee']"


def test_an_index_entry_whose_module_is_gone_falls_back_to_the_library():
    out = in_new_process("""
        registry._library_index()["Counter"] = "clickpy.elements.standard.removed_module"
        print(registry.lookup("Counter").__module__)
    """)
    assert out.strip() == "clickpy.elements.standard.counter"


def test_a_class_the_index_does_not_know_yet_is_found_in_the_library():
    out = in_new_process("""
        del registry._library_index()["Counter"]  # as if Counter were written after the build
        print(registry.lookup("Counter").__module__)
    """)
    assert out.strip() == "clickpy.elements.standard.counter"


def test_user_package_classes_are_found(tmp_path, fresh):
    (tmp_path / "my_things.py").write_text(
        "from clickpy import Element\n\n"
        "class MyRegistryTestThing(Element):\n"
        "    port_count = '1/1'\n")
    registry.import_package(str(tmp_path / "my_things.py"))
    assert registry.lookup("MyRegistryTestThing").__module__ == "clickpy_user_my_things"
