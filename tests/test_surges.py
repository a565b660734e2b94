"""Surges: a development spreading to new outlets or a new language alerts once, never
for a backlog, survives a restart and a rescore; its coverage over time is queryable."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_developments import CORBETT, flag_us_taliban
from test_store import item as parsed_item
from test_store import plan, poll_of

from tracker import surges
from tracker.alerts import alerts_from_surges, render_digest, render_json, render_text
from tracker.config import parse_config
from tracker.errors import ConfigError
from tracker.models import AlertSink, DevelopmentConfig, FeedConfig
from tracker.sinks.sender import wants
from tracker.store import Store
from tracker.surges import Carriage, Coverage

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RULE = DevelopmentConfig(surge_outlets=3, surge_window=86400.0, surge_languages=True)


def carriage(
    item: int, outlet: str, hours: float, language: str = "en", *, cycle: float | None = None
) -> Carriage:
    """A report ``hours`` after NOW, flagged by the cycle at ``cycle`` hours (default: its own)."""
    published = NOW + timedelta(hours=hours)
    flagged = NOW + timedelta(hours=hours if cycle is None else cycle)
    return Carriage(item, outlet, language, published, flagged, backlog=False)


def coverage(*carriages: Carriage, outlets: Sequence[str] = (), languages: Sequence[str] = ()):  # type: ignore[no-untyped-def]
    return Coverage(7, "t", carriages, frozenset(outlets), frozenset(languages))


# ---- the pure decision -------------------------------------------------------------------


def test_three_new_outlets_within_the_window_are_one_surge_saying_why() -> None:
    found = surges.detect(
        coverage(
            carriage(1, "Wire", 0),
            carriage(2, "Daily", 2),
            carriage(3, "Tolo", 10),
            carriage(4, "Pajhwok", 20),
        ),
        RULE,
    )

    assert [(s.kind, s.outlets, s.item_id) for s in found] == [
        ("outlets", ("Daily", "Tolo", "Pajhwok"), 4)
    ]
    assert found[0].reason == "spread to 3 new outlets in 24h: Daily, Tolo, Pajhwok"
    assert found[0].first_at == NOW + timedelta(hours=2)


def test_new_outlets_further_apart_than_the_window_are_no_surge() -> None:
    spread_out = coverage(
        carriage(1, "Wire", 0),
        carriage(2, "Daily", 2),
        carriage(3, "Tolo", 20),
        carriage(4, "X", 27),
    )
    assert surges.detect(spread_out, RULE) == []
    assert len(surges.detect(spread_out, replace(RULE, surge_window=2 * 86400.0))) == 1


def test_what_the_first_cycle_backlogs_and_earlier_surges_reached_is_not_news() -> None:
    first_cycle = [carriage(1, "Wire", 0), carriage(2, "Daily", 1, cycle=0)]  # one cycle
    backlog = replace(carriage(3, "Tolo", 3), backlog=True)
    later = [carriage(4, "Pajhwok", 5), carriage(5, "RIA", 6, "ru"), carriage(6, "Tass", 7, "ru")]

    assert [s.outlets for s in surges.detect(coverage(*first_cycle, backlog, *later), RULE)] == [
        ("RIA",),  # Russian at 6h, then the third new outlet at 7h
        ("Pajhwok", "RIA", "Tass"),
    ]
    surged = coverage(*first_cycle, backlog, *later, outlets=["Pajhwok", "RIA", "Tass"])
    assert [s.kind for s in surges.detect(surged, RULE)] == ["language"]
    done = coverage(*first_cycle, *later, outlets=["Pajhwok", "RIA", "Tass"], languages=["ru"])
    assert surges.detect(done, RULE) == []


def test_a_new_language_is_a_surge_naming_the_language_and_its_first_outlets() -> None:
    found = surges.detect(
        coverage(
            carriage(1, "Wire", 0),
            carriage(2, "Vestnik", 5, "ru"),
            replace(carriage(2, "Novosti", 5, "ru")),  # the same report in a second feed
            carriage(3, "Pajhwok", 30, "ps"),
            carriage(4, "Tass", 31, "ru"),
            carriage(5, "Wire", 40, "en"),
        ),
        replace(RULE, surge_outlets=0),
    )

    assert [(s.language, s.reason) for s in found] == [
        ("ru", "first report in Russian: Vestnik, Novosti"),
        ("ps", "first report in Pashto: Pajhwok"),
    ]
    unknown = coverage(carriage(1, "Wire", 0), carriage(2, "X", 1, "qq"))
    assert surges.detect(unknown, RULE)[0].reason == "first report in qq: X"


def test_surges_turned_off_find_nothing() -> None:
    wide = coverage(*(carriage(n, f"O{n}", n, ("en", "ru")[n % 2]) for n in range(1, 9)))
    off = DevelopmentConfig(surge_outlets=0, surge_languages=False)
    assert surges.detect(wide, off) == []
    assert len(surges.detect(wide, RULE)) == 3  # two runs of three outlets, Russian


def test_a_long_run_of_outlets_is_named_by_its_first_five() -> None:
    names = [f"Outlet {n}" for n in range(7)]
    three_days = surges.outlets_reason(names[:2], 3 * 86400)
    assert three_days == "spread to 2 new outlets in 3d: Outlet 0, Outlet 1"
    assert surges.outlets_reason(names, 3600) == (
        "spread to 7 new outlets in 1h: Outlet 0, Outlet 1, Outlet 2, Outlet 3, Outlet 4, …"
    )


# ---- the config --------------------------------------------------------------------------


def test_the_developments_table_sets_the_surge_rule(tmp_path: Path) -> None:
    text = b'[developments]\nsurge_outlets = 4\nsurge_window = "12h"\nsurge_languages = false\n'
    loaded = parse_config(text, tmp_path / "tracker.toml")
    assert loaded.developments == DevelopmentConfig(4, 43200.0, False)
    assert parse_config(b"[settings]\n", tmp_path / "t.toml").developments == DevelopmentConfig()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("surge_outlets = -1", "developments.surge_outlets: expected a whole number"),
        ("surge_outlets = true", "developments.surge_outlets: expected a whole number"),
        ('surge_window = "soon"', "developments.surge_window: expected a duration"),
        ("surge_window = 0", "developments.surge_window: must be positive"),
        ('surge_languages = "yes"', "developments.surge_languages: expected true or false"),
        ("surge_outlet = 3", "developments.surge_outlet: unknown key (did you mean"),
    ],
)
def test_a_bad_surge_key_names_file_line_and_key(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "tracker.toml"
    with pytest.raises(ConfigError) as caught:
        parse_config(f'[settings]\ninterval = "15m"\n\n[developments]\n{line}\n'.encode(), path)
    assert str(caught.value).startswith(f"{path}:5: {message}")


def test_a_sink_takes_surges_only_when_it_asks() -> None:
    config = parse_config(
        b'[[alerts]]\ntype = "webhook"\nurl = "http://127.0.0.1:1/h"\nsurges = true\n',
        Path("tracker.toml"),
    )
    [sink] = config.alerts
    [alert] = alerts_from_surges([_surge_row()])
    assert sink.surges and wants(sink, alert)
    assert not wants(AlertSink("webhook", sink.settings), alert)


# ---- alerts ------------------------------------------------------------------------------


def _surge_row(reason: str = "first report in Russian: RIA") -> surges.SurgeAlertRow:
    return surges.SurgeAlertRow(
        id=3,
        development_id=12,
        topic="us-taliban",
        title="Corbett freed\u202e in prisoner exchange",
        url="javascript:alert(1)",
        story_id=40,
        reason=reason,
        outlets=("RIA",),
        published="2026-03-02T15:00:00+00:00",
    )


def test_a_surge_alert_says_why_and_links_to_its_development() -> None:
    [alert] = alerts_from_surges([_surge_row()], "https://desk.example/news/story")
    subject, body = render_text(alert)
    payload = render_json(alert)

    assert subject == "[tracker] us-taliban: spreads: Corbett freed in prisoner exchange"
    assert "Spreads: first report in Russian: RIA" in body.splitlines()
    assert payload["surge"] == {"id": 3, "why": "first report in Russian: RIA"}
    assert payload["development_id"] == 12 and payload["url"] is None  # not http(s)
    assert payload["page_url"] == "https://desk.example/-/desk/development?id=12"  # the desk
    assert alert.key == ("us-taliban", "surge", 3)


def test_a_digest_lists_surges() -> None:
    alerts = alerts_from_surges([_surge_row(), replace(_surge_row("spread to 3"), id=4)])
    subject, body = render_digest(alerts)
    assert subject.startswith("[tracker] 2 new")
    assert "Spreads: first report in Russian: RIA" in body and "Spreads: spread to 3" in body


# ---- the store ---------------------------------------------------------------------------

FEEDS = {"wire": "en", "daily": "en", "tass": "ru", "tolo": "fa", "late": "ps"}


def poll(
    store: Store,
    feed: str,
    titles: Sequence[str],
    when: datetime,
    assess: Any = flag_us_taliban,
) -> None:
    """A poll of ``feed`` at ``when`` carrying ``titles``, published just before."""
    items = [
        replace(
            parsed_item(f"{feed}-{n}-{when:%d%H}", title, f"https://{feed}.test/{n}/{when:%d%H}"),
            published=when - timedelta(minutes=10 + n),
            language=FEEDS[feed],
        )
        for n, title in enumerate(titles)
    ]
    found = poll_of(f"http://{feed}.test/rss", *items, title=feed.title(), when=when)
    state = store.feed(found.feed_url)
    assert state is not None
    store.record_poll(state, found, plan(state, found, assess, when), when)


def cycle(store: Store, when: datetime, **feeds: Sequence[str]) -> int:
    for feed, titles in feeds.items():
        poll(store, feed, titles, when)
    store.place_new_flags()
    return store.detect_surges(RULE, when)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "db" / "t.db")
    configured = [FeedConfig(f"http://{feed}.test/rss", feed.title()) for feed in FEEDS]
    s.sync_feeds(configured, NOW)
    for feed in FEEDS:
        if feed != "late":  # its first poll comes later: a backlog
            poll(s, feed, [], NOW - timedelta(days=1))
    return s


def test_a_spreading_development_surges_once_and_a_restart_keeps_it(
    store: Store, tmp_path: Path
) -> None:
    assert cycle(store, NOW, wire=[CORBETT[0]]) == 0  # its start: the baseline
    later = NOW + timedelta(hours=6)
    assert cycle(store, later, daily=[CORBETT[1]], tass=[CORBETT[0]], tolo=[CORBETT[1]]) == 3
    assert store.detect_surges(RULE, later) == 0  # found once
    store.close()

    with Store(tmp_path / "db" / "t.db") as reopened:
        assert reopened.detect_surges(RULE, later + timedelta(hours=1)) == 0
        pending = reopened.unnotified_surges()
        assert [s.reason for s in pending] == [
            "spread to 3 new outlets in 24h: Daily, Tass, Tolo",
            "first report in Russian: Tass",
            "first report in Persian: Tolo",
        ]
        assert {s.title for s in pending} == {CORBETT[0]}
        reopened.mark_surges_notified([s.id for s in pending], later)
        assert reopened.unnotified_surges() == []
        [development] = reopened.developments()
        listed = reopened.development_surges(development["id"])
    assert [s["kind"] for s in listed] == ["outlets", "language", "language"]
    assert listed[0]["outlets"] == ["Daily", "Tass", "Tolo"] and not listed[0]["quiet"]


def test_a_feeds_first_poll_never_makes_a_surge(store: Store) -> None:
    cycle(store, NOW, wire=[CORBETT[0]])
    assert cycle(store, NOW + timedelta(hours=2), late=[CORBETT[1]]) == 0  # Pashto, backlog
    assert cycle(store, NOW + timedelta(hours=3), late=[CORBETT[1], CORBETT[0]]) == 0
    assert store.unnotified_surges() == []


def test_a_rescore_keeps_surges_as_history_and_drops_those_of_a_gone_development(
    store: Store,
) -> None:
    cycle(store, NOW, wire=[CORBETT[0]])
    cycle(store, NOW + timedelta(hours=1), tass=[CORBETT[1]])
    [sent] = store.unnotified_surges()
    store.mark_surges_notified([sent.id], NOW)
    store.conn.execute("DELETE FROM development_surges")  # as if found before an upgrade
    store.regroup_developments(["t"])
    assert store.detect_surges(RULE, NOW, topics=["t"], quiet=True) == 1
    assert store.unnotified_surges() == []  # history: not alerted again

    store.conn.execute("DELETE FROM flags")  # a topic edit unflags the development
    store.regroup_developments(["t"])
    store.detect_surges(RULE, NOW, topics=["t"], quiet=True)
    assert store.conn.execute("SELECT COUNT(*) FROM development_surges").fetchone()[0] == 0


def test_coverage_over_time_names_the_outlets_and_languages_each_day_reached(
    store: Store,
) -> None:
    cycle(store, NOW, wire=[CORBETT[0]], daily=[CORBETT[1]])
    cycle(store, NOW + timedelta(days=1), tass=[CORBETT[0]], wire=[CORBETT[1]])
    cycle(store, NOW + timedelta(days=2), tolo=[CORBETT[1]])
    [development] = store.developments()

    days = store.development_coverage(development["id"])
    assert days == [
        _day("2026-03-10", 2, "Daily, Wire", "en", 2, 1),  # at the same minute: by name
        _day("2026-03-11", 2, "Tass", "ru", 3, 2),
        _day("2026-03-12", 1, "Tolo", "fa", 4, 3),
    ]
    view = store.conn.execute(
        "SELECT topic, new_outlets FROM development_coverage WHERE development_id = ?",
        (development["id"],),
    ).fetchall()
    assert [tuple(row) for row in view] == [("t", d["new_outlets"]) for d in days]


def _day(day: str, reports: int, outlets: str, languages: str, by: int, langs: int) -> dict:  # type: ignore[type-arg]
    return {
        "day": day,
        "reports": reports,
        "new_outlets": outlets,
        "new_languages": languages,
        "outlets_by_then": by,
        "languages_by_then": langs,
    }


def test_surges_survive_in_json_as_the_cli_reads_them(store: Store) -> None:
    cycle(store, NOW, wire=[CORBETT[0]])
    cycle(store, NOW + timedelta(hours=1), tolo=[CORBETT[1]])
    row = store.conn.execute("SELECT outlets, language, quiet FROM development_surges").fetchone()
    assert (json.loads(row[0]), row[1], row[2]) == (["Tolo"], "fa", 0)


# ---- the CLI -----------------------------------------------------------------------------


def test_development_shows_its_coverage_day_by_day_and_its_surges(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from conftest import make_project

    from tracker.cli import cli
    from tracker.config import load_config

    config_path = make_project(tmp_path, [f"http://{feed}.test/rss" for feed in FEEDS])
    with Store(load_config(config_path).db_path) as store:
        store.sync_feeds([FeedConfig(f"http://{f}.test/rss", f.title()) for f in FEEDS], NOW)
        for feed in ("wire", "tass"):
            poll(store, feed, [], NOW - timedelta(days=1))
        cycle(store, NOW, wire=[CORBETT[0]])
        cycle(store, NOW + timedelta(days=1), tass=[CORBETT[1]])
        [development] = store.developments()

    def tracker(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["--config", str(config_path), *args])
        return result.exit_code, result.output

    code, out = tracker("development", str(development["id"]))
    assert code == 0
    assert "  2026-03-10  1 report(s); outlets +Wire (1); languages +en (1)" in out
    assert "  2026-03-11  1 report(s); outlets +Tass (2); languages +ru (2)" in out
    assert "Surge 2026-03-11T11:50: first report in Russian: Tass" in out
    code, out = tracker("development", str(development["id"]), "--json")
    shown = json.loads(out)
    assert [day["new_outlets"] for day in shown["coverage"]] == ["Wire", "Tass"]
    assert [s["reason"] for s in shown["surges"]] == ["first report in Russian: Tass"]


def test_a_rescore_keeps_what_was_alerted_and_alerts_nothing_it_finds_again(
    tmp_path: Path,
) -> None:
    """Through ``rescore_changed_topics`` with the shipped topics: the surges a regrouping
    shows are history, the ones alerted before stay alerted."""
    from conftest import make_project

    from tracker.config import load_config
    from tracker.topicset import load_topic_set, rescore_changed_topics

    config_path = make_project(tmp_path, ["http://wire.test/rss", "http://tass.test/rss"])
    config = load_config(config_path)
    topics = load_topic_set(config.topics_dir, config.seeds_dir)
    title = "US envoy Khalilzad holds talks with Taliban in Doha on prisoner swap"
    with Store(config.db_path) as store:
        store.sync_feeds(config.feeds, NOW)
        rescore_changed_topics(store, topics, NOW)
        for feed in ("wire", "tass"):
            poll(store, feed, [], NOW - timedelta(days=1), topics.assess)
        poll(store, "wire", [title], NOW, topics.assess)
        store.place_new_flags()
        poll(store, "tass", [title.replace("holds", "held")], NOW + timedelta(hours=2),
             topics.assess)  # fmt: skip
        store.place_new_flags()
        assert store.detect_surges(RULE, NOW + timedelta(hours=2)) == 1  # Russian
        store.mark_surges_notified([s.id for s in store.unnotified_surges()], NOW)
        names = [topic.name for topic in topics.topics]

        rescore_changed_topics(store, topics, NOW + timedelta(hours=3), force=names)
        kept = store.conn.execute("SELECT reason, quiet FROM development_surges").fetchall()
        assert [tuple(row) for row in kept] == [("first report in Russian: Tass", 0)]
        store.conn.execute("DELETE FROM development_surges")  # as a database from before
        store.conn.commit()
        rescore_changed_topics(store, topics, NOW + timedelta(hours=4), force=names)
        again = store.conn.execute("SELECT reason, quiet FROM development_surges").fetchall()
        assert [tuple(row) for row in again] == [("first report in Russian: Tass", 1)]
        assert store.unnotified_surges() == []
