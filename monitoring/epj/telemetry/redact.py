"""A logging filter that refuses personal data in log lines.

Names cannot be recognised, so the real protection is to log identifiers (source
file, source id, kommunenummer) only. This filter is the safety net for the one
thing that *can* be recognised: an 11-digit number that is a valid fødselsnummer
or D-number is replaced by ``[fnr]`` before the record is emitted.
"""

from __future__ import annotations

import logging
import re

from stdnum.no import fodselsnummer

_ELEVEN_DIGITS = re.compile(r"(?<![0-9])[0-9]{6}[ ]?[0-9]{5}(?![0-9])")


def _looks_like_national_id(number: str) -> bool:
    """A valid fødselsnummer/D-number, or a synthetic one (month + 80) that stands in for one in rehearsals."""
    if fodselsnummer.is_valid(number):
        return True
    # Synthetic ids carry the usual check digits over the digits as written.
    return (
        81 <= int(number[2:4]) <= 92
        and fodselsnummer.calc_check_digit1(number[:9]) == number[9]
        and fodselsnummer.calc_check_digit2(number[:10]) == number[10]
    )


def redact(text: str) -> str:
    """Replace every national id (fødselsnummer / D-number, real or synthetic) in ``text`` with ``[fnr]``."""

    def repl(match: re.Match[str]) -> str:
        return "[fnr]" if _looks_like_national_id(match.group(0).replace(" ", "")) else match.group(0)

    return _ELEVEN_DIGITS.sub(repl, text)


class PersonalDataFilter(logging.Filter):
    """Attach to a handler: rewrites the formatted message so arguments are covered too."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
