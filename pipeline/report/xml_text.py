"""Text that the XML inside .xlsx and .docx files can hold.

XML 1.0 has no place for most control characters or for U+FFFE and U+FFFF,
all of which a decoded bank export can contain; a writer that lets one
through makes a file Excel "repairs" by dropping rows. They become spaces.
The pattern is written so that Python's re and polars' regex read it alike.
"""

from __future__ import annotations

import re

XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f" + "\ufffe\uffff]"
_ILLEGAL = re.compile(XML_ILLEGAL)


def xml_safe(text: str) -> str:
    return _ILLEGAL.sub(" ", text)
