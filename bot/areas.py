"""The area a case is counted under in monitoring (Karin 5.1): the postcode district (the outward
code, "CF10" of "CF10 1AA"). It says where without saying who, so it is kept when a case is
anonymised, and it is the only part of an address that is."""
from __future__ import annotations

import re
from typing import Optional

# A whole UK postcode (outward code, then inward code: a digit and two letters); GIR 0AA aside.
_POSTCODE = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][ABD-HJLNP-UW-Z]{2})\b")
NOT_GIVEN = "not given"


def postcode_district(address: Optional[str]) -> Optional[str]:
    """The district of the last whole postcode in ``address``, or None."""
    if not address or not isinstance(address, str):
        return None
    found = _POSTCODE.findall(address.upper())
    return found[-1][0] if found else None
