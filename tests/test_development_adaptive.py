"""Adaptive tracking: a report the rules miss joins the flagged development it clearly
belongs to, flagged with a reason; a near miss that shares one name does not; a
regrouping (rescore, topic edit) works the adaptive flags out again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_project
from test_developments import _write_with, write_poll

from tracker import developments as dv
from tracker.config import load_config
from tracker.store import Store
from tracker.topicset import TopicSet, load_topic_set, rescore_changed_topics

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
FLAGGED = "Taliban free American Ryan Corbett in prisoner exchange with the United States"
MISSED = "Ryan Corbett returns home after the prisoner exchange, detained since 2022"
NEAR_MISS = "Russia and the Taliban discuss a prisoner exchange in Moscow"


class Project:
    def __init__(self, root: Path) -> None:
        config_path = make_project(root, ["http://wire.test/rss", "http://daily.test/rss"])
        config = load_config(config_path)
        self.topics_dir, self.seeds_dir = config.topics_dir, config.seeds_dir
        self.topics = load_topic_set(config.topics_dir, config.seeds_dir)
        self.store = Store(config.db_path)
        self.store.sync_feeds(config.feeds, NOW)
        rescore_changed_topics(self.store, self.topics, NOW)
        for feed in ("wire", "daily"):  # first polls: what follows is no backlog
            write_poll(self.store, feed, [], NOW - timedelta(days=1))

    def cycle(self, feed: str, titles: list[str], when: datetime) -> None:
        """A poll of ``feed`` at ``when`` and the hook that places what it flagged."""
        _write_with(self.store, self.topics.assess, titles, when, feed)
        self.store.place_new_flags(self.topics.entities, when, when)

    def flags(self) -> dict[str, tuple[int | None, str, int, str, int]]:
        rows = self.store.conn.execute(
            "SELECT items.title, development_id, development_role, adaptive, reasons, backlog "
            "FROM flags JOIN items ON items.id = flags.item_id"
        ).fetchall()
        return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def reload(self) -> TopicSet:
        self.topics = load_topic_set(self.topics_dir, self.seeds_dir)
        return self.topics


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    made = Project(tmp_path)
    yield made
    made.store.close()


def test_a_report_the_rules_miss_joins_its_development_with_a_reason(project: Project) -> None:
    project.cycle("wire", [FLAGGED], NOW)
    project.cycle("daily", [MISSED, NEAR_MISS], NOW + timedelta(hours=3))

    flags = project.flags()
    assert set(flags) == {FLAGGED, MISSED}  # the near miss shares one name only
    development, role, adaptive, reasons, backlog = flags[MISSED]
    assert development == flags[FLAGGED][0] and flags[FLAGGED][2] == 0
    assert adaptive == 1 and role in ("update", "repeat") and backlog == 0
    assert reasons.startswith(f"joins development {development}: ")
    assert "Corbett" in reasons and "prisoner exchange" in reasons
    [listed] = project.store.developments()
    assert listed["reports"] == 2 and set(listed["outlets"]) == {"Wire", "Daily"}
    by_view = project.store.conn.execute("SELECT title, adaptive FROM flagged").fetchall()
    assert sorted(adaptive for _, adaptive in by_view) == [0, 1]  # Datasette can filter on it


def test_a_report_out_of_the_window_or_before_any_flag_does_not_join(project: Project) -> None:
    project.cycle("daily", [MISSED], NOW - timedelta(hours=1))  # no development yet
    project.cycle("wire", [FLAGGED], NOW)
    project.cycle("daily", [MISSED.replace("2022", "2023")], NOW + timedelta(days=6))
    assert set(project.flags()) == {FLAGGED}


def test_a_regrouping_works_adaptive_flags_out_again(project: Project) -> None:
    project.cycle("wire", [FLAGGED], NOW)
    project.cycle("daily", [MISSED], NOW + timedelta(hours=3))
    before = project.flags()

    project.store.regroup_developments([project.topics.names[0]], project.topics.entities)

    after = project.flags()
    assert set(after) == {FLAGGED, MISSED}
    assert after[MISSED][:4] == before[MISSED][:4]  # same development, role, reason
    assert after[MISSED][4] == 1  # worked out again: backlog, never alerted twice


def test_a_topic_edit_that_unflags_the_development_takes_its_adopted_report(
    project: Project,
) -> None:
    project.cycle("wire", [FLAGGED], NOW)
    project.cycle("daily", [MISSED], NOW + timedelta(hours=3))
    edited = project.topics_dir / "us-taliban.toml"  # "Taliban" no longer a term
    text = edited.read_text(encoding="utf-8")
    edited.write_text(text.replace('"Taliban", "Taleban"', '"Taleban"'), "utf-8")

    rescore_changed_topics(project.store, project.reload(), NOW + timedelta(hours=4))

    assert project.flags() == {}
    assert project.store.developments() == []
    assert project.store.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 2


def test_a_rescore_that_keeps_the_development_keeps_its_adopted_report(
    project: Project,
) -> None:
    project.cycle("wire", [FLAGGED], NOW)
    project.cycle("daily", [MISSED], NOW + timedelta(hours=3))
    edited = project.topics_dir / "us-taliban.toml"  # an edit that changes no flag
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", "utf-8")

    rescore_changed_topics(project.store, project.reload(), NOW + timedelta(hours=4))

    flags = project.flags()
    assert set(flags) == {FLAGGED, MISSED} and flags[MISSED][2] == 1


def named(project: Project) -> dict[str, set[str]]:
    rows = project.store.conn.execute(
        "SELECT items.title, item_entities.entity FROM item_entities "
        "JOIN items ON items.id = item_entities.item_id"
    ).fetchall()
    found: dict[str, set[str]] = {}
    for title, entity in rows:
        found.setdefault(title, set()).add(entity)
    return found


def test_the_entities_each_report_names_are_kept_and_follow_topic_edits(
    project: Project,
) -> None:
    """The poll keeps which alias sets each new report names, flagged or not (what
    adaptive tracking reads); an edit of the alias sets is worked out again by the
    rescore."""
    project.cycle("daily", [MISSED, NEAR_MISS, "Markets close higher"], NOW)
    exchange = {"prisoner_exchange"}
    # unflagged, relevant or not
    assert named(project) == {MISSED: {"corbett", *exchange}, NEAR_MISS: exchange}

    edited = project.topics_dir / "us-taliban.toml"
    text = edited.read_text(encoding="utf-8")
    edited.write_text(text.replace('"Corbett", "Корбетт*"', '"Корбетт*"'), "utf-8")
    rescore_changed_topics(project.store, project.reload(), NOW + timedelta(hours=1))
    assert named(project) == {MISSED: exchange, NEAR_MISS: exchange}

    edited.write_text(text + '\n[entities.moscow]\nterms = ["Moscow"]\n', "utf-8")
    rescore_changed_topics(project.store, project.reload(), NOW + timedelta(hours=2))
    assert named(project) == {MISSED: {"corbett", *exchange}, NEAR_MISS: {"moscow", *exchange}}


def test_the_rules_flagging_an_adopted_report_later_clear_adaptive(project: Project) -> None:
    project.cycle("wire", [FLAGGED], NOW)
    project.cycle("daily", [MISSED], NOW + timedelta(hours=3))
    edited = project.topics_dir / "us-taliban.toml"
    # a rule any Corbett report passes: one more alternative naming the entity's words
    text = (
        edited.read_text(encoding="utf-8")
        .replace(
            "\n[rule]\n",
            '\n[groups.corbett_test]\nterms = ["Corbett"]\n\n[rule]\n',
            1,
        )
        .replace(
            "\n[[rule.alternatives]]\n",
            '\n[[rule.alternatives]]\nall_of = ["corbett_test"]\n\n[[rule.alternatives]]\n',
            1,
        )
    )
    edited.write_text(text, "utf-8")

    rescore_changed_topics(project.store, project.reload(), NOW + timedelta(hours=4))

    flags = project.flags()
    assert flags[MISSED][2] == 0 and not flags[MISSED][3].startswith("joins development")


# ---- the pure decision -------------------------------------------------------------------


def report(n: int, keys: str, hours: float = 0, flagged: bool = True) -> dv.DevelopmentItem:
    published = NOW + timedelta(hours=hours)
    return dv.DevelopmentItem(n, n, published, "o", "", frozenset(keys.split()), flagged=flagged)


@pytest.mark.parametrize(
    ("keys", "joins"),
    [
        ("@corbett @swap #2022 hm", True),  # two entities and a number
        ("@corbett #2022 lnds", True),  # an entity and a number
        ("@corbett lnds hm rtrn", False),  # one name alone: another event about him
        ("#2022 #5 lnds hm", False),  # numbers without an entity
    ],
)
def test_an_unflagged_report_joins_only_on_entities_and_numbers(keys: str, joins: bool) -> None:
    flagged = [report(1, "@corbett @swap #2022 ktr"), report(2, "@corbett @swap lnds hm rtrn")]
    placed = dv.place([*flagged, report(3, keys, hours=2, flagged=False)], dv.Pool())
    adopted = [p for p in placed if p.adopted]
    assert [(p.item_id, p.development_id) for p in adopted] == ([(3, -1)] if joins else [])


def test_an_adopted_report_neither_grows_nor_extends_its_development() -> None:
    pool = dv.Pool()
    late = dv.WINDOW.total_seconds() / 3600
    placed = dv.place(
        [
            report(1, "@corbett @swap #2022"),
            report(2, "@corbett @swap #2022 @qatar", hours=late, flagged=False),
            report(3, "@corbett @swap #2022", hours=late + 2, flagged=False),  # out of window
        ],
        pool,
    )
    assert [(p.item_id, p.adopted) for p in placed] == [(1, False), (2, True)]
    [development] = pool.developments.values()
    assert development.items == 1 and "@qatar" not in development.keys
    assert development.last_seen == NOW


def test_an_unflagged_report_never_starts_a_development() -> None:
    assert dv.place([report(1, "@corbett @swap #2022", flagged=False)], dv.Pool()) == []


def test_the_reason_names_entities_by_title_and_words_as_written() -> None:
    reason = dv.joins_reason(
        12,
        ("@corbett", "@swap", "#2022", "dh"),
        "Корбетт home via Doha in 2022",
        {"@corbett": "Corbett", "@swap": "prisoner exchange"},
    )
    assert reason == "joins development 12: Corbett, prisoner exchange, 2022, Doha"
