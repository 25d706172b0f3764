"""Classes of libraries a value may come from (numpy, pandas), without importing them.

A value can only be an ``ndarray`` if numpy is imported, so typed_state looks the
class up in ``sys.modules`` instead of importing numpy itself.  A module another
thread is still importing is in ``sys.modules`` already, without its attributes yet:
a worker thread froze a value while the page's first ``st.line_chart`` imported numpy,
and ``numpy.ndarray`` raised AttributeError.  Such a module counts as not imported.
"""

from __future__ import annotations

import sys
from typing import Any


def loaded(module: str, name: str) -> Any:
    """``module.name`` if ``module`` is imported and defines that class, else None.

    Typed ``Any``: a class of a library the package does not depend on."""
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) else None
