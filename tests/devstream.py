"""The labeled development stream (tests/data/developments/stream.json) and its
scorer: B-cubed precision, recall and F1 of a grouping, alerts per development, and
the recall of the reports.

The stream is served day by day from a loopback server (``StreamServer``: each
outlet's feed has the items of the days so far), for a service polling once a day.
The scorer is a pure function of the labels and what tracker did.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from httpserver import LocalServer, Received, Reply

STREAM = Path(__file__).resolve().parent / "data" / "developments" / "stream.json"
START = datetime(2026, 3, 2, tzinfo=UTC)  # day 0 of the stream
BASE = "https://stream.example/"


@dataclass(frozen=True)
class Report:
    """One item of the stream and its label."""

    id: str
    day: int
    hour: int
    outlet: str
    development: str | None  # None: a near miss, never to be flagged
    part: str  # dev or heldout
    title: str
    summary: str
    joins: bool = False  # written as a report the rules miss: it must join its development

    @property
    def url(self) -> str:
        return f"{BASE}{self.outlet}/{self.id}"

    @property
    def published(self) -> datetime:
        return START + timedelta(days=self.day, hours=self.hour)


@dataclass(frozen=True)
class Stream:
    outlets: Mapping[str, tuple[str, str]]  # key -> (name, language)
    reports: tuple[Report, ...]

    @property
    def days(self) -> int:
        return max(report.day for report in self.reports) + 1

    def part(self, name: str) -> list[Report]:
        return [report for report in self.reports if report.part == name]


def load_stream(path: Path = STREAM) -> Stream:
    data = json.loads(path.read_text(encoding="utf-8"))
    outlets = {key: (value[0], value[1]) for key, value in data["outlets"].items()}
    return Stream(outlets, tuple(Report(**item) for item in data["items"]))


# ---- serving ---------------------------------------------------------------------------


def rss(stream: Stream, outlet: str, day: int) -> bytes:
    """The outlet's feed as it reads on ``day``: its reports so far, newest first."""
    name, language = stream.outlets[outlet]
    shown = [r for r in stream.reports if r.outlet == outlet and r.day <= day]
    entries = "".join(
        f"<item><guid>{escape(r.url)}</guid><link>{escape(r.url)}</link>"
        f"<title>{escape(r.title)}</title><description>{escape(r.summary)}</description>"
        f"<pubDate>{format_datetime(r.published)}</pubDate></item>"
        for r in sorted(shown, key=lambda r: r.published, reverse=True)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(name)}</title><link>{BASE}{outlet}</link>"
        f"<language>{language}</language>{entries}</channel></rss>"
    ).encode()


@dataclass
class StreamServer:
    """Each outlet's feed at ``/<outlet>.xml``, as it reads on ``day``."""

    server: LocalServer
    stream: Stream
    day: int = -1

    def __post_init__(self) -> None:
        for outlet in self.stream.outlets:
            self.server.route(f"/{outlet}.xml", self._responder(outlet))  # type: ignore[arg-type]

    def _responder(self, outlet: str) -> object:
        def respond(request: Received) -> Reply:
            del request
            body = rss(self.stream, outlet, self.day)
            return Reply(body=body, headers={"Content-Type": "application/rss+xml"})

        return respond

    def urls(self) -> list[str]:
        return [self.server.url(f"/{outlet}.xml") for outlet in self.stream.outlets]


# ---- scoring ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """How a grouping of one part of the stream scores."""

    reports: int  # labeled reports of developments
    flagged: int  # ... of them flagged
    developments: int  # labeled developments
    precision: float  # B-cubed
    recall: float
    f1: float
    alerts: int  # alerts about the part's developments
    false_flags: int  # near misses flagged
    missed: int = 0  # labeled reports written so that the rules miss them
    joined: int = 0  # ... of them flagged for joining their development
    groups: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def report_recall(self) -> float:
        return self.flagged / self.reports if self.reports else 1.0

    @property
    def alerts_per_development(self) -> float:
        return self.alerts / self.developments if self.developments else 0.0


def b_cubed(
    labels: Mapping[str, str], clusters: Mapping[str, object], scored: Collection[str]
) -> tuple[float, float]:
    """B-cubed precision and recall of ``clusters`` (report -> cluster) against
    ``labels`` (report -> development), averaged over the ``scored`` reports; a
    report's cluster and class are taken over every report, so a report of another
    part in the same cluster costs precision too."""
    if not scored:
        return 0.0, 0.0
    precision = recall = 0.0
    for report in scored:
        same_cluster = {o for o in labels if clusters[o] == clusters[report]}
        same_label = {o for o in labels if labels[o] == labels[report]}
        both = len(same_cluster & same_label)
        precision += both / len(same_cluster)
        recall += both / len(same_label)
    return precision / len(scored), recall / len(scored)


def score(
    stream: Stream,
    part: str,
    developments: Mapping[str, int],  # url -> development id, for the flagged reports
    alerted: Collection[str],  # the url of each alert's report (one per alert)
) -> Score:
    """The score of one part of the stream. Every labeled report counts; one not
    flagged is a development of its own (missing it costs recall)."""
    labeled = [r for r in stream.reports if r.development is not None]
    labels = {r.id: str(r.development) for r in labeled}
    clusters: dict[str, object] = {
        r.id: developments.get(r.url, f"unflagged {r.id}") for r in labeled
    }
    mine = [r for r in labeled if r.part == part]
    precision, recall = b_cubed(labels, clusters, [r.id for r in mine])
    groups: dict[str, list[int]] = {}
    for r in mine:
        if r.url in developments:
            groups.setdefault(str(r.development), []).append(developments[r.url])
    return Score(
        reports=len(mine),
        flagged=sum(1 for r in mine if r.url in developments),
        developments=len({r.development for r in mine}),
        precision=precision,
        recall=recall,
        f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        alerts=sum(1 for url in alerted if url in {r.url for r in mine}),
        false_flags=sum(
            1 for r in stream.part(part) if r.development is None and r.url in developments
        ),
        missed=sum(1 for r in mine if r.joins),
        joined=sum(1 for r in mine if r.joins and r.url in developments),
        groups={dev: tuple(ids) for dev, ids in groups.items()},
    )
