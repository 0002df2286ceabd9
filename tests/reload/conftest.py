"""Every reload test leaves no packet descriptor in use; reloads under traffic
use the labs of tests/lab (lab_up)."""
from harness import no_leaks  # noqa: F401  (an autouse fixture)
from lab.conftest import lab_up  # noqa: F401
