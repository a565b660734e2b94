"""Group syndicated copies of one story (pure).

The same wire story reaches several outlets with the same or nearly the same
title ("... - BBC News", different punctuation, a word changed). Each item gets a
set of title tokens and MinHash bands; items sharing a band are candidates and
the same story when their token sets are close (Jaccard). ``store`` keeps the
bands in ``story_bands`` and gives a new item the ``story_id`` of its match.

Must not: do I/O.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import unicodedata
from collections.abc import Iterable

from tracker.textnorm import find_words

SAME_STORY_JACCARD = 0.6
MIN_TOKENS = 3  # shorter titles only group on an exact match
TOKEN_HASH_CACHE = 4096  # distinct words whose MinHash values are kept (about 3 MB)
TITLE_CACHE = 2048  # candidate titles whose text and tokens are kept: recent stories recur (~3 MB)
_BANDS = 6
_ROWS = 2  # MinHash values a band is made of
_BAND_BITS = 48  # below a band's position: its rows' minima, or a short title's digest
_OUTLET_SUFFIX = re.compile(r"\s+[-|–—:]\s+[^-|–—:]{2,40}$")
_STOPWORDS = frozenset(
    "a an the of to in on at for and or but with from by as is are was were be been "
    "it its this that says said say after over into about new".split()
)


def title_tokens(title: str) -> frozenset[str]:
    """Significant, normalised words of a title, without an outlet suffix."""
    text = _OUTLET_SUFFIX.sub("", _normalised(title))
    words = find_words(text)
    return frozenset(t for t in words if t not in _STOPWORDS)


def _normalised(title: str) -> str:
    return unicodedata.normalize("NFKC", title).casefold().replace("ё", "е")


def story_bands(tokens: frozenset[str]) -> tuple[int, ...]:
    """MinHash bands of a token set; equal bands make two items candidates.

    A band is a number: its position (0-5, or 6 for a short title's one band) above
    48 bits made of its two rows' minima (32 bits each, the first shifted by 16).
    Compact numbers keep ``story_bands`` small: its index is what the writer's lookups
    and batches read and write."""
    if not tokens:
        return ()
    if len(tokens) < MIN_TOKENS:
        return (_BANDS << _BAND_BITS | _hash48(" ".join(sorted(tokens))),)
    minima = list(map(min, *map(_token_hashes, tokens)))  # per seed, over the tokens
    return tuple(
        band << _BAND_BITS | (minima[band * _ROWS] << 16 ^ minima[band * _ROWS + 1])
        for band in range(_BANDS)
    )


def same_story(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two titles' token sets are close enough to be one story."""
    if not a or not b:
        return False
    if len(a) < MIN_TOKENS or len(b) < MIN_TOKENS:
        return a == b
    return len(a & b) / len(a | b) >= SAME_STORY_JACCARD


def best_match(tokens: frozenset[str], candidates: Iterable[tuple[int, str]]) -> int | None:
    """The story id of the closest candidate ``(story_id, title)``, if any is close."""
    best: tuple[float, int] | None = None
    for story_id, title in candidates:
        if not _may_be_same(tokens, title):
            continue
        other = _candidate_tokens(title)
        if same_story(tokens, other):
            score = len(tokens & other) / len(tokens | other)
            if best is None or score > best[0]:
                best = (score, story_id)
    return best[1] if best else None


def _may_be_same(tokens: frozenset[str], title: str) -> bool:
    """False only when ``same_story`` must reject the title, and much cheaper than it.

    Every word shared with the title is a substring of its normalised text, so a
    count of the tokens found there bounds the overlap from above: when even that is
    too small a part of ``tokens`` (a subset of the union), the Jaccard index is too.
    Most candidates share a common word or two and fail here without being tokenised.
    """
    count = len(tokens)
    if count < MIN_TOKENS:
        return True  # only an equal token set matches: left to same_story
    text = _candidate_text(title)
    misses = count - SAME_STORY_JACCARD * count  # one more, and the share found is too small
    for token in tokens:  # almost every candidate fails, most after a few tokens
        if token not in text:
            misses -= 1
            if misses < 0:
                return False
    return True


def _candidate_text(title: str) -> str:
    # An ASCII title's normal form is its lower case, cheaper than a cache lookup.
    return title.lower() if title.isascii() else _normalised_text(title)


@functools.lru_cache(maxsize=TITLE_CACHE)
def _normalised_text(title: str) -> str:
    return _normalised(title)


@functools.lru_cache(maxsize=TITLE_CACHE)
def _candidate_tokens(title: str) -> frozenset[str]:
    return title_tokens(title)


@functools.lru_cache(maxsize=TOKEN_HASH_CACHE)
def _token_hashes(token: str) -> tuple[int, ...]:
    """The token's hash under every MinHash seed: 32-bit slices of one digest (one
    hash call, not one per seed); words recur, so they are remembered."""
    return _SEED_VALUES.unpack(hashlib.blake2b(token.encode(), digest_size=_DIGEST_BYTES).digest())


_SEED_VALUES = struct.Struct(f">{_BANDS * _ROWS}I")
_DIGEST_BYTES = _SEED_VALUES.size  # 48: within blake2b's 64


def _hash48(text: str) -> int:
    """The first 48 bits of the text's digest."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest()[:6], "big")
