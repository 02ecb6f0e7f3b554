import sys

from harness.powerfs.cli import main

sys.exit(main())
