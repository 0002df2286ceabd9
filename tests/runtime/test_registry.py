"""The registry: which element classes exist, imported only when a configuration needs them.

Cases that change what the registry holds (a user class, a fresh import
state) run in a child process: the registry is global to a process.
"""
import subprocess
import sys
import textwrap
import types

import pytest

from clickpy.runtime import registry
from clickpy.runtime.element import Element


def in_child(code: str, tmp_path=None) -> str:
    """Run code in a fresh interpreter (cwd tmp_path); its stdout."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_lookup_finds_library_classes_by_their_name():
    cls = registry.lookup("Counter")
    assert cls.__name__ == "Counter" and issubclass(cls, Element)
    assert cls.__module__ == "clickpy.elements.standard.counter"
    assert registry.lookup("RadixIPLookup").__module__ == "clickpy.elements.ip.radix_ip_lookup"


@pytest.mark.parametrize("name", ["Countr", "counter", "", "Element", "IPRouteTable"])
def test_lookup_of_what_is_not_an_element_class_is_none(name):
    # IPRouteTable is the lookups' abstract base: not usable in a configuration
    assert registry.lookup(name) is None


def test_is_defined_knows_a_class_without_importing_its_module():
    out = in_child("""
        import sys
        from clickpy.runtime import registry
        print(registry.is_defined("IPReassembler"), registry.is_defined("NoSuchElement"))
        print("clickpy.elements.ip.ip_reassembler" in sys.modules)
        registry.lookup("IPReassembler")
        print("clickpy.elements.ip.ip_reassembler" in sys.modules)
    """)
    assert out.split() == ["True", "False", "False", "True"]


@pytest.mark.parametrize("name", ["FilterError", "IPRouteTable"])
def test_is_defined_only_for_element_classes(name):
    assert registry.is_defined(name) == (registry.lookup(name) is not None)


def test_element_classes_lists_the_library_and_no_abstract_base():
    classes = registry.element_classes()
    assert {"Counter", "Queue", "IPFilter", "ARPQuerier", "IPRewriter", "ToDump"} <= set(classes)
    assert all(classes[name].__name__ == name for name in classes)
    assert "IPRouteTable" not in classes and "Element" not in classes


def test_a_user_class_overrides_the_library_one(tmp_path):
    (tmp_path / "mine.py").write_text(textwrap.dedent("""
        from clickpy.runtime.element import Element

        class Counter(Element):
            port_count = "1/1"
            processing = "a"
    """))
    out = in_child(f"""
        from clickpy.runtime import registry
        library = registry.lookup("Counter")
        registry.import_package({str(tmp_path / "mine.py")!r})
        mine = registry.lookup("Counter")
        print(library.__module__, mine.__module__, registry.element_classes()["Counter"] is mine)
    """)
    assert out.split() == ["clickpy.elements.standard.counter", "clickpy_user_mine", "True"]


def test_a_user_class_is_found_in_a_configuration_that_requires_its_package(tmp_path):
    (tmp_path / "probe.py").write_text(textwrap.dedent("""
        from clickpy.runtime.element import Element
        from clickpy.runtime.handlers import Read

        class RegistryProbe(Element):
            port_count = "1/1"
            processing = "a"
            handlers = (Read("kind", lambda e: "user"),)
    """))
    config = tmp_path / "probe.click"
    config.write_text("require(package probe.py); Idle -> p :: RegistryProbe -> Discard; DriverManager(stop);\n")
    r = subprocess.run([sys.executable, "-m", "clickpy", "run", str(config), "-h", "p.kind", "-h", "p.class"],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (r.returncode, r.stdout.split()) == (0, ["p.kind:", "user", "p.class:", "RegistryProbe"]), r.stderr


def test_import_package_errors():
    with pytest.raises(ImportError, match="no such file: nowhere/none.py"):
        registry.import_package("nowhere/none.py")
    with pytest.raises(ImportError):
        registry.import_package("clickpy_no_such_package")


def test_relative_package_path_is_found_beside_the_configuration(tmp_path):
    (tmp_path / "beside.py").write_text("from clickpy.runtime.element import Element\n\n\n"
                                        "class BesideProbe(Element):\n    port_count = '0/0'\n")
    out = in_child(f"""
        from clickpy.runtime import registry
        registry.import_package("beside.py", {str(tmp_path)!r})
        print(registry.lookup("BesideProbe").__module__)
    """)      # the child runs elsewhere (its cwd is not tmp_path)
    assert out.split() == ["clickpy_user_beside"]


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


def test_without_an_index_the_library_is_imported():
    out = in_child("""
        from clickpy.runtime import registry

        registry.INDEX_MODULE = "_no_such_index"
        assert registry._library_index() == {} and not registry._have_index
        print(registry.lookup("Counter").__module__)
        print(registry.is_defined("Discard"), registry.is_defined("NoSuchElementClass"))
        print(registry.lookup("NoSuchElementClass"))
    """)
    assert out.split("\n")[:3] == ["clickpy.elements.standard.counter", "True False", "None"]


def test_without_an_index_an_unbuilt_library_is_a_clear_error():
    out = in_child("""
        from clickpy.runtime import registry

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
    out = in_child("""
        from clickpy.runtime import registry

        import sys
        print(registry.lookup("Tee").__module__, registry.is_defined("Counter"))
        print(sorted(m for m in sys.modules if m.startswith("clickpy.elements.") and m.count(".") == 3))
    """)
    first, modules = out.split("\n")[:2]
    assert first == "clickpy.elements.standard.tee True"
    assert modules == "['clickpy.elements.standard.tee']"


def test_an_index_entry_whose_module_is_gone_falls_back_to_the_library():
    out = in_child("""
        from clickpy.runtime import registry

        registry._library_index()["Counter"] = "clickpy.elements.standard.removed_module"
        print(registry.lookup("Counter").__module__)
    """)
    assert out.strip() == "clickpy.elements.standard.counter"


def test_a_class_the_index_does_not_know_yet_is_found_in_the_library():
    out = in_child("""
        from clickpy.runtime import registry

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
