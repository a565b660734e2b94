"""Fetching feeds over HTTP: the only module that imports httpx.

Owns one shared ``httpx.AsyncClient`` and everything about talking to servers
politely and safely: the global and per-host concurrency limits, timeouts and
an overall deadline per fetch, manual redirects (with an address guard against
server-side request forgery), conditional GET, streaming decompression capped
on decoded bytes, and the mapping of every per-feed failure to a ``FetchResult``
whose ``error_kind`` is an ``ErrorKind``.

It must not parse feeds, touch the database or decide when to poll next, and it
never raises for a per-feed problem: such problems come back as results.
Unexpected exceptions (bugs) propagate.

Known limit of the address guard: the host is resolved for the check and again
by httpx for the connection, so a hostile DNS server could answer differently
the second time (DNS rebinding). Pinning the address would need per-hostname
TLS handling that httpx's pool does not key on, so it is not done here.

Its collaborators can be handed in (tests do): the transport under the client,
the resolver the address guard asks, and the clock that dates a response without
a ``Date`` header. The defaults are the network, the system's resolver and the
UTC wall clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import re
import socket
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urlsplit

import httpx

from tracker import USER_AGENT
from tracker.errors import ErrorKind, FeedGone, FetchError, one_line
from tracker.models import FetchRequest, FetchResult, Settings
from tracker.urls import is_http_url, redact_text

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# The addresses a host name resolves to, given the port: the address guard's view.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
Clock = Callable[[], datetime]

# Tunables and protocol constants, in one place.
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
ACCEPT_ENCODING = "gzip, deflate"  # only what we can decompress in bounded steps
MAX_RETRY_AFTER = 86400.0  # a server cannot park a feed for more than a day
DECODE_STEP = 64 * 1024  # most decoded bytes produced per decompression call
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_STATUSES = frozenset({301, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_INFLATE_WBITS = {
    "gzip": zlib.MAX_WBITS | 32,  # 32: accept a gzip or a zlib header
    "x-gzip": zlib.MAX_WBITS | 32,
    "deflate": zlib.MAX_WBITS,  # zlib-wrapped; raw deflate is the fallback
}
_UNSUPPORTED_CODINGS = frozenset({"br", "zstd", "compress", "x-compress"})
_FRAMING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_MAX_AGE = re.compile(r"(?i)(?:^|[,\s])max-age\s*=\s*\"?(\d+)")


class Fetcher:
    """Owns one shared httpx.AsyncClient; use as ``async with Fetcher(settings) as f``.

    ``transport`` replaces the network under the client (e.g. ``httpx.MockTransport``),
    ``resolver`` the name resolution the address guard checks, ``clock`` the time a
    response without a ``Date`` header is taken to be from. An injected transport does
    not switch the guard off: every hop's host is still resolved with ``resolver`` and
    refused as the policy says, so a test with made-up host names hands in a resolver
    that knows them (the system's would look them up).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._settings = settings
        self._client = _new_client(settings, transport)
        self._resolve: Resolver = resolver or resolve_host
        self._clock: Clock = clock or _utc_now
        self._slots = asyncio.Semaphore(max(1, settings.concurrency))
        self._host_slots: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch one feed within the limits; failures come back as the result's error."""
        if not is_http_url(request.url):
            message = f"not an http(s) URL: {redact_text(request.url)}"
            return _failure(request, request.url, FetchError(message, kind=ErrorKind.URL))
        async with self._host_slot(request.url), self._slots:
            started = time.monotonic()
            result = await self._fetch_before_deadline(request)
        log.debug(
            "fetched url=%s status=%s error_kind=%s",
            redact_text(request.url),
            result.status,
            result.error_kind,
        )
        return replace(result, elapsed=time.monotonic() - started)

    async def fetch_many(self, requests: Sequence[FetchRequest]) -> AsyncIterator[FetchResult]:
        """Yield one result per request, in the order they complete."""
        tasks = [asyncio.create_task(self.fetch(request)) for request in requests]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        host = urlsplit(url).hostname or ""
        if host not in self._host_slots:
            self._host_slots[host] = asyncio.Semaphore(max(1, self._settings.per_host))
        return self._host_slots[host]

    async def _fetch_before_deadline(self, request: FetchRequest) -> FetchResult:
        trail = [request.url]  # every URL visited; the last is the one that failed
        deadline = self._settings.deadline
        try:
            async with asyncio.timeout(deadline):
                return await self._follow(request, trail)
        except TimeoutError:
            message = f"no complete response within {deadline:g} s"
            error = FetchError(message, kind=ErrorKind.TIMEOUT)
        except FetchError as exc:
            error = exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = _wrap_httpx_error(exc)
        except OSError as exc:  # name resolution in the address guard
            error = FetchError(f"cannot resolve host: {exc}", kind=ErrorKind.CONNECT)
        return _failure(request, trail[-1], error)

    async def _follow(self, request: FetchRequest, trail: list[str]) -> FetchResult:
        all_permanent = True
        after_private = False
        headers = conditional_headers(request)
        for hop in range(self._settings.max_redirects + 1):
            url = httpx.URL(trail[-1])
            first = request.configured and hop == 0
            after_private = await self._guard(url, configured=first, after_private=after_private)
            async with self._client.stream("GET", url, headers=headers) as response:
                target = _redirect_target(response)
                if target is None:
                    permanent = all_permanent and hop > 0
                    return await self._conclude(request, response, permanent=permanent)
            all_permanent = all_permanent and response.status_code in _PERMANENT_STATUSES
            trail.append(target)
        limit = self._settings.max_redirects
        raise FetchError(f"more than {limit} redirects", kind=ErrorKind.REDIRECTS)

    async def _guard(self, url: httpx.URL, *, configured: bool, after_private: bool) -> bool:
        """Refuse addresses the policy forbids; return whether this hop's host is private."""
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await self._resolve(url.host, port)
        refusal = address_refusal(
            addresses,
            configured=configured,
            after_private=after_private,
            allow_private=self._settings.allow_private,
        )
        if refusal:
            raise FetchError(f"refused {url.host}: {refusal}", kind=ErrorKind.BLOCKED)
        return any(address_class(address) == "private" for address in addresses)

    async def _conclude(
        self, request: FetchRequest, response: httpx.Response, *, permanent: bool
    ) -> FetchResult:
        status = response.status_code
        headers = kept_headers(response.headers)
        final_url = str(response.url)
        now = _http_date(headers.get("date")) or self._clock()  # the server's clock first
        error = status_error(status, response.reason_phrase, headers, now)
        if error is not None:
            return replace(_failure(request, final_url, error), headers=headers)
        result = FetchResult(
            url=request.url,
            final_url=final_url,
            status=status,
            headers=headers,
            etag=headers.get("etag") or (request.etag if status == 304 else None),
            last_modified=headers.get("last-modified")
            or (request.last_modified if status == 304 else None),
            permanent_redirect=final_url if permanent else None,
            max_age=freshness_lifetime(headers, now),
        )
        if status == 304:
            return replace(result, not_modified=True)
        body = await _read_body(response, self._settings.max_bytes)
        return _with_body(result, body, request.previous_hash)


def conditional_headers(request: FetchRequest) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the stored validators (printable ASCII only)."""
    pairs = (("If-None-Match", request.etag), ("If-Modified-Since", request.last_modified))
    return {name: value for name, value in pairs if value and _is_header_safe(value)}


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Response headers with lower-case names, minus those describing the encoded body."""
    kept = {name.lower(): value for name, value in headers.items()}
    return {name: value for name, value in kept.items() if name not in _FRAMING_HEADERS}


def status_error(
    status: int, reason: str, headers: Mapping[str, str], now: datetime
) -> FetchError | None:
    """The error a final (non-redirect) status means, or None for 2xx and 304."""
    if 200 <= status < 300 or status == 304:
        return None
    message = f"HTTP {status} {_phrase(status, reason)}".strip()
    if status == 410:
        return FeedGone(message, kind=ErrorKind.GONE, status=status)
    retry_after = None
    if status in _RETRY_AFTER_STATUSES:
        retry_after = retry_after_seconds(headers.get("retry-after"), now)
    return FetchError(message, kind=ErrorKind.HTTP, status=status, retry_after=retry_after)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value), int(MAX_RETRY_AFTER)))
    when = _http_date(value)
    if when is None:
        return None
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER)


def freshness_lifetime(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds the response stays fresh, from Cache-Control max-age or else Expires."""
    match = _MAX_AGE.search(headers.get("cache-control", ""))
    if match:
        return float(match.group(1))
    expires = headers.get("expires")
    if expires is None:
        return None
    when = _http_date(expires)
    if when is None:  # an invalid Expires (often "0" or "-1") means already stale
        return 0.0
    return max((when - now).total_seconds(), 0.0)


def address_class(address: IPAddress) -> str:
    """'forbidden' (link-local, metadata, multicast), 'private' (not global) or 'public'."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES or address.is_link_local or address.is_multicast:
        return "forbidden"
    return "public" if address.is_global else "private"


def address_refusal(
    addresses: Sequence[IPAddress], *, configured: bool, after_private: bool, allow_private: bool
) -> str | None:
    """Why a hop to these addresses is refused, or None when it is allowed.

    Link-local and metadata addresses are always refused. Private and loopback
    addresses are allowed only when ``allow_private`` is on and the user
    configured the URL or the redirect came from a private address already.
    """
    classes = {address: address_class(address) for address in addresses}
    forbidden = [str(a) for a, kind in classes.items() if kind == "forbidden"]
    if forbidden:
        return f"{forbidden[0]} is a link-local or metadata address"
    private = [str(a) for a, kind in classes.items() if kind == "private"]
    if not private:
        return None
    if not allow_private:
        return f"{private[0]} is a private address and allow_private is off"
    if configured or after_private:
        return None
    return f"redirect from a public address to the private address {private[0]}"


def user_agent(settings: Settings) -> str:
    """The configured User-Agent, else tracker's own with the operator's contact:
    ``tracker/0.1.0 (+https://example.org/about)`` or ``tracker/0.1.0 (mailto:me@example.org)``."""
    if settings.user_agent:
        return settings.user_agent
    contact = settings.contact.strip()
    if not contact:
        return USER_AGENT
    return f"{USER_AGENT} ({'+' + contact if is_http_url(contact) else 'mailto:' + contact})"


def _new_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    concurrency = max(1, settings.concurrency)
    return httpx.AsyncClient(
        headers={
            "User-Agent": user_agent(settings),
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        },
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.connect_timeout,
        ),
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        follow_redirects=False,
        transport=transport,
        # Proxies from the environment would resolve names out of the guard's sight.
        trust_env=False,
        # Feeds are independent: no cookie set by one may reach another.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _redirect_target(response: httpx.Response) -> str | None:
    """The absolute URL a redirect points to, or None when this is the final response."""
    location = response.headers.get("location")
    if response.status_code not in _REDIRECT_STATUSES or not location:
        return None
    target = str(response.url.join(location.strip()).copy_with(fragment=None))
    if not is_http_url(target):
        message = f"redirect to a non-http(s) URL: {redact_text(target)}"
        raise FetchError(message, kind=ErrorKind.REDIRECTS)
    return target


def _with_body(result: FetchResult, body: bytes, previous_hash: str | None) -> FetchResult:
    if not body:
        error = f"HTTP {result.status} with an empty body"
        return replace(result, error_kind=ErrorKind.EMPTY, error=error)
    digest = hashlib.sha256(body).hexdigest()
    if digest == previous_hash:
        return replace(result, content_hash=digest, not_modified=True)
    return replace(result, content_hash=digest, body=body)


async def _read_body(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, failing as soon as it grows past ``limit`` bytes."""
    inflaters = _inflaters(response.headers.get("content-encoding", ""))
    if not inflaters:
        _check_declared_length(response.headers.get("content-length"), limit)
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            for piece in _decode(inflaters, chunk):
                body += piece
                _check_size(len(body), limit)
        for piece in _flush(inflaters):
            body += piece
            _check_size(len(body), limit)
    except zlib.error as exc:
        raise FetchError(f"cannot decompress the body: {exc}", kind=ErrorKind.PROTOCOL) from None
    return bytes(body)


def _check_declared_length(content_length: str | None, limit: int) -> None:
    if content_length and content_length.strip().isdigit():
        _check_size(int(content_length), limit)


def _check_size(size: int, limit: int) -> None:
    if size > limit:
        raise FetchError(f"body larger than {limit} bytes", kind=ErrorKind.TOO_LARGE)


class _Inflater:
    """Decompresses gzip or deflate producing at most DECODE_STEP bytes per step.

    httpx's decoders inflate a whole network chunk at once, so a few kilobytes
    of a gzip bomb could become gigabytes before any size check; this cannot.
    """

    def __init__(self, coding: str) -> None:
        self._inflate = zlib.decompressobj(_INFLATE_WBITS[coding])
        self._may_fall_back = coding == "deflate"  # some servers send raw deflate

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            out = self._step(data)
            data = self._inflate.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < DECODE_STEP:  # input used up, nothing pending
                return

    def flush(self) -> bytes:
        return self._inflate.flush()

    def _step(self, data: bytes) -> bytes:
        try:
            out = self._inflate.decompress(data, DECODE_STEP)
        except zlib.error:
            if not self._may_fall_back:
                raise
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflate.decompress(data, DECODE_STEP)
        self._may_fall_back = False
        return out


def _inflaters(content_encoding: str) -> list[_Inflater]:
    """Decoders in the order to apply them (the reverse of the header's order)."""
    codings = [coding.strip().lower() for coding in content_encoding.split(",")]
    unsupported = [coding for coding in codings if coding in _UNSUPPORTED_CODINGS]
    if unsupported:
        message = f"unsupported Content-Encoding {unsupported[0]}"
        raise FetchError(message, kind=ErrorKind.PROTOCOL)
    # Unknown labels (identity, or junk like "utf-8") pass through, as browsers do.
    return [_Inflater(coding) for coding in reversed(codings) if coding in _INFLATE_WBITS]


def _decode(inflaters: Sequence[_Inflater], data: bytes) -> Iterator[bytes]:
    if not inflaters:
        yield data
        return
    for piece in inflaters[0].feed(data):
        yield from _decode(inflaters[1:], piece)


def _flush(inflaters: Sequence[_Inflater]) -> Iterator[bytes]:
    for index, inflater in enumerate(inflaters):
        yield from _decode(inflaters[index + 1 :], inflater.flush())


def _failure(request: FetchRequest, final_url: str, error: FetchError) -> FetchResult:
    return FetchResult(
        url=request.url,
        final_url=final_url,
        status=error.status,
        retry_after=error.retry_after,
        error_kind=error.kind,
        error=one_line(redact_text(str(error) or error.kind)),
    )


def _wrap_httpx_error(exc: httpx.HTTPError | httpx.InvalidURL) -> FetchError:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(f"timed out ({type(exc).__name__})", kind=ErrorKind.TIMEOUT)
    if isinstance(exc, httpx.ProtocolError):
        return FetchError(f"broken HTTP response: {detail}", kind=ErrorKind.PROTOCOL)
    if isinstance(exc, httpx.NetworkError | httpx.ProxyError):
        return FetchError(f"connection failed: {detail}", kind=ErrorKind.CONNECT)
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return FetchError(f"invalid URL: {detail}", kind=ErrorKind.URL)
    return FetchError(f"HTTP failure: {detail}", kind=ErrorKind.PROTOCOL)


def _phrase(status: int, reason: str) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return reason


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _is_header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable()
