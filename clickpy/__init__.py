"""clickpy: Click-language middleboxes on a fast Python/Cython data path."""

__version__ = "0.1.0"
