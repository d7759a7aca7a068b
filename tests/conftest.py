"""Suite-wide settings.

Hypothesis explores new examples on every run on a developer's machine, which is how
it finds bugs; under CI (``CI`` set) it runs a fixed set of examples, so the same tree
gives the same verdict and a red run is reproducible.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
