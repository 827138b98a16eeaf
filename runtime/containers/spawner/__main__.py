"""``python -m runtime.containers.spawner ROOT [READY_FD]``: the spawner process (see the package)."""

import sys

from runtime.containers.spawner.daemon import main

sys.exit(main())
