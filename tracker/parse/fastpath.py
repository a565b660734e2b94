"""The fast path for common feeds: lxml reads plain RSS 2.0 and Atom 1.0 documents
into the result feedparser would give for them, several times faster.

Owns ``fast_result``. First ``read_document``: the structure of a well-formed RSS 2.0
or Atom 1.0 document made only of elements whose meaning to feedparser is known
(titles, links, guids, dates, authors, HTML descriptions and contents, categories,
enclosures, a few well-known extensions), as ``Node`` records named the way
feedparser names them. Anything else (a DOCTYPE, mixed or XHTML content,
``xml:base`` or a plain ``base`` attribute, a name with characters feedparser's expat
refuses, an extension feedparser gives a meaning to, a document lxml finds malformed)
makes it return None. Then the nodes are turned into feedparser's result
by feedparser's own rules (its text clean-up, date parser, HTML guess, link and guid
handling, borrowed from :mod:`.feedparser_adapter`), so that the caller cannot tell
the two apart. Any element or attribute whose effect is not modelled here sends the
whole document to feedparser: this module only ever says "I am sure" or "I am not".

Must not: guess where feedparser would decide differently, clean the text or make
items (:mod:`.feedparser_adapter` and :mod:`.items` do that for both paths), do I/O,
or import feedparser (its rules come through the adapter). The only module importing
lxml.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from lxml import etree

from tracker.parse.feedparser_adapter import (
    BING_SOURCE,
    FP_CP1252,
    FP_RFC822_ZONES,
    FP_URI_FIXER,
    fp_looks_like_html,
    fp_map_content_type,
    fp_parse_date,
)

ATOM = "http://www.w3.org/2005/Atom"
_XML = "http://www.w3.org/XML/1998/namespace"
MAX_DEPTH = 3  # entry > author > name: deeper structure is left to feedparser
_UNKNOWN_NAMESPACE = "?"  # not a name: the element may be an unknown extension's
# Namespaces read on the fast path, with the prefix feedparser gives their elements.
_PREFIXES = {
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://search.yahoo.com/mrss/": "media",
    "http://search.yahoo.com/mrss": "media",
    "http://purl.org/rss/1.0/modules/syndication/": "sy",
    "http://purl.org/rss/1.0/modules/slash/": "slash",
    "http://wellformedweb.org/commentapi/": "wfw",
    "http://rssnamespace.org/feedburner/ext/1.0": "feedburner",
}
# Prefixes feedparser knows: an unknown namespace bound to one of them would be read
# as that extension, so such a document is left to feedparser.
KNOWN_PREFIXES = frozenset(
    "admin ag annotate audio blogchannel cc co content cp creativecommons dc dcterms email "
    "ev feedburner fm foaf geo georss gml icbm image itunes l media pingback prism psc rdf "
    "rdfs ref reqv search slash soap ss str sub sy szf taxo thr ti trackback wfw wiki xhtml "
    "xlink xml atom".split()
)
_PARSER = etree.XMLParser(
    encoding="utf-8",  # the caller hands over UTF-8, whatever the declaration says
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_blank_text=False,
    strip_cdata=True,
)
# What feedparser makes of the elements read.
_FP_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_FP_TEXT_TYPES = frozenset({"text/plain", "text/html"})
_FP_AMP_ENTITY = re.compile("&([A-Za-z0-9_]+);")
# The two date forms most feeds use, read without feedparser's chain of date parsers.
# An RFC 822 date starts with a weekday or a one- or two-digit day, which its W3DTF
# parser (first in the chain) always refuses; a W3DTF date has exactly one "T".
_RFC822_DATE = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun), )?(\d{1,2}) "
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) "
    r"([+-]\d{4}|[a-z]{1,5})",
    re.ASCII | re.IGNORECASE,
)
_W3DTF_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2}(?:\.\d{1,9})?)(Z|[+-]\d{2}:\d{2})?",
    re.ASCII | re.IGNORECASE,
)
_FP_MONTHS = {
    name: number
    for number, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)
}
# Elements read at most once per entry or head (feedparser's order-dependent rules for
# repeats are not modelled); aliases share their slot.
_FP_SLOTS = {
    "dc_creator": "author",
    "dc_language": "language",
    "description": "summary",
}
_FP_ONCE = frozenset(
    "title link summary guid pubdate dc_date content_encoded author language id updated "
    "published content".split()
)
# Atom's links may repeat (self, alternate, enclosure...): feedparser takes each in turn,
# and the last alternate HTML link is the link, as _fp_atom_link does.
_FP_ATOM_ONCE = _FP_ONCE - {"link"}
_RSS_ENTRY_STORED = frozenset(
    "category comments enclosure dc_subject media_thumbnail media_content "
    "slash_comments wfw_commentrss wfw_comment feedburner_origlink".split()
)
_RSS_HEAD_STORED = frozenset(
    "description copyright managingeditor webmaster pubdate lastbuilddate category "
    "generator docs ttl cloud dc_creator dc_date dc_rights dc_publisher sy_updateperiod "
    "sy_updatefrequency sy_updatebase feedburner_info".split()
)
_RSS_IMAGE_PARTS = frozenset({"url", "title", "link", "width", "height", "description"})
_ATOM_STORED = frozenset({"category"})
_ATOM_HEAD_STORED = frozenset(
    {"subtitle", "updated", "generator", "icon", "logo", "rights", "category"}
)
_ATOM_AUTHOR_PARTS = frozenset({"name", "email", "uri"})
_LINK_ATTRIBUTES = frozenset({"href", "rel", "type", "hreflang", "title", "length"})


class _Unsure(Exception):
    """The document has something the fast path does not model: feedparser reads it."""


def fast_result(data: bytes) -> dict[str, Any] | None:
    """feedparser's result for a plain RSS 2.0 or Atom 1.0 document, or None."""
    document = read_document(data)
    if document is None:
        return None
    try:
        if document.format == "rss":
            return _rss_result(document)
        return _atom_result(document)
    except _Unsure:
        return None


# --- the structure, read with lxml ---------------------------------------------------


class Node(NamedTuple):
    """An element as feedparser names it: ``title``, ``content_encoded``, ``dc_creator``
    (``atom_link`` for Atom's link inside RSS), with its text and attributes (names
    lower-cased). Only leaves have text; only Atom authors and RSS images have children.
    A named tuple, not a dataclass: a document has hundreds, and this builds faster."""

    name: str
    text: str
    attributes: dict[str, str]
    children: tuple[Node, ...] = ()
    extension: bool = False  # an unknown extension's leaf, which feedparser only stores


@dataclass(frozen=True)
class Document:
    """A document the fast path is sure about."""

    format: str  # "rss" or "atom"
    version: str  # the rss element's version attribute ("" for Atom)
    language: str | None  # the root's xml:lang (Atom), None when absent or empty
    head: tuple[Node, ...]  # the channel's or feed's own elements, in document order
    entries: tuple[tuple[Node, ...], ...]  # each item's or entry's elements, in order


def read_document(data: bytes) -> Document | None:
    """The document's structure, or None when feedparser should read it."""
    if b"<!DOCTYPE" in data or b"<!doctype" in data:
        return None
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root.tag == "rss":
        return _rss(root)
    if root.tag == f"{{{ATOM}}}feed":
        return _atom(root)
    return None


def _rss(root: etree._Element) -> Document | None:
    if set(root.attrib) - {"version"} or not _only_whitespace(root):
        return None
    channels = list(root)
    if len(channels) != 1 or channels[0].tag != "channel" or channels[0].attrib:
        return None
    head, entries = _split(channels[0], "item", namespace="")
    if head is None or entries is None:
        return None
    return Document("rss", root.get("version", ""), None, head, entries)


def _atom(root: etree._Element) -> Document | None:
    attributes = dict(root.attrib)
    language = attributes.pop(f"{{{_XML}}}lang", None)
    if attributes:
        return None
    head, entries = _split(root, f"{{{ATOM}}}entry", namespace=ATOM)
    if head is None or entries is None:
        return None
    return Document("atom", "", language or None, head, entries)


def _split(
    parent: etree._Element, entry_tag: str, namespace: str
) -> tuple[tuple[Node, ...] | None, tuple[tuple[Node, ...], ...] | None]:
    """The parent's own elements and its entries' elements, or Nones when unsure."""
    head: list[Node] = []
    entries: list[tuple[Node, ...]] = []
    if not _only_whitespace(parent):
        return None, None
    for element in parent:
        if element.tag == entry_tag:
            nodes = None if element.attrib else _children(element, namespace, 2)
            if nodes is None:
                return None, None
            entries.append(nodes)
        else:
            node = _node(element, namespace, 1)
            if node is None:
                return None, None
            head.append(node)
    return tuple(head), tuple(entries)


def _children(parent: etree._Element, namespace: str, depth: int) -> tuple[Node, ...] | None:
    """The nodes of the parent's children, or None when unsure of one, or of text
    between them."""
    text = parent.text
    if text and not text.isspace():
        return None
    nodes = []
    for child in parent:
        tail = child.tail
        if tail and not tail.isspace():
            return None
        node = _node(child, namespace, depth)
        if node is None:
            return None
        nodes.append(node)
    return tuple(nodes)


def _node(element: etree._Element, namespace: str, depth: int) -> Node | None:
    named = _name(element, namespace)
    if named is None or depth > MAX_DEPTH:
        return None
    name, extension = named
    attributes: dict[str, str] = {}
    for key, value in element.items():
        if key[0] == "{" or not key.isascii():  # xml:base, xml:lang, rdf:about...: left
            return None  # to feedparser, and so are names expat refuses (see _name)
        attributes[key.lower()] = value
    if "base" in attributes:
        return None  # feedparser takes it for xml:base, and keeps it after the element
    if len(element) == 0:
        return Node(name, element.text or "", attributes, (), extension)
    if extension:
        return None
    children = _children(element, namespace, depth + 1)
    if children is None:
        return None
    return Node(name, "", attributes, children)


def _name(element: etree._Element, namespace: str) -> tuple[str, bool] | None:
    """feedparser's name for the element and whether it is an unknown extension, or None
    for an element the fast path does not read."""
    tag = element.tag
    if not isinstance(tag, str):  # a comment or processing instruction
        return None
    if tag[0] == "{" and not (element.prefix or "").isascii():
        return None  # a name expat refuses, it may be (see _known_name)
    known = _known_name(tag, namespace)
    if known != _UNKNOWN_NAMESPACE:
        return (known, False) if known else None
    uri, local = _split_tag(tag)
    given = (element.prefix or "").lower()
    if not uri or not given or given in KNOWN_PREFIXES or element.attrib:
        return None
    return f"{given}_{local.lower()}", True  # an unknown extension: feedparser stores it


@functools.lru_cache(maxsize=1024)  # a few dozen distinct tags cover nearly every feed
def _known_name(tag: str, namespace: str) -> str:
    """feedparser's name for an element of a namespace the fast path knows, "" for an
    element it does not read, or ``_UNKNOWN_NAMESPACE``."""
    uri, local = _split_tag(tag)
    if ":" in local or not local.replace("-", "").replace("_", "").isalnum():
        return ""  # an undeclared prefix, or a name feedparser would mangle
    if not local.isascii():
        # lxml takes the name characters of XML 1.0's fifth edition; feedparser's expat
        # refuses many of them (U+02B0, U+1200...) and reads the document leniently.
        return ""
    if uri == namespace:
        return local.lower()
    if uri == ATOM:
        return f"atom_{local.lower()}"
    prefix = _PREFIXES.get(uri.lower())
    if prefix is not None:
        return f"{prefix}_{local.lower()}"
    return _UNKNOWN_NAMESPACE


def _split_tag(tag: str) -> tuple[str, str]:
    """The namespace URI ("" for none) and local name of an lxml tag."""
    if tag[:1] == "{":
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def _only_whitespace(element: etree._Element) -> bool:
    """No text of its own besides whitespace between children (no mixed content)."""
    if element.text and element.text.strip():
        return False
    return all(not (child.tail and child.tail.strip()) for child in element)


# --- feedparser's result, by feedparser's rules -----------------------------------------


def _rss_result(document: Document) -> dict[str, Any]:
    if not document.version.startswith("2."):
        raise _Unsure
    feed: dict[str, Any] = {}
    for node in _once_each(document.head):
        _rss_head_node(feed, node)
    entries = []
    for nodes in document.entries:
        entry: dict[str, Any] = {}
        for node in _once_each(nodes):
            _rss_entry_node(entry, node)
        entries.append(entry)
    return {"version": "rss20", "bozo": 0, "feed": feed, "entries": entries}


def _rss_head_node(feed: dict[str, Any], node: Node) -> None:
    name = node.name
    if name == "title":
        _fp_title(feed, _leaf(node), None, guess_html=True)
    elif name == "link":
        feed["link"] = _FP_AMP_ENTITY.sub(r"&\g<1>", _fp_pop(_leaf(node).text, uri=True)[0])
    elif name in ("language", "dc_language"):
        feed["language"] = _fp_pop(_leaf(node).text)[0]
    elif name == "image":
        _bare(node)
        for part in node.children:
            if part.name not in _RSS_IMAGE_PARTS:
                raise _Unsure
            _leaf(part)
    elif name == "atom_link":
        _not_alternate(node)
    elif not (name in _RSS_HEAD_STORED or node.extension) or node.children:
        raise _Unsure


def _rss_entry_node(entry: dict[str, Any], node: Node) -> None:
    name = node.name
    if name == "title":
        _fp_title(entry, _leaf(node), None, guess_html=True)
    elif name == "description":
        value = _fp_pop(_leaf(node).text)[0]
        entry["summary"] = value
        entry["summary_detail"] = _fp_detail(value, "text/html", None)
    elif name == "content_encoded":
        value = _fp_pop(_leaf(node).text)[0]
        entry.setdefault("content", []).append(_fp_detail(value, "text/html", None))
        entry.setdefault("summary", value)
    elif name == "link":
        value = _fp_pop(_leaf(node).text, uri=True)[0].replace("&amp;", "&")
        entry["link"] = _FP_AMP_ENTITY.sub(r"&\g<1>", value)
    elif name == "guid":
        _fp_guid(entry, node)
    elif name in ("pubdate", "dc_date"):
        _fp_date_node(entry, "published" if name == "pubdate" else "updated", node)
    elif name in ("author", "dc_creator"):
        entry["author"] = _fp_pop(_leaf(node).text)[0]
    elif name == "atom_link":
        _not_alternate(node)
    elif name == "source":
        _fp_source(entry, node)
    elif name == BING_SOURCE and node.extension:
        entry[name] = _fp_pop(node.text)[0]
    elif not (name in _RSS_ENTRY_STORED or node.extension) or node.children:
        raise _Unsure


def _atom_result(document: Document) -> dict[str, Any]:
    language = document.language.replace("_", "-") if document.language else None
    feed: dict[str, Any] = {"language": language} if language else {}
    for node in _once_each(document.head, _FP_ATOM_ONCE):
        _atom_node(feed, node, language, _ATOM_HEAD_STORED)
    entries = []
    for nodes in document.entries:
        entry: dict[str, Any] = {}
        for node in _once_each(nodes, _FP_ATOM_ONCE):
            _atom_node(entry, node, language, _ATOM_STORED)
        entries.append(entry)
    return {"version": "atom10", "bozo": 0, "feed": feed, "entries": entries}


def _atom_node(
    context: dict[str, Any], node: Node, language: str | None, stored: frozenset[str]
) -> None:
    name = node.name
    if name == "title":
        _fp_title(context, _leaf(node, "type"), language, guess_html=False)
    elif name in ("summary", "content"):
        leaf = _leaf(node, "type")
        content_type = _fp_text_type(leaf)
        value = _fp_pop(leaf.text)[0]
        if name == "summary":
            context["summary"] = value
            context["summary_detail"] = _fp_detail(value, content_type, language)
        else:
            context.setdefault("content", []).append(_fp_detail(value, content_type, language))
            context.setdefault("summary", value)
    elif name == "link":
        _fp_atom_link(context, node)
    elif name == "id":
        _fp_guid(context, node)
    elif name in ("published", "updated") and name not in stored:
        _fp_date_node(context, name, node)
    elif name == "author":
        _fp_atom_author(context, node)
    elif not (name in stored or node.extension) or node.children:
        raise _Unsure


def _once_each(nodes: Iterable[Node], once: frozenset[str] = _FP_ONCE) -> Iterator[Node]:
    """The nodes, refusing a second one of the elements whose repeats are not modelled."""
    seen: set[str] = set()
    for node in nodes:
        slot = _FP_SLOTS.get(node.name, node.name)
        if slot in once:
            if slot in seen:
                raise _Unsure
            seen.add(slot)
        yield node


def _leaf(node: Node, *allowed: str) -> Node:
    if node.children or set(node.attributes) - set(allowed):
        raise _Unsure
    return node


def _bare(node: Node) -> None:
    if node.attributes or node.text.strip():
        raise _Unsure


def _not_alternate(node: Node) -> None:
    """An Atom link in RSS that feedparser would not take as the item's or feed's link."""
    leaf = _leaf(node, *_LINK_ATTRIBUTES)
    if "href" not in leaf.attributes or leaf.attributes.get("rel", "").lower() in ("", "alternate"):
        raise _Unsure


def _fp_pop(text: str, *, uri: bool = False, guess_html: bool = False) -> tuple[str, bool]:
    """What feedparser's ``pop`` makes of an element's text, and whether it took plain
    text for HTML: stripped, a URI's slashes fixed, mis-decoded UTF-8 repaired and C1
    controls mapped to their cp1252 characters."""
    output = text.strip()
    if uri and ":///" in output:  # joined with feedparser's empty base: extra slashes go
        output = FP_URI_FIXER.sub(r"\1\3", output)
    is_html = guess_html and _fp_looks_like_html(output)
    if output.isascii():  # neither the repair nor the cp1252 mapping changes ASCII
        return output, is_html
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        output = output.encode("iso-8859-1").decode("utf-8")
    return output.translate(FP_CP1252), is_html


def _fp_looks_like_html(text: str) -> bool:
    # feedparser wants a close tag or an entity before looking any further.
    return ("<" in text or "&" in text) and bool(fp_looks_like_html(text))


def _fp_detail(value: str, content_type: str, language: str | None) -> dict[str, Any]:
    return {"type": content_type, "language": language, "base": "", "value": value}


def _fp_title(
    context: dict[str, Any], node: Node, language: str | None, *, guess_html: bool
) -> None:
    content_type = _fp_text_type(node)
    value, is_html = _fp_pop(node.text, guess_html=guess_html and content_type == "text/plain")
    context["title"] = value
    context["title_detail"] = _fp_detail(value, "text/html" if is_html else content_type, language)


def _fp_text_type(node: Node) -> str:
    declared = node.attributes.get("type", "text/plain")
    content_type = str(fp_map_content_type(declared))
    if content_type not in _FP_TEXT_TYPES:
        raise _Unsure
    return content_type


def _fp_guid(context: dict[str, Any], node: Node) -> None:
    """A guid (or Atom id): feedparser takes a permalink guid as the link when no link
    came before it."""
    leaf = _leaf(node, "ispermalink")
    permalink = leaf.attributes.get("ispermalink", "true") == "true"
    value = _fp_pop(leaf.text, uri=permalink)[0]
    context["id"] = value
    context.setdefault("guidislink", permalink and "link" not in context)
    if permalink:
        context.setdefault("link", value)


def _fp_source(entry: dict[str, Any], node: Node) -> None:
    """RSS's <source url="...">name</source>: the channel an item came from (for a news
    aggregator, its publisher); feedparser keeps the last one."""
    if node.children:
        raise _Unsure
    source = {"href": node.attributes["url"]} if "url" in node.attributes else {}
    value = _fp_pop(node.text)[0]
    if value:
        source["title"] = value
    entry["source"] = source


def _fp_date_node(context: dict[str, Any], key: str, node: Node) -> None:
    value = _fp_pop(_leaf(node).text)[0]
    context[key] = value
    context[f"{key}_parsed"] = _fp_date_parsed(value)


def _fp_date_parsed(value: str) -> datetime | time.struct_time | None:
    """feedparser's reading of a date: its own parser, which tries a dozen formats in
    turn and gives a struct_time, unless the date is in one of the two common forms,
    read directly here into the same moment as a UTC datetime."""
    with contextlib.suppress(ValueError, OverflowError):
        if rfc822 := _RFC822_DATE.fullmatch(value):
            return _fp_rfc822_date(*rfc822.groups())
        if w3dtf := _W3DTF_DATE.fullmatch(value):
            return _fp_w3dtf_date(*w3dtf.groups())
    parsed: time.struct_time | None = fp_parse_date(value)
    return parsed


def _fp_rfc822_date(
    day: str, month: str, year: str, hour: str, minute: str, second: str, zone: str
) -> datetime:
    """What feedparser's RFC 822 parser makes of a date its W3DTF parser (tried first)
    cannot read: as its unknown zone names, an unknown name counts as UTC."""
    zone = zone.lower()
    if zone.startswith("gmt"):
        raise ValueError(zone)  # rare forms such as GMT+2: feedparser reads them
    if zone[0] in "+-":
        sign = -1 if zone[0] == "-" else 1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[3:]) * 60)
    else:
        offset = FP_RFC822_ZONES.get(zone, 0) * 3600
    month_number = _FP_MONTHS[month.lower()]
    stamp = datetime(
        int(year), month_number, int(day), int(hour), int(minute), int(second), tzinfo=UTC
    )
    return stamp - timedelta(0, offset)


def _fp_w3dtf_date(
    year: str, month: str, day: str, hour: str, minute: str, second: str, zone: str | None
) -> datetime:
    """What feedparser's W3DTF parser makes of an ISO 8601 date and time (the fraction
    of a second dropped, the offset's minutes read from its fifth character on)."""
    offset = 0
    if zone and zone[0] in "+-":
        sign = -1 if zone[0] == "-" else 1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:]) * 60)
    stamp = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(float(second)), tzinfo=UTC
    )
    return stamp - timedelta(0, offset)


def _fp_atom_link(context: dict[str, Any], node: Node) -> None:
    attributes = _leaf(node, *_LINK_ATTRIBUTES).attributes
    if "href" not in attributes:
        raise _Unsure
    rel = attributes.get("rel", "alternate").lower()
    default_type = "application/atom+xml" if rel == "self" else "text/html"
    content_type = fp_map_content_type(attributes.get("type", default_type).lower())
    if rel == "alternate" and content_type in _FP_HTML_TYPES:
        context["link"] = FP_URI_FIXER.sub(r"\1\3", attributes["href"])


def _fp_atom_author(context: dict[str, Any], node: Node) -> None:
    """An Atom author: feedparser joins its name and email ("Name (email)")."""
    if not node.children:
        context["author"] = _fp_pop(_leaf(node).text)[0]
        return
    _bare(node)
    parts: dict[str, str] = {}
    for part in node.children:
        if part.name not in _ATOM_AUTHOR_PARTS or part.name in parts:
            raise _Unsure
        parts[part.name] = _leaf(part).text.strip()
    name, email = parts.get("name"), parts.get("email")
    context["author"] = f"{name} ({email})" if name and email else name or email or ""
