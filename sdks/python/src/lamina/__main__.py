"""``python -m lamina build ...`` is ``lamina-py build ...``."""

import sys

from .build import main

sys.exit(main())
