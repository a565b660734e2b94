"""Plain text from a feed's text constructs: HTML to text, control characters out,
spaces tidied, length capped.

Owns ``plain_text`` and ``longest_text``. Simple markup (plain start and end tags)
is read with one regular expression; anything else with the standard library's
HTMLParser, which gives the same text (block elements end a line; scripts, styles
and the like are skipped). Markup escaped twice (``&lt;p&gt;`` in CDATA) is read
twice.

Must not: render or sanitise HTML for display, follow links, or import a third-party
library.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from html.parser import HTMLParser

from tracker.parse.records import RAW_MARKUP_FACTOR, Text

# Tags whose text is not content, and tags that end a paragraph or line.
_SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title"})
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 "
    "h5 h6 header hr li main nav ol p pre section table td th tr ul".split()
)
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # \t \n \v \f \r are spaces
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])  # the same, in ASCII
_LEFTOVER_TAG = re.compile(
    r"</?(?:a|b|i|em|strong|p|br|div|span|img|ul|ol|li|h[1-6]|table|tr|td|blockquote|figure)"
    r"\b[^<>]{0,500}>",
    re.IGNORECASE,
)
# A start or end tag in its plainest form: a name of letters and digits, then attributes,
# each a name with a quoted value or none. Every Python version's HTMLParser reads such
# a tag the same way, as it does the text between tags (character references resolved).
_TAG_SPACE = "[ \t\n\r\f]"
_SIMPLE_TAG = re.compile(
    rf"<(?:/([A-Za-z][A-Za-z0-9]*){_TAG_SPACE}*"
    rf"|([A-Za-z][A-Za-z0-9]*)"
    rf"(?:{_TAG_SPACE}+[A-Za-z_:][-A-Za-z0-9_:.]*"
    rf"(?:{_TAG_SPACE}*={_TAG_SPACE}*(?:\"[^\"]*\"|'[^']*'))?)*"
    rf"{_TAG_SPACE}*(/?))>"
)
# Tags left to HTMLParser: skipped content, and content some Python version's
# HTMLParser reads as raw text.
_UNSURE_TAGS = _SKIPPED_TAGS | frozenset(
    "script style title textarea xmp iframe noembed noframes noscript plaintext".split()
)
_LINE_BREAK_TAGS = dict.fromkeys(_BLOCK_TAGS, "\n")


def longest_text(texts: Iterable[Text], max_chars: int) -> tuple[str, bool]:
    results = [plain_text(text, max_chars) for text in texts]
    return max(results, key=lambda result: len(result[0]), default=("", False))


def plain_text(text: Text, max_chars: int, *, single_line: bool = False) -> tuple[str, bool]:
    """Plain text of a text construct, capped at ``max_chars``; True when it was cut."""
    raw_cap = max_chars * RAW_MARKUP_FACTOR
    value, cut = text.value[:raw_cap], len(text.value) > raw_cap
    if text.is_html:
        value = _html_to_text(value)
        if "<" in value and _LEFTOVER_TAG.search(value):  # escaped twice: &lt;p&gt; in CDATA
            value = _html_to_text(value)
    value = _tidy(value, single_line=single_line)
    return value[:max_chars].rstrip(), cut or len(value) > max_chars


def _tidy(value: str, *, single_line: bool) -> str:
    """Without control characters, each run of spaces one space; unless ``single_line``,
    line breaks kept, but neither blank lines nor spaces around line breaks."""
    value = _without_control_chars(value)
    if single_line:
        return " ".join(value.split())
    lines = (" ".join(line.split()) for line in value.split("\n"))
    return "\n".join(line for line in lines if line)


def _without_control_chars(value: str) -> str:
    if value.isascii():  # most text: a byte-level check is several times faster
        data = value.encode("ascii")
        if len(data.translate(None, _CONTROL_BYTES)) == len(data):
            return value
    return CONTROL_CHARS.sub("", value)


def _html_to_text(markup: str) -> str:
    """The text of an HTML fragment as ``_TextExtractor`` gives it; simple markup is read
    with one regular expression instead, which gives the same text several times faster."""
    if "<" not in markup:
        return html.unescape(markup) if "&" in markup else markup
    text = _simple_html_to_text(markup)
    return text if text is not None else _extracted_text(markup)


def _simple_html_to_text(markup: str) -> str | None:
    """The text of markup made only of plain start and end tags (no comments, no stray
    "<", none of the elements whose content is skipped or read as raw text), or None."""
    # split() gives text, end tag name, start tag name, "/" of <br/>, text, ...
    pieces = _SIMPLE_TAG.split(markup)
    texts = pieces[::4]
    if any("<" in text for text in texts):
        return None
    names = [(end or start).lower() for end, start in zip(pieces[1::4], pieces[2::4], strict=True)]
    if not _UNSURE_TAGS.isdisjoint(names):
        return None
    # <br/> is a start tag and an end tag to HTMLParser: two line breaks.
    breaks = [
        _LINE_BREAK_TAGS.get(name, "") * (2 if slash else 1)
        for name, slash in zip(names, pieces[3::4], strict=True)
    ]
    parts = [html.unescape(text) if "&" in text else text for text in texts]
    joined: list[str] = [""] * (len(parts) + len(breaks))
    joined[::2] = parts
    joined[1::2] = breaks
    return "".join(joined)


def _extracted_text(markup: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return "".join(extractor.parts)


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, with line breaks at block boundaries."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)
