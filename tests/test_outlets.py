"""The outlet everywhere (#19): where Datasette and the desk show or count an item's
outlet, an aggregator's publisher stands for the feed it came through.

The database ``dbfactory`` writes, with one flagged item given a publisher (as a Google
News copy of it would have), served by the app ``tracker browse`` serves.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from dbfactory import TOPIC, populated_db
from test_datasette import get, rows

from tracker import browse
from tracker.store.schema import OUTLET

ROOT = Path(__file__).resolve().parents[1]
METADATA = ROOT / "config" / "datasette.yml"
ITEM = 1  # flagged, carried by Kabul Wire only
PUBLISHER = "Reuters"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db_path = tmp_path_factory.mktemp("outlets") / "tracker.db"
    populated_db(db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE items SET publisher = ? WHERE id = ?", (PUBLISHER, ITEM))
    conn.close()
    return browse.make_app(db_path, METADATA)


def of_item(found: list[dict[str, Any]]) -> dict[str, Any]:
    [row] = [row for row in found if row["item_id"] == ITEM]
    return row


def test_flags_per_outlet_counts_the_publisher_not_the_aggregator_feed(app: Any) -> None:
    found = {row["outlet"]: row for row in rows(app, "flags_per_outlet", topic=TOPIC)}
    assert (found[PUBLISHER]["feed"], found[PUBLISHER]["stories"]) == ("Kabul Wire", 1)
    assert found[PUBLISHER]["items"] == 1
    # Kabul Wire's other flagged stories stay its own; nothing is counted twice.
    assert found["Kabul Wire"]["stories"] == 2
    assert set(found) == {PUBLISHER, "Kabul Wire", "Daily Herald", "Radio Asia"}


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("latest_matches", {"topic": ""}),
        ("search_flagged", {"q": "Kabul"}),
        ("search_items", {"q": "Kabul"}),
    ],
)
def test_item_queries_keep_the_feed_and_add_the_publisher(
    app: Any, query: str, params: dict[str, str]
) -> None:
    found = rows(app, query, **params)
    row = of_item(found)
    assert (row["feed"], row["publisher"]) == ("Kabul Wire", PUBLISHER)
    others = [row for row in found if row["item_id"] != ITEM]
    assert others and all(row["publisher"] == row["feed"] for row in others)


def test_relevant_and_flagged_views_show_the_publisher(app: Any) -> None:
    relevant = rows(app, "relevant", topic=TOPIC)
    assert (of_item(relevant)["feed"], of_item(relevant)["publisher"]) == ("Kabul Wire", PUBLISHER)
    flagged = rows(app, "flagged", topic=TOPIC)
    assert of_item(flagged)["publisher"] == PUBLISHER


def test_story_and_atom_name_the_publisher_as_an_outlet(app: Any) -> None:
    [copy] = [row for row in rows(app, "story", story_id=str(ITEM)) if row["item_id"] == ITEM]
    assert copy["publisher"] == PUBLISHER
    atom = get(app, "/tracker/flagged_atom.atom", topic=TOPIC).text
    carried = re.findall(r"Carried by: (.*)", atom)  # each development's outlets
    assert any(PUBLISHER in outlets.split(", ") for outlets in carried)


def test_the_desk_lists_the_publisher_among_the_outlets(app: Any) -> None:
    page = get(app, "/").text
    assert PUBLISHER in page


def test_the_outlet_expression_is_written_once_and_filled_in_when_served() -> None:
    text = METADATA.read_text(encoding="utf-8")
    assert browse.OUTLET_PLACEHOLDER in text
    assert "NULLIF(items.publisher" not in text  # the expression lives in schema.OUTLET
    served = browse.metadata_for(browse.load_metadata(METADATA), browse.Site("news"))
    queries = served["databases"]["news"]["queries"]
    charts = served["plugins"]["datasette-dashboards"]["flags"]["charts"]
    sqls = [query["sql"] for query in queries.values()] + [c["query"] for c in charts.values()]
    assert not [sql for sql in sqls if browse.OUTLET_PLACEHOLDER in sql]
    assert sum(OUTLET in sql for sql in sqls) >= 8
