import sys

from clickpy.cli.main import main

sys.exit(main())
