"""``python -m clickpy.clicktest``: run `.clicktest` files."""

import sys

from clickpy.clicktest.cli import main

sys.exit(main())
