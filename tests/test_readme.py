"""The README says only what works as written: its snippets are the shipped files' own lines."""
import pytest
from support import REPO

README = (REPO / "README.md").read_text()


def blocks(language: str) -> list[str]:
    """The README's fenced blocks marked with language ('' for unmarked ones)."""
    out, current, wanted = [], None, False
    for line in README.splitlines():
        if line.startswith("```"):
            if current is None:
                current, wanted = [], line[3:].strip() == language
            else:
                if wanted:
                    out.append("\n".join(current) + "\n")
                current = None
        elif current is not None:
            current.append(line)
    return out


def assert_excerpt(snippet: str, path):
    """Every line of snippet but '...' is in the file, in the same order."""
    lines = [line for line in (path.read_text().splitlines())]
    at = 0
    for line in snippet.splitlines():
        if line.strip() in ("...", ""):
            continue
        try:
            at = lines.index(line, at) + 1
        except ValueError:
            pytest.fail(f"README line not in {path.name} (or out of order): {line!r}")


def test_the_python_element_snippet_is_the_shipped_file():
    (python,) = blocks("python")
    assert_excerpt(python, REPO / "configs" / "size_histogram.py")


def test_the_configuration_snippet_is_the_shipped_file():
    snippet = next(b for b in blocks("") if "SizeHistogram" in b)
    assert_excerpt(snippet, REPO / "configs" / "python-element.click")
