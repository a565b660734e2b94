"""Response bytes to text, and the checks on that text before any XML parser sees it.

Owns ``decode``: the charset of a body (a BOM or the byte pattern of the first
characters, else valid UTF-8, else mostly-UTF-8 repaired, else the declared
charset, else windows-1252), with warnings saying how it was settled. Owns the
refusal of documents declaring XML entities (the defence against expansion bombs)
and the removal of characters XML does not allow.

Must not: parse XML or JSON, import feedparser or lxml, or do I/O.
"""

from __future__ import annotations

import codecs
import re

from tracker.errors import ErrorKind, ParseError
from tracker.parse.records import UTF8_REPAIR_RATIO

_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_XML_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# The same characters in UTF-8: the C0 controls are single bytes (never part of a
# multi-byte sequence), U+FFFE and U+FFFF three bytes each.
_XML_ILLEGAL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_XML_ILLEGAL_NONCHARACTERS = ("\ufffe".encode(), "\uffff".encode())
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_EBCDIC_XML_DECL = b"\x4c\x6f\xa7\x94"  # "<?xm" in cp037
# Which of the first four bytes are zero, for "<?" or "{" in UTF-16/32 without a BOM.
_ZERO_BYTE_PATTERNS = {
    (False, True, False, True): "utf-16-le",
    (True, False, True, False): "utf-16-be",
    (False, True, True, True): "utf-32-le",
    (True, True, True, False): "utf-32-be",
}
# Declared names that really mean another codec (what browsers do too).
_CODEC_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso-8859-1": "windows-1252",
    "latin-1": "windows-1252",
    "latin1": "windows-1252",
    "us-ascii": "windows-1252",
    "ascii": "windows-1252",
}
_FALLBACK_CODEC = "windows-1252"


def decode(body: bytes, content_type: str) -> tuple[str, tuple[str, ...]]:
    """The body as text, and warnings about how its charset was settled."""
    sniffed = _sniff_codec(body)
    if sniffed is not None:
        return _decode_as(body, sniffed)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_non_utf8(body, content_type)
    declared = _declared_codecs(body, content_type)
    if declared and not declared[0].startswith("utf-8") and not body.isascii():
        return text, (f"body is valid UTF-8 although declared as {declared[0]}; read as UTF-8",)
    return text, ()


def _sniff_codec(body: bytes) -> str | None:
    """The codec a BOM or the byte pattern of the first characters gives away."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec
    if body.startswith(_EBCDIC_XML_DECL):
        return "cp037"
    if len(body) < 4:
        return None
    return _ZERO_BYTE_PATTERNS.get((body[0] == 0, body[1] == 0, body[2] == 0, body[3] == 0))


def _decode_as(body: bytes, codec: str) -> tuple[str, tuple[str, ...]]:
    try:
        return body.decode(codec).lstrip("\ufeff"), ()
    except UnicodeDecodeError:
        text = body.decode(codec, errors="replace").lstrip("\ufeff")
        return text, (f"body is not valid {codec}; undecodable bytes replaced",)


def _decode_non_utf8(body: bytes, content_type: str) -> tuple[str, tuple[str, ...]]:
    """Decode a body that is not valid UTF-8: mostly-UTF-8, else its declared charset."""
    repaired = _repair_utf8(body)
    if repaired is not None:
        return repaired
    declared = _declared_codecs(body, content_type)
    legacy = [codec for codec in declared if not _is_unicode(codec)]
    for codec in legacy:
        try:
            return body.decode(codec), ()
        except UnicodeDecodeError:
            continue
    if legacy:
        return _decode_as(body, legacy[0])
    text, found = _decode_as(body, _FALLBACK_CODEC)
    if declared:
        found = (f"body is not {declared[0]} as declared; read as {_FALLBACK_CODEC}", *found)
    return text, found


def _repair_utf8(body: bytes) -> tuple[str, tuple[str, ...]] | None:
    """UTF-8 text with a few bad bytes replaced, or None when it is not mostly UTF-8.

    Legacy single-byte text is almost never valid UTF-8, so when valid multi-byte
    characters far outnumber the bad bytes, the bad bytes are damage, not a charset.
    """
    repaired = body.decode("utf-8", errors="replace")
    bad = repaired.count("\ufffd") - body.count("\ufffd".encode())
    valid = len(repaired) - len(repaired.encode("ascii", "ignore")) - repaired.count("\ufffd")
    if valid < UTF8_REPAIR_RATIO * bad:
        return None
    return repaired, (f"replaced {bad} invalid UTF-8 byte sequence(s)",)


def _declared_codecs(body: bytes, content_type: str) -> list[str]:
    """Python codec names declared by the Content-Type header, then the XML declaration."""
    names = []
    if header_match := _CHARSET_PARAM.search(content_type):
        names.append(header_match.group(1))
    if xml_match := _XML_ENCODING.match(body[:1024]):
        names.append(xml_match.group(1).decode("ascii"))
    codecs_found = (_python_codec(name) for name in names)
    return [codec for codec in codecs_found if codec is not None]


def _python_codec(name: str) -> str | None:
    name = _CODEC_ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _is_unicode(codec: str) -> bool:
    return codec.startswith("utf")


def looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] == "{"


# --- what XML may not hold ----------------------------------------------------------


def refuse_entity_declarations(text: str) -> None:
    """Refuse any document declaring entities: the cheap, sure defence against expansion bombs.

    The whole text is searched, not just the first bytes, so padding the prolog does not
    hide a declaration; a plain substring search takes milliseconds even on 15 MB.
    """
    entity_at = text.find("<!ENTITY")
    if entity_at >= 0 and text.find("<!DOCTYPE", 0, entity_at) >= 0:
        raise ParseError(
            "document declares XML entities in its DOCTYPE; refused (entity expansion risk)",
            kind=ErrorKind.ENTITIES,
        )


def without_illegal_xml_chars(text: str) -> tuple[str, bytes, int]:
    """The text without the characters XML does not allow, the same as UTF-8 bytes, and
    how many characters were removed."""
    data = text.encode("utf-8")
    if not _has_illegal_xml_chars(data):
        return text, data, 0
    text, illegal = _XML_ILLEGAL_CHARS.subn("", text)
    return text, text.encode("utf-8"), illegal


def _has_illegal_xml_chars(data: bytes) -> bool:
    # A byte-level check is several times faster than searching the text.
    if len(data.translate(None, _XML_ILLEGAL_BYTES)) != len(data):
        return True
    return any(noncharacter in data for noncharacter in _XML_ILLEGAL_NONCHARACTERS)
