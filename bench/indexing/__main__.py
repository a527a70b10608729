"""`python -m bench.indexing`: see the package's docstring (``--help``)."""

import sys

from bench.indexing.run import main

sys.exit(main())
