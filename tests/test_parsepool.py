"""The parse pool: worker processes that parse bodies and analyse only the items that
are new or changed, usable from one event loop after another."""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.errors import ParseError
from tracker.models import FetchResult, ItemText, ParsedFeed, Settings
from tracker.parse import parse_feed
from tracker.parsepool import ParsePool, analyse
from tracker.topicset import TopicSet, load_topic_set

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://news.example.com/feed.xml"
TOPIC = """name = "watch"
[groups.taliban]
terms = ["Taliban"]
[rule]
all_of = ["taliban"]
"""
DOCUMENT = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>
<item><guid>1</guid><title>Taliban envoy visits Doha</title></item>
<item><guid>2</guid><title>Storm closes the coast road</title></item>
</channel></rss>"""


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    pool = ParsePool(2)
    yield pool
    pool.close()


@pytest.fixture
def topics(tmp_path: Path) -> TopicSet:
    (tmp_path / "topics").mkdir()
    (tmp_path / "topics" / "watch.toml").write_text(TOPIC, encoding="utf-8")
    return load_topic_set(tmp_path / "topics", tmp_path)


def fetched(body: bytes) -> FetchResult:
    return FetchResult(url=URL, final_url=URL, status=200, body=body)


def test_only_new_and_changed_items_are_analysed(topics: TopicSet) -> None:
    feed: ParsedFeed = parse_feed(DOCUMENT, {}, URL, NOW)
    first, second = feed.items
    known = {first.key: first.content_hash, second.key: "an older version"}
    analyses = analyse(feed, known, topics.assess)
    assert set(analyses) == {second.key}
    assert analyses[second.key].decisions == tuple(
        topics.assess(ItemText(second.title, second.summary, second.content, second.language))
    )
    assert analyse(feed, {}, None)[first.key].decisions is None  # the writer assesses


@pytest.mark.slow
def test_workers_parse_and_assess_from_one_event_loop_after_another(
    pool: ParsePool, topics: TopicSet
) -> None:
    for _ in range(2):
        parsed, analyses = asyncio.run(
            pool.parse(fetched(DOCUMENT), NOW, Settings(), assess=topics.assess)
        )
        assert [item.title for item in parsed.items] == [
            "Taliban envoy visits Doha",
            "Storm closes the coast road",
        ]
        flagged = {key: a.decisions[0].flagged for key, a in analyses.items() if a.decisions}
        assert flagged == {"1": True, "2": False}


@pytest.mark.slow
def test_workers_detect_the_languages_of_new_and_changed_items_only(pool: ParsePool) -> None:
    russian = "Талибы и Вашингтон обсудили обмен разведданными о ИГИЛ-Хорасан в Дохе"
    body = DOCUMENT.replace(b"<channel>", b"<channel><language>en</language>").replace(
        b"Storm closes the coast road", russian.encode()
    )
    parsed, _ = asyncio.run(pool.parse(fetched(body), NOW, Settings()))
    assert [item.language for item in parsed.items] == ["en", "ru"]
    known = {item.key: item.content_hash for item in parsed.items}
    again, analyses = asyncio.run(pool.parse(fetched(body), NOW, Settings(), known=known))
    # stored unchanged: not analysed, not detected again (the row keeps "ru")
    assert not analyses and [item.language for item in again.items] == ["en", "en"]


@pytest.mark.slow
def test_an_assessor_that_cannot_reach_the_workers_is_left_to_the_writer(
    pool: ParsePool, topics: TopicSet
) -> None:
    def local(text: ItemText) -> list[object]:  # a closure cannot be sent to a process
        return []

    _, analyses = asyncio.run(pool.parse(fetched(DOCUMENT), NOW, Settings(), assess=local))  # type: ignore[arg-type]
    assert analyses and all(a.decisions is None for a in analyses.values())


@pytest.mark.slow
def test_parses_run_side_by_side_and_a_bad_document_fails_alone(pool: ParsePool) -> None:
    async def both() -> list[object]:
        good = pool.parse(fetched(DOCUMENT), NOW, Settings())
        bad = pool.parse(fetched(b"<html><body>not a feed</body></html>"), NOW, Settings())
        return await asyncio.gather(good, bad, return_exceptions=True)

    good, bad = asyncio.run(both())
    assert isinstance(good, tuple) and len(good[0].items) == 2
    assert isinstance(bad, ParseError) and bad.kind == "not_a_feed"


@pytest.mark.slow
def test_a_freed_worker_takes_the_next_job_before_its_last_caller_goes_on() -> None:
    """The caller whose parse ended writes its feed next: by then the worker it freed
    must already have the job of a caller that was waiting for one."""
    pool = ParsePool(1)
    busy_after_first: list[bool] = []

    async def first() -> None:
        await pool.parse(fetched(DOCUMENT), NOW, Settings())
        busy_after_first.append(bool(pool._busy))

    async def both() -> None:
        await asyncio.gather(first(), pool.parse(fetched(DOCUMENT), NOW, Settings()))

    try:
        asyncio.run(both())
    finally:
        pool.close()
    assert busy_after_first == [True]


@pytest.mark.slow
def test_workers_run_below_the_main_process_priority(pool: ParsePool) -> None:
    asyncio.run(pool.parse(fetched(DOCUMENT), NOW, Settings()))
    (worker,) = pool._idle[-1:]
    main = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, worker.process.pid) == min(19, main + 10)


SCRIPT = """
import asyncio, sys
from datetime import UTC, datetime
from tracker.models import FetchResult, Settings
from tracker.parsepool import ParsePool

print("started", flush=True)  # no __main__ guard: a worker running this again prints it too
pool = ParsePool(1)
url = "https://x.example/"
result = FetchResult(url=url, final_url=url, status=200, body=open(sys.argv[1], "rb").read())
parsed, _ = asyncio.run(pool.parse(result, datetime.now(UTC), Settings(parse_timeout=0.5)))
print("items:", len(parsed.items), flush=True)
pool.close()
"""


@pytest.mark.slow
def test_a_worker_does_not_run_the_main_script_again(tmp_path: Path) -> None:
    """A worker loads the parser, not the program that started it (a script without an
    ``if __name__ == "__main__"`` guard still works), and a new worker's start does not
    count against the first job's time limit."""
    script, body = tmp_path / "script.py", tmp_path / "feed.xml"
    script.write_text(SCRIPT, encoding="utf-8")
    body.write_bytes(DOCUMENT)
    done = subprocess.run(
        [sys.executable, str(script), str(body)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["started", "items: 2"]


@pytest.mark.slow
def test_workers_start_under_a_temporary_folder_too_deep_for_a_socket(tmp_path: Path) -> None:
    """A ``TMPDIR`` deeper than a Unix socket's path allows (about 107 bytes, with the
    folder multiprocessing adds) does not stop the workers: the system's /tmp serves."""
    deep = tmp_path / ("deep-folder-" * 8)
    deep.mkdir()
    script, body = tmp_path / "script.py", tmp_path / "feed.xml"
    script.write_text(SCRIPT, encoding="utf-8")
    body.write_bytes(DOCUMENT)
    done = subprocess.run(
        [sys.executable, str(script), str(body)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(deep)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["started", "items: 2"]
    assert "too long a path for the parse workers' socket; using /tmp" in done.stderr


def slow_document(items: int = 6000) -> bytes:
    """RSS 0.91 goes to feedparser (no fast path), which needs seconds for 6,000 items."""
    entries = "".join(
        f"<item><guid>{n}</guid><title>Story {n}</title><description>Text {n}</description></item>"
        for n in range(items)
    )
    return f'<rss version="0.91"><channel><title>Slow</title>{entries}</channel></rss>'.encode()


@pytest.mark.slow
def test_a_second_job_waits_in_a_busy_worker_and_runs_when_the_first_ends() -> None:
    pool = ParsePool(1)
    most_in_flight: list[int] = []

    async def watch() -> None:
        while not most_in_flight or pool._busy:
            most_in_flight.append(max((w.inflight for w in pool._busy), default=0))
            await asyncio.sleep(0.001)

    async def three() -> list[object]:
        await pool.parse(fetched(DOCUMENT), NOW, Settings())  # the worker is started
        jobs = [pool.parse(fetched(DOCUMENT), NOW, Settings()) for _ in range(3)]
        results = await asyncio.gather(*jobs, watch())
        return results[:3]

    try:
        results = asyncio.run(three())
    finally:
        pool.close()
    assert all(isinstance(r, tuple) and len(r[0].items) == 2 for r in results)
    assert max(most_in_flight) == 2  # never more than one job waiting in the worker


@pytest.mark.slow
def test_a_job_waiting_behind_a_runaway_parse_goes_to_another_worker() -> None:
    pool = ParsePool(1)
    settings = Settings(parse_timeout=0.3)

    async def both() -> list[object]:
        await pool.parse(fetched(DOCUMENT), NOW, settings)  # the worker is started
        slow = asyncio.ensure_future(pool.parse(fetched(slow_document()), NOW, settings))
        await asyncio.sleep(0.05)  # the slow one runs; the next one waits behind it
        fine = pool.parse(fetched(DOCUMENT), NOW, settings)
        return await asyncio.gather(slow, fine, return_exceptions=True)

    try:
        slow, fine = asyncio.run(both())
    finally:
        pool.close()
    assert isinstance(slow, ParseError) and slow.kind == "parse_timeout"
    assert isinstance(fine, tuple) and len(fine[0].items) == 2


UNPICKLE = """
import pickle, sys
assess = pickle.loads(sys.stdin.buffer.read())
print(sorted(m for m in ("tracker.store", "tracker.sinks", "tracker.topicset", "sqlite_utils",
                         "httpx", "rich", "anyascii") if m in sys.modules))
print([d.flagged for d in assess.__call__(__import__("tracker.models").models.ItemText(
    "Taliban envoy visits Doha", ""))])
"""


def test_the_assessor_workers_receive_brings_the_matchers_alone(topics: TopicSet) -> None:
    """A worker unpickles the poll's assessor: it must need what matching needs, not
    the store, the sinks or the CLI (some 13 MB of memory in each worker)."""
    blob = pickle.dumps(topics.assess, protocol=pickle.HIGHEST_PROTOCOL)
    done = subprocess.run(
        [sys.executable, "-c", UNPICKLE], input=blob, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().splitlines() == ["[]", "[True]"]
