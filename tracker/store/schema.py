"""The database schema: tracker's public API for Datasette users.

Owns the versioned migrations (``PRAGMA user_version``). Each migration is a list
of SQL statements applied in one immediate transaction; views are (re)created
idempotently after the migrations. Column names are contracts: ``feeds.id``,
``feeds.url``, ``items.url``, ``polls.feed_id``, the ``*error*`` columns of
``feeds``. Extend around them; never rename.

Must not: import a third-party library or run queries itself (``store.migrations``
does).
"""

from __future__ import annotations

NUMBERED_BANDS = 4  # the version whose story bands are numbers
TEXT_BANDS_TABLE = "story_bands_schema_3"  # the text bands, during that migration only

# The statement that names the migration unwrapping aggregator links (SQL that does
# nothing: the work is ``store.merging``'s, as the upgrade runs).
AGGREGATOR_URLS_MARK = "-- items under an aggregator's link get their article's URL"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            site_url TEXT,
            language TEXT NOT NULL DEFAULT '',
            configured INTEGER NOT NULL DEFAULT 0,
            interval_seconds REAL,
            poll_interval_seconds REAL,
            etag TEXT,
            last_modified TEXT,
            content_hash TEXT,
            created_at TEXT NOT NULL,
            first_polled_at TEXT,
            last_polled_at TEXT,
            last_success_at TEXT,
            last_new_item_at TEXT,
            last_status INTEGER,
            last_error TEXT,
            last_error_kind TEXT,
            last_error_at TEXT,
            failing_since TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            next_poll_at TEXT,
            gone INTEGER NOT NULL DEFAULT 0,
            previous_url TEXT,
            redirect_to TEXT,
            redirect_seen INTEGER NOT NULL DEFAULT 0,
            last_warning TEXT
        )""",
        # A feed is looked up by its URL or the URL it had before a permanent redirect.
        "CREATE INDEX feeds_previous_url ON feeds(previous_url)",
        """CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            url TEXT UNIQUE,
            link TEXT,
            title TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '',
            content TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL DEFAULT '',
            published TEXT NOT NULL,
            published_raw TEXT,
            date_estimated INTEGER NOT NULL DEFAULT 0,
            first_seen_at TEXT NOT NULL,
            updated_at TEXT,
            update_count INTEGER NOT NULL DEFAULT 0,
            content_hash TEXT NOT NULL,
            truncated INTEGER NOT NULL DEFAULT 0,
            feed_id INTEGER REFERENCES feeds(id),
            story_id INTEGER
        )""",
        "CREATE INDEX items_published ON items(published)",
        "CREATE INDEX items_story_id ON items(story_id)",
        "CREATE INDEX items_first_seen_at ON items(first_seen_at)",
        """CREATE TABLE item_feeds (
            feed_id INTEGER NOT NULL REFERENCES feeds(id),
            entry_key TEXT NOT NULL,
            item_id INTEGER NOT NULL REFERENCES items(id),
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            PRIMARY KEY (feed_id, entry_key)
        )""",
        "CREATE INDEX item_feeds_item_id ON item_feeds(item_id)",
        """CREATE TABLE story_bands (
            band TEXT NOT NULL,
            item_id INTEGER NOT NULL REFERENCES items(id),
            PRIMARY KEY (band, item_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE polls (
            id INTEGER PRIMARY KEY,
            feed_id INTEGER NOT NULL REFERENCES feeds(id),
            started_at TEXT NOT NULL,
            duration_ms INTEGER NOT NULL,
            status INTEGER,
            outcome TEXT NOT NULL,
            bytes INTEGER NOT NULL DEFAULT 0,
            items_seen INTEGER NOT NULL DEFAULT 0,
            new_items INTEGER NOT NULL DEFAULT 0,
            updated_items INTEGER NOT NULL DEFAULT 0,
            new_flags INTEGER NOT NULL DEFAULT 0,
            error_kind TEXT,
            error TEXT,
            warnings TEXT
        )""",
        "CREATE INDEX polls_feed_id_started_at ON polls(feed_id, started_at)",
        "CREATE INDEX polls_started_at ON polls(started_at)",
        """CREATE TABLE matches (
            item_id INTEGER NOT NULL REFERENCES items(id),
            topic TEXT NOT NULL,
            group_name TEXT NOT NULL,
            term TEXT NOT NULL,
            matched_text TEXT NOT NULL,
            field TEXT NOT NULL,
            char_offset INTEGER NOT NULL
        )""",
        "CREATE INDEX matches_item_topic ON matches(item_id, topic)",
        "CREATE INDEX matches_topic ON matches(topic)",
        """CREATE TABLE assessments (
            item_id INTEGER NOT NULL REFERENCES items(id),
            topic TEXT NOT NULL,
            relevant INTEGER NOT NULL,
            flagged INTEGER NOT NULL,
            score REAL NOT NULL,
            rule_version TEXT NOT NULL,
            assessed_at TEXT NOT NULL,
            PRIMARY KEY (item_id, topic)
        )""",
        """CREATE TABLE flags (
            item_id INTEGER NOT NULL REFERENCES items(id),
            topic TEXT NOT NULL,
            score REAL NOT NULL,
            reasons TEXT NOT NULL,
            seed_terms TEXT NOT NULL DEFAULT '',
            rule_version TEXT NOT NULL,
            flagged_at TEXT NOT NULL,
            backlog INTEGER NOT NULL DEFAULT 0,
            notified_at TEXT,
            PRIMARY KEY (item_id, topic)
        )""",
        "CREATE INDEX flags_topic_flagged_at ON flags(topic, flagged_at)",
        """CREATE TABLE topics (
            name TEXT PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            path TEXT NOT NULL DEFAULT '',
            rule_version TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )""",
        """CREATE TABLE service_runs (
            id INTEGER PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at TEXT NOT NULL,
            stopped_at TEXT,
            last_cycle_at TEXT,
            cycles INTEGER NOT NULL DEFAULT 0,
            last_cycle_summary TEXT,
            config_error TEXT,
            config_error_at TEXT
        )""",
    ),
    (
        # The flagged view lists flags newest first. With the item's publication time
        # on the flag, SQLite reads flags in that order from an index; ordering by
        # items.published made every page, count and facet sort all joined rows.
        "ALTER TABLE flags ADD COLUMN published TEXT",
        "UPDATE flags SET published = (SELECT published FROM items WHERE id = flags.item_id)",
        "CREATE INDEX flags_published ON flags(published, item_id)",
        # Kept equal to items.published by the database, whoever writes the flag.
        """CREATE TRIGGER flags_published_insert AFTER INSERT ON flags
        WHEN new.published IS NULL BEGIN
            UPDATE flags SET published = (SELECT published FROM items WHERE id = new.item_id)
            WHERE item_id = new.item_id AND topic = new.topic;
        END""",
        """CREATE TRIGGER items_published_update AFTER UPDATE OF published ON items BEGIN
            UPDATE flags SET published = new.published WHERE item_id = new.id;
        END""",
        # Covers the join from an item to its feeds (the views' "one row per outlet"),
        # so it needs no read of item_feeds rows; it replaces the index on item_id alone.
        "CREATE INDEX item_feeds_item_id_feed_id ON item_feeds(item_id, feed_id)",
        "DROP INDEX item_feeds_item_id",
    ),
    (
        # New items are indexed for search in batches (``Store.index_pending``), not one
        # feed's items at a time: the triggers below, recreated after the migrations,
        # only touch the items already indexed.
        "DROP TRIGGER IF EXISTS items_fts_insert",
        "DROP TRIGGER IF EXISTS items_fts_delete",
        "DROP TRIGGER IF EXISTS items_fts_update",
    ),
    (
        # NUMBERED_BANDS: bands are numbers made of 32-bit MinHash values, not text
        # digests, so the table takes fewer pages and a batch writes its rows in less
        # time. The rows of earlier versions are worked out again from their items'
        # titles (``Store.migrate``), then their table goes.
        f"ALTER TABLE story_bands RENAME TO {TEXT_BANDS_TABLE}",
        """CREATE TABLE story_bands (
            band INTEGER NOT NULL,
            item_id INTEGER NOT NULL REFERENCES items(id),
            PRIMARY KEY (band, item_id)
        ) WITHOUT ROWID""",
    ),
    (
        # A running service holds back a topic edit that would flag too many recent
        # items (``Settings.topic_guard_share``): why, and since when, for ``status``.
        "ALTER TABLE service_runs ADD COLUMN topics_held_back TEXT",
        "ALTER TABLE service_runs ADD COLUMN topics_held_back_at TEXT",
    ),
    (
        # A gone feed (410, or failing for ``gone_after``) is no longer polled: the
        # feed_health view gains ``polling`` and ``resume_with`` (views are created again
        # after the migrations).
        "DROP VIEW IF EXISTS feed_health",
    ),
    (
        # Retention (#21): ``polls`` rows older than ``[retention] polls`` are deleted,
        # their counts kept here, one row per feed and UTC day, so feed-health history
        # survives them. Written in the same transaction as the deletion.
        """CREATE TABLE poll_days (
            feed_id INTEGER NOT NULL REFERENCES feeds(id),
            day TEXT NOT NULL,
            polls INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            not_modified INTEGER NOT NULL DEFAULT 0,
            new_items INTEGER NOT NULL DEFAULT 0,
            updated_items INTEGER NOT NULL DEFAULT 0,
            new_flags INTEGER NOT NULL DEFAULT 0,
            bytes INTEGER NOT NULL DEFAULT 0,
            duration_ms INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (feed_id, day)
        ) WITHOUT ROWID""",
    ),
    (
        # The analyst's desk (#17). A review is never updated or deleted: two analysts
        # marking one flag at once both keep their row and the latest one decides.
        # Reviews name the item by URL as well as id, and no rescore or topic edit
        # touches them, so they outlive the flags they judged.
        """CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items(id),
            item_url TEXT NOT NULL,
            story_id INTEGER,
            scope TEXT NOT NULL CHECK (scope IN ('flag', 'story')),
            topic TEXT NOT NULL DEFAULT '',
            label TEXT NOT NULL CHECK (label IN ('right', 'wrong', 'important')),
            note TEXT NOT NULL DEFAULT '',
            reviewer TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '',
            reviewed_at TEXT NOT NULL
        )""",
        "CREATE INDEX reviews_item_id ON reviews(item_id, reviewed_at)",
        "CREATE INDEX reviews_story_id ON reviews(story_id, reviewed_at)",
        # What an analyst has seen: flags after seen_through are "new" on the desk.
        """CREATE TABLE desk_marks (
            analyst TEXT PRIMARY KEY,
            seen_through TEXT NOT NULL
        )""",
        # The desk lists flags newest flagged first, whatever the topic.
        "CREATE INDEX flags_flagged_at ON flags(flagged_at, item_id)",
    ),
    (
        # Developments: the flagged items of one event, over days, outlets and languages
        # (``tracker.developments``). Each flag names its development and its role in
        # it; the developments of the flags a database already has are worked out by
        # ``Store.migrate`` (``DEVELOPMENTS``).
        """CREATE TABLE developments (
            id INTEGER PRIMARY KEY,
            topic TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            first_item_id INTEGER REFERENCES items(id),
            first_outlet TEXT NOT NULL DEFAULT '',
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            reports INTEGER NOT NULL DEFAULT 0,
            updates INTEGER NOT NULL DEFAULT 0,
            outlet_count INTEGER NOT NULL DEFAULT 0,
            outlets TEXT NOT NULL DEFAULT '[]',
            languages TEXT NOT NULL DEFAULT '[]',
            keys TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX developments_topic_last_seen ON developments(topic, last_seen)",
        "CREATE INDEX developments_last_seen ON developments(last_seen)",
        "ALTER TABLE flags ADD COLUMN development_id INTEGER REFERENCES developments(id)",
        "ALTER TABLE flags ADD COLUMN development_role TEXT",
        "CREATE INDEX flags_development_id ON flags(development_id, published)",
    ),
    (
        # Items of news aggregators (Google News, Bing News) name the outlet that
        # published the article: the item's outlet is its publisher, the feed stays
        # the feed. Empty for ordinary feeds. Not searchable text (not in items_fts).
        "ALTER TABLE items ADD COLUMN publisher TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE items ADD COLUMN publisher_url TEXT NOT NULL DEFAULT ''",
        # Article text, fetched after the poll for relevant items whose feed text is too
        # short to decide (``articles``). Stored beside the feed's text, not in items_fts:
        # a new column in that external-content index means rebuilding it whole, which
        # on a database of millions of items would hold the upgrade for minutes.
        "ALTER TABLE items ADD COLUMN article_text TEXT NOT NULL DEFAULT ''",
        # '' not tried, 'ok', 'empty' (no article text in the page), 'robots', or an
        # error kind of the fetch (blocked, timeout, too_large, http...).
        "ALTER TABLE items ADD COLUMN article_status TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE items ADD COLUMN article_error TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE items ADD COLUMN article_fetched_at TEXT",
    ),
    # Adaptive tracking: a report the rules did not flag that joins a flagged
    # development is flagged for it (reasons: "joins development N: ..."); 1 marks
    # those flags, which a regrouping works out again.
    ("ALTER TABLE flags ADD COLUMN adaptive INTEGER NOT NULL DEFAULT 0",),
    (
        # Items stored before aggregator links were unwrapped (Bing click-throughs, older
        # Google News ids) get their article's URL, merged into the item already stored
        # there: ``Store.migrate`` does it (``AGGREGATOR_URLS``, ``store.merging``).
        AGGREGATOR_URLS_MARK,
    ),
    (
        # Surges: a development spread to several new outlets within a window, or
        # reached a new language (``tracker.surges``). A surge alerts once; one found
        # by a rescore, or reached through a backlog, is history (``quiet``: never
        # alerted). ``outlets`` is a JSON list: the new outlets, or the outlets that
        # first carried the new ``language``.
        """CREATE TABLE development_surges (
            id INTEGER PRIMARY KEY,
            development_id INTEGER NOT NULL REFERENCES developments(id) ON DELETE CASCADE,
            topic TEXT NOT NULL,
            kind TEXT NOT NULL,
            language TEXT NOT NULL DEFAULT '',
            outlets TEXT NOT NULL DEFAULT '[]',
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            item_id INTEGER REFERENCES items(id) ON DELETE SET NULL,
            reason TEXT NOT NULL,
            detected_at TEXT NOT NULL,
            notified_at TEXT,
            quiet INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX development_surges_development ON development_surges(development_id)",
        "CREATE INDEX development_surges_unnotified ON development_surges(notified_at) "
        "WHERE notified_at IS NULL",
        # The desk reviews a whole development (scope 'development': every report of
        # the development the reviewed item is in). SQLite cannot change a CHECK in
        # place: the table is copied into its new form, rows and ids kept.
        """CREATE TABLE reviews_new (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items(id),
            item_url TEXT NOT NULL,
            story_id INTEGER,
            scope TEXT NOT NULL CHECK (scope IN ('flag', 'story', 'development')),
            topic TEXT NOT NULL DEFAULT '',
            label TEXT NOT NULL CHECK (label IN ('right', 'wrong', 'important')),
            note TEXT NOT NULL DEFAULT '',
            reviewer TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '',
            reviewed_at TEXT NOT NULL
        )""",
        "INSERT INTO reviews_new SELECT id, item_id, item_url, story_id, scope, topic, label, "
        "note, reviewer, source, reviewed_at FROM reviews",
        "DROP TABLE reviews",
        "ALTER TABLE reviews_new RENAME TO reviews",
        "CREATE INDEX reviews_item_id ON reviews(item_id, reviewed_at)",
        "CREATE INDEX reviews_story_id ON reviews(story_id, reviewed_at)",
    ),
    (
        # The desk reads of each development it lists only what it shows: its newest
        # flag, its best-scoring one, its newest and its first reports, each from an
        # index, so an entry (and a page of a development's timeline) costs the same
        # for a development of ten reports or of ten thousand.
        "CREATE INDEX flags_development_flagged_at ON flags(development_id, topic, flagged_at)",
        "CREATE INDEX flags_development_score ON flags(development_id, topic, score)",
        # A development's timeline, a page at a time, oldest first (ties by item).
        "CREATE INDEX flags_development_published ON flags(development_id, published, item_id)",
    ),
    (
        # The entities of a topic (its ``[entities.<name>]`` alias sets) each item's
        # title or summary names, relevant or not, as the matcher found them with the
        # item's other verdicts: adaptive tracking weighs a cycle's reports naming one
        # without matching every new report again. Replaced with the item's matches.
        """CREATE TABLE item_entities (
            item_id INTEGER NOT NULL REFERENCES items(id),
            topic TEXT NOT NULL,
            entity TEXT NOT NULL,
            PRIMARY KEY (item_id, topic, entity)
        ) WITHOUT ROWID""",
        "CREATE INDEX item_entities_topic ON item_entities(topic, entity)",
    ),
)


def outlet_of(items: str) -> str:
    """An item's outlet as users see it, for the items table under the name ``items``
    joined to ``feeds``: its publisher (aggregator items), else the feed's configured
    name, else its title, else its URL."""
    return (
        f"COALESCE(NULLIF({items}.publisher, ''), NULLIF(feeds.name, ''), "
        "NULLIF(feeds.title, ''), feeds.url)"
    )


# The outlet of ``items``: used by the views below, the stores, the Datasette queries.
OUTLET = outlet_of("items")
# An item's language: the detected one, else its feed's configured one, lower case.
LANGUAGE = "LOWER(COALESCE(NULLIF(items.language, ''), feeds.language, ''))"

# Per development and day (UTC): its reports, the outlets and languages it reached
# that day for the first time, and how many it had reached by then.
_FIRSTS = """SELECT development_id, {0} AS name, MIN(published) AS at FROM reached
             WHERE {0} != '' GROUP BY development_id, {0}"""
_NEW_ON_DAY = """(SELECT GROUP_CONCAT(name, ', ') FROM (SELECT name FROM {0} AS firsts
    WHERE firsts.development_id = days.development_id AND substr(firsts.at, 1, 10) = days.day
    ORDER BY firsts.at, firsts.name))"""
_BY_DAY = """(SELECT COUNT(*) FROM {0} AS firsts WHERE firsts.development_id =
    days.development_id AND substr(firsts.at, 1, 10) <= days.day)"""
DEVELOPMENT_COVERAGE = f"""
    WITH reached AS (
        SELECT flags.development_id, developments.topic, flags.item_id, flags.published,
               {OUTLET} AS outlet, {LANGUAGE} AS language
        FROM flags
        JOIN developments ON developments.id = flags.development_id
        JOIN items ON items.id = flags.item_id
        JOIN item_feeds ON item_feeds.item_id = items.id
        JOIN feeds ON feeds.id = item_feeds.feed_id),
    outlet_firsts AS ({_FIRSTS.format("outlet")}),
    language_firsts AS ({_FIRSTS.format("language")}),
    days AS (
        SELECT development_id, topic, substr(published, 1, 10) AS day,
               COUNT(DISTINCT item_id) AS reports
        FROM reached GROUP BY development_id, day)
    SELECT days.development_id, days.topic, days.day, days.reports,
           COALESCE({_NEW_ON_DAY.format("outlet_firsts")}, '') AS new_outlets,
           COALESCE({_NEW_ON_DAY.format("language_firsts")}, '') AS new_languages,
           {_BY_DAY.format("outlet_firsts")} AS outlets_by_then,
           {_BY_DAY.format("language_firsts")} AS languages_by_then
    FROM days
    ORDER BY days.development_id, days.day"""

FTS_TABLE = "items_fts"
FTS_COLUMNS = ("title", "summary", "content")

# The items up to this id are in the full-text index: FTS5 keeps one row per indexed
# document in its ``docsize`` table, written in the same transaction as the index.
# Items are numbered in the order they are stored and indexed in that order, in
# batches (``Store.index_pending``): the few newest items wait for the next batch, and
# so do their ``story_bands`` rows (the batch that indexes an item writes its bands).
FTS_INDEXED_THROUGH = "(SELECT COALESCE(MAX(id), 0) FROM items_fts_docsize)"

# Keep the indexed items in sync; the ones still waiting are indexed as they are then.
# The update trigger fires only when the searchable text changes, so updating an
# item's other columns never rewrites the index. The insert trigger only catches an
# item inserted below the indexed ones (by hand: tracker numbers items upwards).
FTS_TRIGGERS: tuple[str, ...] = (
    f"""CREATE TRIGGER IF NOT EXISTS items_fts_insert AFTER INSERT ON items
    WHEN new.id <= {FTS_INDEXED_THROUGH} BEGIN
        INSERT INTO items_fts (rowid, title, summary, content)
        VALUES (new.id, new.title, new.summary, new.content);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS items_fts_delete AFTER DELETE ON items
    WHEN old.id <= {FTS_INDEXED_THROUGH} BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, summary, content)
        VALUES ('delete', old.id, old.title, old.summary, old.content);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS items_fts_update
    AFTER UPDATE OF title, summary, content ON items
    WHEN old.id <= {FTS_INDEXED_THROUGH} BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, summary, content)
        VALUES ('delete', old.id, old.title, old.summary, old.content);
        INSERT INTO items_fts (rowid, title, summary, content)
        VALUES (new.id, new.title, new.summary, new.content);
    END""",
)

VIEWS: dict[str, str] = {
    "development_coverage": DEVELOPMENT_COVERAGE,
    # flags.published is items.published (migration 2): the order comes from an index.
    "flagged": f"""
        SELECT items.id AS item_id, items.url, items.title,
               COALESCE(NULLIF(feeds.name, ''), NULLIF(feeds.title, ''), feeds.url) AS feed,
               feeds.id AS feed_id, items.published, flags.topic, flags.score,
               flags.reasons, flags.seed_terms, items.story_id, items.language,
               flags.flagged_at, flags.backlog, items.summary, flags.development_id,
               flags.development_role, {OUTLET} AS publisher,
               flags.adaptive
        FROM flags
        JOIN items ON items.id = flags.item_id
        JOIN item_feeds ON item_feeds.item_id = items.id
        JOIN feeds ON feeds.id = item_feeds.feed_id
        ORDER BY flags.published DESC, flags.item_id DESC""",
    "flagged_stories": f"""
        SELECT items.story_id, flags.topic, MAX(flags.score) AS score,
               (SELECT title FROM items AS first WHERE first.id = items.story_id) AS title,
               (SELECT url FROM items AS first WHERE first.id = items.story_id) AS url,
               COUNT(DISTINCT item_feeds.feed_id) AS outlets,
               COUNT(DISTINCT items.id) AS copies,
               GROUP_CONCAT(DISTINCT COALESCE(NULLIF(feeds.name, ''), NULLIF(feeds.title, ''),
                 feeds.url)) AS feeds,
               GROUP_CONCAT(DISTINCT {OUTLET}) AS publishers,
               MIN(items.published) AS first_published,
               MAX(items.published) AS last_published,
               MIN(flags.flagged_at) AS first_flagged_at
        FROM flags
        JOIN items ON items.id = flags.item_id
        JOIN item_feeds ON item_feeds.item_id = items.id
        JOIN feeds ON feeds.id = item_feeds.feed_id
        GROUP BY items.story_id, flags.topic
        ORDER BY last_published DESC""",
    "relevant": f"""
        SELECT items.id AS item_id, items.url, items.title,
               COALESCE(NULLIF(feeds.name, ''), NULLIF(feeds.title, ''), feeds.url) AS feed,
               items.published, assessments.topic, assessments.flagged,
               assessments.score, items.story_id, items.language,
               (SELECT GROUP_CONCAT(DISTINCT group_name) FROM matches
                 WHERE matches.item_id = items.id AND matches.topic = assessments.topic)
                 AS groups,
               {OUTLET} AS publisher
        FROM assessments
        JOIN items ON items.id = assessments.item_id
        JOIN item_feeds ON item_feeds.item_id = items.id
        JOIN feeds ON feeds.id = item_feeds.feed_id
        WHERE assessments.relevant
        ORDER BY items.published DESC, items.id DESC""",
    "feed_health": """
        SELECT feeds.id, feeds.url, COALESCE(NULLIF(feeds.title, ''), feeds.name) AS title,
               feeds.configured, feeds.gone, feeds.last_polled_at, feeds.last_success_at,
               feeds.last_status, feeds.last_error_kind, feeds.last_error, feeds.failing_since,
               feeds.consecutive_failures, feeds.next_poll_at, feeds.poll_interval_seconds,
               (SELECT COUNT(*) FROM item_feeds WHERE item_feeds.feed_id = feeds.id) AS items,
               COALESCE(
                 (SELECT AVG(duration_ms) FROM (SELECT duration_ms FROM polls
                   WHERE polls.feed_id = feeds.id ORDER BY started_at DESC LIMIT 20)),
                 (SELECT SUM(duration_ms) * 1.0 / SUM(polls) FROM (SELECT * FROM poll_days
                   WHERE poll_days.feed_id = feeds.id ORDER BY day DESC LIMIT 7)))
                 AS avg_duration_ms,
               CASE WHEN NOT feeds.configured THEN 'not configured'
                    WHEN feeds.gone THEN 'stopped' ELSE 'yes' END AS polling,
               CASE WHEN feeds.gone THEN 'tracker feeds resume ' || feeds.url END
                 AS resume_with
        FROM feeds
        ORDER BY feeds.consecutive_failures DESC, feeds.title""",
}

SCHEMA_VERSION = len(MIGRATIONS)
# The version that adds developments (found, not written: migrations may be renumbered).
DEVELOPMENTS = next(
    number + 1
    for number, statements in enumerate(MIGRATIONS)
    if statements[0].startswith("CREATE TABLE developments")
)
# The version that unwraps aggregator links of items already stored (found likewise).
AGGREGATOR_URLS = MIGRATIONS.index((AGGREGATOR_URLS_MARK,)) + 1
