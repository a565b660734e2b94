"""The matcher's tunables, in one table: scoring, the reasons shown, the seed's words
and the term index's memory.

Read by :mod:`tracker.matching` (which re-exports ``Tuning`` and ``TUNING``, and whose
term index reads its own ``TUNING``: patch ``tracker.matching.TUNING`` to change the
index's memory in a test), :mod:`tracker.flagrule` and :mod:`tracker.seedterms`.

Must not: hold anything but these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tuning:
    """The matcher's tunables, in one place."""

    extra_term_bonus: float = 0.25  # score per distinct term beyond a group's first
    extra_term_cap: int = 4  # extra terms that earn the bonus, per group
    seed_terms_kept: int = 40  # distinctive seed words compared with items
    seed_terms_shown: int = 8  # shared seed words listed in the reasons
    matches_shown: int = 6  # matches listed per group in the reasons
    stem_length: int = 7  # words are compared by their first letters (a crude stemmer)
    lookup_memo_limit: int = 200_000  # distinct words remembered by a term index


TUNING = Tuning()
