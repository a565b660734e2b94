"""Items from raw entries: plain-text fields, a stable key, a UTC date.

Owns ``build_feed``: each :class:`~.records.RawEntry` becomes a
:class:`~tracker.models.ParsedItem` (text fields through :mod:`.htmltext`, links
resolved and canonicalised, the key: the guid, else the canonical URL, else a hash
of the text), empty entries skipped, the first of each key kept, ``max_items``
applied, with a warning for each. For a news aggregator's feed (:mod:`.aggregators`), an
item also gets its publisher, the article's own URL as its canonical URL (and so as its
key when it has no guid: Bing's click-through links change on every fetch), and its title
without the " - Publisher" suffix. Each item's language is detected (:mod:`.language`),
but not for the items stored unchanged (``known``): their rows keep theirs. Owns the
rules on dates: a bare number is not a date, and a date before 1995 or more than a day
ahead of ``now`` is replaced by ``now`` and flagged as estimated.

Must not: read the clock (``now`` is passed in), do I/O, or know where an entry came
from (feedparser, the fast path or JSON Feed).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from tracker.models import ParsedFeed, ParsedItem
from tracker.parse.aggregators import (
    NO_PUBLISHER,
    Publisher,
    publisher_of,
    recognise,
    without_publisher,
)
from tracker.parse.htmltext import CONTROL_CHARS, longest_text, plain_text
from tracker.parse.language import item_language, language_code
from tracker.parse.records import (
    FUTURE_SLACK,
    MAX_GUID_CHARS,
    MAX_LANGUAGE_CHARS,
    MAX_RAW_DATE_CHARS,
    OLDEST_DATE,
    Limits,
    RawEntry,
    RawFeed,
    Text,
)
from tracker.urls import absolute_url, canonical_url

_NUMBER = re.compile(r"\s*[+-]?(\d+)(\.\d+)?\s*")


def build_feed(
    raw: RawFeed,
    url: str,
    now: datetime,
    header_language: str,
    limits: Limits,
    decode_warnings: tuple[str, ...],
    known: Mapping[str, str],
) -> ParsedFeed:
    """The feed and its items; those stored unchanged (``known``) are not language-detected."""
    feed_language = _language(raw.language) or _language(header_language)
    base = absolute_url(url) or absolute_url(raw.link)
    context = _Context(base, feed_language, now, recognise(url, raw.link, raw.entries))
    items, build_warnings = _build_items(raw.entries, context, limits, known)
    title, _ = plain_text(raw.title, limits.max_field_chars, single_line=True)
    return ParsedFeed(
        title=title,
        link=absolute_url(raw.link, base),
        language=feed_language,
        format=raw.format,
        items=items,
        warnings=decode_warnings + raw.warnings + build_warnings,
    )


class _Context(NamedTuple):
    """What every item of one document shares."""

    base: str | None
    feed_language: str
    now: datetime
    aggregator: str | None  # aggregators.GOOGLE_NEWS, BING_NEWS, or None


def _build_items(
    entries: Iterable[RawEntry], context: _Context, limits: Limits, known: Mapping[str, str]
) -> tuple[tuple[ParsedItem, ...], tuple[str, ...]]:
    """Items in document order: empty entries skipped, first of each key kept, capped."""
    drafts: dict[str, _Draft] = {}
    skipped = {"empty": 0, "duplicate": 0, "over_limit": 0}
    for entry in entries:
        if len(drafts) >= limits.max_items:
            skipped["over_limit"] += 1
        elif _is_empty(entry):
            skipped["empty"] += 1
        else:
            draft = _draft(entry, context, limits.max_field_chars)
            skipped["duplicate"] += draft.fields["key"] in drafts
            drafts.setdefault(draft.fields["key"], draft)
    # Languages are detected in a pass of their own: with nothing in between, CLD2's
    # tables stay in the CPU's caches, and each item costs half as much.
    items = tuple(
        ParsedItem(**draft.fields, language=_item_language(draft, known))
        for draft in drafts.values()
    )
    return items, tuple(_skip_warnings(skipped, limits))


def _skip_warnings(skipped: Mapping[str, int], limits: Limits) -> Iterator[str]:
    if skipped["empty"]:
        yield f"entries skipped as empty: {skipped['empty']}"
    if skipped["duplicate"]:
        yield f"entries dropped for repeating an earlier key (first kept): {skipped['duplicate']}"
    if skipped["over_limit"]:
        yield f"entries dropped beyond max_items={limits.max_items}: {skipped['over_limit']}"


def _is_empty(entry: RawEntry) -> bool:
    texts = (entry.title.value, entry.summary.value, *(c.value for c in entry.contents))
    return not (entry.guid or entry.link or any(t.strip() for t in texts))


class _Draft(NamedTuple):
    """An item but for its language, and what its language is detected from."""

    fields: dict[str, Any]  # ParsedItem's fields by name, language aside
    language_sample: tuple[str, str, str]  # title, summary (or content), declared language


def _item_language(draft: _Draft, known: Mapping[str, str]) -> str:
    """The item's detected language; for an item stored unchanged, the declared one: its
    row keeps what was detected when it was new (most items of a changed document)."""
    fields = draft.fields
    if known and known.get(fields["key"]) == fields["content_hash"]:
        return language_code(draft.language_sample[2])
    return item_language(*draft.language_sample)


def _draft(entry: RawEntry, context: _Context, max_chars: int) -> _Draft:
    publisher = NO_PUBLISHER
    if context.aggregator:
        entry, publisher = publisher_of(context.aggregator, entry)
    title, cut_title = plain_text(entry.title, max_chars, single_line=True)
    title = without_publisher(title, publisher.name)
    summary, cut_summary = plain_text(entry.summary, max_chars)
    content, cut_content = longest_text(entry.contents, max_chars)
    author, cut_author = plain_text(Text(entry.author), max_chars, single_line=True)
    link = absolute_url(entry.link, context.base)
    url = _item_url(entry.link, link, context.base, publisher)
    key, key_kind = _item_key(_clean_guid(entry.guid), url, (title, summary, content))
    published, estimated = _published(entry.date, context.now)
    declared = _language(entry.language) or context.feed_language
    fields = dict(
        key=key,
        key_kind=key_kind,
        url=url,
        link=link,
        title=title,
        summary=summary,
        content=content,
        author=author,
        published=published,
        published_raw=entry.date_raw[:MAX_RAW_DATE_CHARS] if entry.date_raw else None,
        date_estimated=estimated,
        content_hash=_sha256(title, summary, content, url or ""),
        truncated=cut_title or cut_summary or cut_content or cut_author,
        publisher=publisher.name,
        publisher_url=publisher.site,
    )
    return _Draft(fields, (title, summary or content, declared))


def _item_url(raw: str, resolved: str | None, base: str | None, publisher: Publisher) -> str | None:
    """The canonical URL: the article's own, when an aggregator's link gave it away (so
    the article from the publisher's own feed is the same item), else the link's."""
    if publisher.article_url:
        return canonical_url(publisher.article_url)
    return _canonical_url(raw, resolved, base)


def _canonical_url(raw: str, resolved: str | None, base: str | None) -> str | None:
    """``canonical_url(raw, base)``, from the link already resolved when that is the
    same (resolving is what costs)."""
    if resolved is not None and resolved == resolved.strip() and " " not in resolved:
        return canonical_url(resolved)
    return canonical_url(raw, base)


def _item_key(guid: str, url: str | None, texts: tuple[str, str, str]) -> tuple[str, str]:
    if guid:
        return (guid if len(guid) <= MAX_GUID_CHARS else f"sha256:{_sha256(guid)}"), "guid"
    if url:
        return url, "link"
    return f"sha256:{_sha256(*texts)}", "hash"


def _clean_guid(guid: str) -> str:
    return CONTROL_CHARS.sub("", guid).strip()


def _published(date: datetime | None, now: datetime) -> tuple[datetime, bool]:
    """The item's date, or ``now`` flagged as estimated when missing or absurd."""
    if date is None or date < OLDEST_DATE or date > now + FUTURE_SLACK:
        return now, True
    return date, False


def is_epoch_like(raw: str) -> bool:
    """True for a bare number (a Unix time or junk); YYYYMMDD[hhmmss] are real dates."""
    match = _NUMBER.fullmatch(raw)
    return match is not None and not (match[2] is None and len(match[1]) in (8, 14))


def _language(raw: str) -> str:
    return raw.strip().lower().replace("_", "-")[:MAX_LANGUAGE_CHARS]


def _sha256(*parts: str) -> str:
    joined = "\x1f".join(parts).encode("utf-8", errors="surrogatepass")
    return hashlib.sha256(joined).hexdigest()


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
