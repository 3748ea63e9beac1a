import sys

from reck8s.cli import main

sys.exit(main())
