"""URL normalisation: one canonical form per article link, and safe display.

Owns ``is_http_url`` (the one test of "is this an http(s) URL" that feeds,
redirects, links and alerts all pass), ``canonical_url`` (the form used to key
and de-duplicate items when a feed gives no guid) and the one credential
redactor, ``redact_url`` (the form written to logs, error messages and the
database: credentials stay in the config file; ``redact_text`` applies it to
every URL in a message). Pure stdlib string work: nothing here resolves names,
opens connections or reads files.

The canonical form keeps what identifies a page and drops what does not:
http(s) only, lower-case scheme and host, no default port, no credentials, no
fragment, and no tracking parameters (``TRACKING_PARAMS``). Other query
parameters keep their order and spelling; paths are left as the site wrote them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

# One table of query parameters that only say where a click came from.
# "name" drops the parameter whatever its value, "prefix*" drops every name
# starting with prefix, "name=value" drops the parameter only with that value
# (for names that are meaningful elsewhere). Names match case-insensitively.
TRACKING_PARAMS: tuple[str, ...] = (
    "utm_*",
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "ocid",
    "cmpid",
    "cmp",
    "intcmp",
    "at_medium",
    "at_campaign",
    "at_link_type",
    "at_link_origin",
    "at_format",
    "at_ptr_name",
    "ns_mchannel",
    "ns_source",
    "ns_campaign",
    "ns_linkname",
    "ns_fee",
    "rss",
    "ito",
    "xtor",
    "wt_mc",
    "wprss",
    "emc",
    "smid",
    "ref_src",
    "ref=rss",
    "partner=rss",
)

# Query parameters whose values are secrets; redacted for display.
SECRET_PARAMS: tuple[str, ...] = (
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "key",
    "password",
    "secret",
    "sig",
    "signature",
    "token",
)

DEFAULT_PORTS = {"http": 80, "https": 443}
REDACTED = "***"

# An absolute http(s) link that resolving gives back as it is: a lower-case scheme, a
# plain host, a port too short to be out of range, no empty query or fragment, no path
# parameters (";"), nothing that urlsplit strips or removes (whitespace, control
# characters). Most links are.
_PLAIN_HTTP_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,4})?(?:/[^\s;?#\x00-\x1f\x7f]*)?"
    r"(?:\?[^\s#\x00-\x1f\x7f]+)?(?:#[^\s\x00-\x1f\x7f]+)?"
)
# A link already in canonical form, but for its query's tracking parameters: a
# lower-case scheme and host, no port, a path, no empty query, no fragment.
_CANONICAL_HTTP_URL = re.compile(
    r"https?://[a-z0-9.-]+/[^\s;?#\x00-\x1f\x7f]*(?:\?([^\s#\x00-\x1f\x7f]+))?"
)
_SCHEME_NETLOC = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)(.*)$", re.DOTALL)
# A URL within free text (an error message): from its scheme to the next whitespace.
_URL_IN_TEXT = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://\S*")


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """The canonical http(s) form of ``url`` (resolved against ``base``), or None."""
    if url is None or not url.strip():
        return None
    if base is None and (plain := _CANONICAL_HTTP_URL.fullmatch(url.strip())):
        query = plain.group(1)
        if query is None or _drop_tracking(query) == query:
            return plain.group(0)  # what the steps below give, without their cost
    try:
        parts = _http_parts(_resolve(url.strip(), base))
    except ValueError:  # bad IPv6 brackets
        return None
    if parts is None or parts.hostname is None:
        return None
    netloc = _netloc(parts.hostname, parts.port, parts.scheme)
    query = _drop_tracking(parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path or "/", query, ""))


def redact_url(url: str) -> str:
    """``url`` with any user:password@ and secret query values replaced by ``***``."""
    match = _SCHEME_NETLOC.match(url)
    if match is None:
        return url
    prefix, netloc, rest = match.groups()
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    return prefix + netloc + _redact_secrets(rest)


def redact_text(text: str) -> str:
    """``text`` (a message) with ``redact_url`` applied to every URL in it."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def secret_urls(urls: Iterable[str]) -> dict[str, str]:
    """The URLs that carry credentials, by the redacted form the database stores."""
    return {redact_url(url): url for url in urls if redact_url(url) != url}


def without_userinfo(url: str) -> str:
    """``url`` without its ``user:password@`` part, e.g. as a base for resolving links."""
    match = _SCHEME_NETLOC.match(url)
    if match is None or "@" not in match.group(2):
        return url
    prefix, netloc, rest = match.groups()
    return prefix + netloc.rpartition("@")[2] + rest


def absolute_url(url: str | None, base: str | None = None) -> str | None:
    """``url`` resolved against ``base`` and otherwise untouched, if it is http(s)."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    if _PLAIN_HTTP_URL.fullmatch(url) and (base is None or _usable_base(base)):
        return url  # what resolving gives, without its cost (most links, for every item)
    try:
        resolved = _resolve(url, base)
    except ValueError:  # bad IPv6 brackets in url or base
        return None
    return resolved if is_http_url(resolved) else None


@functools.lru_cache(maxsize=64)
def _usable_base(base: str) -> bool:
    """Whether resolving against ``base`` can work (it raises on bad IPv6 brackets);
    a feed's items share one base."""
    try:
        urlsplit(base.strip())
    except ValueError:
        return False
    return True


def is_http_url(url: str | None) -> bool:
    """True when ``url`` is an absolute http(s) URL with a host (and a valid port, if any).

    The scheme's case and surrounding whitespace do not matter, as for urllib.
    """
    if not url:
        return False
    try:
        return _http_parts(url.strip()) is not None
    except ValueError:  # bad IPv6 brackets
        return False


def _http_parts(url: str) -> SplitResult | None:
    """``url`` split, when it is an absolute http(s) URL with a host and a valid port."""
    parts = urlsplit(url)
    try:
        _ = parts.port  # raises ValueError when the port is not a number in range
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts


def _resolve(url: str, base: str | None) -> str:
    url = url.replace(" ", "%20")
    return urljoin(base.strip(), url) if base else url


def _netloc(host: str, port: int | None, scheme: str) -> str:
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return host
    return f"{host}:{port}"


def _drop_tracking(query: str) -> str:
    kept = [p for p in query.split("&") if p and not _is_tracking(p)]
    return "&".join(kept)


def _is_tracking(param: str) -> bool:
    name, _, value = param.partition("=")
    name, value = name.lower(), value.lower()
    for pattern in TRACKING_PARAMS:
        if pattern.endswith("*"):
            if name.startswith(pattern[:-1]):
                return True
        elif "=" in pattern:
            if pattern == f"{name}={value}":
                return True
        elif name == pattern:
            return True
    return False


def _redact_secrets(rest: str) -> str:
    path, sep, query = rest.partition("?")
    if not sep:
        return rest
    query, hash_sep, fragment = query.partition("#")
    params = [_redact_param(p) for p in query.split("&")]
    return f"{path}?{'&'.join(params)}{hash_sep}{fragment}"


def _redact_param(param: str) -> str:
    name, sep, value = param.partition("=")
    if sep and value and name.lower() in SECRET_PARAMS:
        return f"{name}={REDACTED}"
    return param
