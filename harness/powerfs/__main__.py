import sys

from harness.powerfs.daemon import main

sys.exit(main())
