"""Transliteration: any script's text written in plain Latin letters.

Owns the one third-party transliterator (anyascii): names in Cyrillic, Arabic script
or Latin come out as comparable Latin letters (Халилзад and خلیلزاد as Khalilzad and
khlylzd). A character no table knows (a script anyascii lacks, a private-use code
point) is dropped rather than guessed.

Must not: fold case or compare anything (``developments`` does), or read files.
"""

from __future__ import annotations

from anyascii import anyascii


def to_latin(text: str) -> str:
    """``text`` in ASCII letters, digits and punctuation; unknown characters dropped."""
    return anyascii(text)
