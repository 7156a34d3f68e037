import sys

from jbp.cli import main

sys.exit(main())
