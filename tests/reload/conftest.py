"""Every reload test leaves no packet descriptor in use."""
from harness import no_leaks  # noqa: F401  (an autouse fixture)
