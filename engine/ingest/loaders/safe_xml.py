"""XML parts of office files parsed with defusedxml: entity declarations and external references refused.

Office formats never declare entities; a part that does is an attack (the "billion laughs" expansion or
an external entity reading a local file), reported as a corrupt file rather than expanded.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from engine.ingest.status import FAILED, LoadError


def parse_part(data: bytes, label: str, name: str) -> ET.Element:
    """The root element of one part; ``LoadError(FAILED)`` naming the part when it is malformed or hostile."""
    try:
        root: ET.Element = fromstring(data)
    except DefusedXmlException as exc:
        raise LoadError(FAILED, f"corrupt {label}: {name} declares XML entities ({type(exc).__name__})") from exc
    except ET.ParseError as exc:
        raise LoadError(FAILED, f"corrupt {label}: {name}: {exc}") from exc
    return root
