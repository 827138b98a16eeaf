import sys

from runtime.cli.main import main

if __name__ == "__main__":  # a spawn-started worker (vmvc sim sweep) re-imports this as __mp_main__
    sys.exit(main())
