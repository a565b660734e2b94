"""The fast path for common feeds: lxml reads plain RSS 2.0 and Atom 1.0 documents.

Owns ``read_document``: the structure of a well-formed RSS 2.0 or Atom 1.0 document
made only of elements whose meaning to feedparser is known (titles, links, guids,
dates, authors, HTML descriptions and contents, categories, enclosures, a few
well-known extensions), as ``Node`` records named the way feedparser names them.
Anything else — a DOCTYPE, mixed or XHTML content, ``xml:base``, an extension
feedparser gives a meaning to, a document lxml finds malformed — makes it return
None, and feedparser reads the document as before: this module only ever says
"I am sure" or "I am not".

Must not: decide what an item's fields are (``parse`` does, with feedparser's own
rules), do I/O, or import feedparser. The only module importing lxml.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

from lxml import etree

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
        if key[0] == "{":  # xml:base, xml:lang, rdf:about...: left to feedparser
            return None
        attributes[key.lower()] = value
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
