"""The service's runs and the database's counts, for ``tracker status``.

Owns the ``service_runs`` table (a run started, each cycle recorded, a config
error, a topic edit held back, the stop) and the counts the status report shows.

Must not: write feeds, items or verdicts.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tracker.models import iso
from tracker.store.connection import StoreBase


class ServiceRuns(StoreBase):
    """The store's record of service runs, and its counts."""

    def counts(self) -> dict[str, int]:
        tables = ("feeds", "items", "polls", "matches", "flags")
        return {
            t: int(self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables
        }

    def feed_item_counts(self) -> dict[int, int]:
        rows = self.conn.execute("SELECT feed_id, COUNT(*) FROM item_feeds GROUP BY feed_id")
        return {int(r[0]): int(r[1]) for r in rows.fetchall()}

    def latest_service_run(self) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM service_runs ORDER BY id DESC LIMIT 1").fetchone()
        return dict(row) if row else None

    def start_service_run(self, pid: int, host: str, now: datetime) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO service_runs (pid, host, started_at) VALUES (?, ?, ?)",
                (pid, host, iso(now)),
            )
        return int(cursor.lastrowid or 0)

    def record_cycle(self, run_id: int, summary: dict[str, Any], now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE service_runs SET last_cycle_at = ?, cycles = cycles + 1, "
                "last_cycle_summary = ? WHERE id = ?",
                (iso(now), json.dumps(summary), run_id),
            )

    def record_config_error(self, run_id: int, error: str | None, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE service_runs SET config_error = ?, config_error_at = ? WHERE id = ?",
                (error, iso(now) if error else None, run_id),
            )

    def record_topics_held_back(self, run_id: int, reason: str | None, now: datetime) -> None:
        """Why the service holds back a topic edit (None: it holds none back)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE service_runs SET topics_held_back = ?, topics_held_back_at = ? "
                "WHERE id = ?",
                (reason, iso(now) if reason else None, run_id),
            )

    def stop_service_run(self, run_id: int, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE service_runs SET stopped_at = ? WHERE id = ?", (iso(now), run_id))
