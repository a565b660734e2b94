"""Read and write OPML, the feed list format feed readers import and export.

Owns the mapping between OPML outlines and ``FeedConfig`` records: every outline
with an ``xmlUrl``, at any depth of folders, is a feed; its name comes from
``title`` or ``text``, its language from an optional ``language`` attribute and its
``folder`` from the outlines around it (nested folders joined with ``/``); writing
puts each folder's feeds back in one outline. An unnamed feed is written with its
title when one is known (the feed's own, from the database), else its URL. OPML has
no polling interval, so intervals are neither read nor written.

Reading refuses any document that declares a DOCTYPE or an entity, before the
parser can expand one (the "billion laughs" attack): feed lists come from other
people's exports, and OPML never needs either.

Must not: read or write files, touch the network or the config file (the CLI
does), or use anything but the standard library.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence

from tracker.errors import ConfigError
from tracker.models import FeedConfig
from tracker.urls import is_http_url

_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _Refused(Exception):
    """A DOCTYPE reached the parser: the text scan could not see it."""


class _GuardedTreeBuilder(ET.TreeBuilder):
    """Stops the parse at a DOCTYPE, before any entity in it is declared."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise _Refused


def read_opml(data: bytes, *, source: str = "") -> list[FeedConfig]:
    """The http(s) feeds of an OPML document, in document order, without duplicates.

    Raise ``ConfigError`` naming ``source`` when the document is not well-formed
    XML, is not OPML, or declares a DOCTYPE or entities.
    """
    root = _parse(data, source)
    if root.tag != "opml":
        raise ConfigError(f"not an OPML document (root element <{root.tag}>)", path=source)
    feeds: dict[str, FeedConfig] = {}
    for feed in _outline_feeds(root):
        feeds.setdefault(feed.url, feed)
    return list(feeds.values())


def write_opml(
    feeds: Sequence[FeedConfig],
    *,
    title: str = "tracker feeds",
    feed_titles: Mapping[str, str] | None = None,
) -> bytes:
    """An OPML 2.0 document (UTF-8) listing ``feeds`` as ``type="rss"`` outlines, those
    with a ``folder`` inside an outline of that name; ``feed_titles`` (by URL) names
    the feeds that have no name of their own."""
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = _xml_text(title)
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for feed in feeds:
        parent = _folder_outline(body, folders, feed.folder) if feed.folder else body
        known = (feed_titles or {}).get(feed.url, "")
        ET.SubElement(parent, "outline", _outline_attributes(feed, known))
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _parse(data: bytes, source: str) -> ET.Element:
    if _DECLARATION.search(_scannable_text(data)):
        raise _refusal(source)
    parser = ET.XMLParser(target=_GuardedTreeBuilder())
    try:
        parser.feed(data)
        root: ET.Element = parser.close()
    except _Refused:
        raise _refusal(source) from None
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        message = re.sub(r": line \d+, column \d+$", "", str(exc))
        raise ConfigError(f"not well-formed XML: {message}", path=source, line=line) from None
    return root


def _scannable_text(data: bytes) -> str:
    """The document as text in which ``<!DOCTYPE`` can be looked for.

    Every ASCII-compatible encoding keeps ASCII bytes as they are, so latin-1
    decoding is enough for those; UTF-16 has to be decoded for real.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if data[:2] == b"<\x00":
        return data.decode("utf-16-le", errors="replace")
    if data[:2] == b"\x00<":
        return data.decode("utf-16-be", errors="replace")
    return data.decode("latin-1")


def _refusal(source: str) -> ConfigError:
    return ConfigError("refusing an OPML document with a DOCTYPE or entities", path=source)


def _folder_outline(body: ET.Element, folders: dict[str, ET.Element], folder: str) -> ET.Element:
    """The outline of ``folder`` ("World/Asia": nested), made on first use."""
    parent, path = body, ""
    for part in (p for p in folder.split("/") if p.strip()):
        path = f"{path}/{part}"
        if path not in folders:
            text = _xml_text(part.strip())
            folders[path] = ET.SubElement(parent, "outline", {"text": text, "title": text})
        parent = folders[path]
    return parent


def _outline_feeds(root: ET.Element) -> Iterator[FeedConfig]:
    body = root.find("body")
    if body is None:
        return
    yield from _feeds_under(body, ())


def _feeds_under(parent: ET.Element, folders: tuple[str, ...]) -> Iterator[FeedConfig]:
    for outline in parent.findall("outline"):
        # Exporters disagree on case (xmlUrl, xmlurl, XMLURL); the spec says xmlUrl.
        attributes = {key.lower(): value for key, value in outline.attrib.items()}
        name = " ".join((attributes.get("title", "").strip() or attributes.get("text", "")).split())
        url = _feed_url(attributes.get("xmlurl", ""))
        if url is not None:
            language = attributes.get("language", "").strip()
            yield FeedConfig(url=url, name=name, language=language, folder="/".join(folders))
        inner = (*folders, name.replace("/", "-")) if url is None and name else folders
        yield from _feeds_under(outline, inner)


def _feed_url(value: str) -> str | None:
    """The URL as the config accepts it (lower-case scheme), or None if not http(s)."""
    url = value.strip()
    if not is_http_url(url) or _WHITESPACE.search(url):
        return None
    scheme, rest = url.split(":", 1)
    return f"{scheme.lower()}:{rest}"


def _outline_attributes(feed: FeedConfig, known_title: str = "") -> dict[str, str]:
    name = _xml_text(feed.name) or _xml_text(" ".join(known_title.split())) or feed.url
    attributes = {"type": "rss", "text": name, "title": name, "xmlUrl": feed.url}
    if feed.language:
        attributes["language"] = _xml_text(feed.language)
    return attributes


def _xml_text(value: str) -> str:
    """``value`` without the control characters XML 1.0 cannot carry."""
    return _XML_INVALID.sub("", value)
