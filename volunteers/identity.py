"""Real-name data of volunteers: the 18-digit resident identity number (GB 11643) and how it is kept.

The full number is never stored. A profile keeps its masked form (`4601**********123X`, what certificates and
staff see) and a keyed HMAC-SHA256 of it under the deployment's secret (to recognise the same person again:
one profile per identity number and community). Without the key the HMAC says nothing; with it a guesser
still has to try every plausible number, which is why the key never leaves the server's settings.
Changing LINLI_SECRET_KEY therefore stops recognising numbers stored before (profiles and certificates keep
their masked forms).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

from linli.settings import get_settings

_SHAPE = re.compile(r"^\d{17}[\dX]$")
# GB 11643-1999: weight of each of the first 17 digits, and the check character for the sum modulo 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def normalise(raw: str) -> str:
    """Spaces removed, a lower-case x made upper-case (how people type the check character)."""
    return raw.replace(" ", "").upper()


def is_valid(number: str) -> bool:
    """An 18-character number with a real birth date and the right check character. Callers normalise first.

    The message a caller gives for a wrong number must not repeat it (it would reach logs and responses)."""
    if not _SHAPE.match(number):
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > date.today():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == number[17]


def mask(number: str) -> str:
    """The first four characters (province and city) and the last four, the ten between as `*`."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def keyed_digest(number: str) -> str:
    """HMAC-SHA256 (hex) of the number under the settings' secret key, domain-separated from other uses."""
    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(key, b"linli/identity-number/v1:" + number.encode(), hashlib.sha256).hexdigest()


def mask_name(name: str) -> str:
    """The name as public verification shows it: the surname kept, the given name hidden (何志愿 -> 何*愿,
    王芳 -> 王*, a single character left as it is)."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
