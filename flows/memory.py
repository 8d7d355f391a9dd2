"""Give memory that a step freed back to the operating system before the next step starts.

Allocators keep what they free for reuse: pyarrow's pool (filled by the pandas
frames Great Expectations validates) and glibc's heap (Python objects of the
parsed files) both do, so the run's peak would be one step's garbage plus the
next step's working set. Measured on 10,000 recipients: about 100 MB less at
the peak (1.95 to 1.85 GiB).
"""

from __future__ import annotations

import ctypes
import ctypes.util


def release_unused() -> None:
    import pyarrow

    pyarrow.default_memory_pool().release_unused()
    libc = ctypes.util.find_library("c")
    if libc:
        try:
            ctypes.CDLL(libc).malloc_trim(0)
        except AttributeError:  # not glibc (musl, macOS): nothing to trim
            pass
