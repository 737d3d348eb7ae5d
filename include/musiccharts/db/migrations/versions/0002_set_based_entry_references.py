"""ranking_entries: set-based reference integrity instead of row-level foreign keys.

Why: ``ranking_entries`` is the table every chart load writes, ~200 rows per ranking and millions in all.
Its two row-level foreign keys (``ranking_id``, ``track_id``) fire one RI trigger per row and key, a lookup
plus a ``FOR KEY SHARE`` lock each: measured with ``bench/bench_ranking_load.py`` (100,000 entries), they
took 0.78 s of a 1.37 s entry insert, more than the raw COPY of the same rows (0.47 s). The same guarantees
are kept at the level of sets:

- inserts and updates: the chart loader (``musiccharts.charts.load``) is the table's writer. It resolves
  both ids inside its own transaction and holds the referenced rankings and tracks (``FOR KEY SHARE``, as
  the foreign keys did) until commit, and ``check_ranking_quality`` verifies every stored ranking's
  references after the load;
- deleting rankings still deletes their entries (was ``ON DELETE CASCADE``), and deleting a track that
  entries still reference still fails with ``foreign_key_violation`` (was ``NO ACTION``): one
  statement-level trigger each, with a transition table, so a bulk delete costs one set-based statement.

``TRUNCATE rankings`` or ``tracks`` alone no longer refuses to run while entries exist; the only TRUNCATE in
the project (``truncate_all``) empties every data table at once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE_SQL = """
ALTER TABLE ranking_entries
    DROP CONSTRAINT ranking_entries_ranking_id_fkey,
    DROP CONSTRAINT ranking_entries_track_id_fkey;

CREATE FUNCTION delete_entries_of_deleted_rankings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM ranking_entries e USING deleted_rankings d WHERE e.ranking_id = d.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER rankings_delete_entries AFTER DELETE ON rankings
    REFERENCING OLD TABLE AS deleted_rankings
    FOR EACH STATEMENT EXECUTE FUNCTION delete_entries_of_deleted_rankings();

CREATE FUNCTION forbid_deleting_ranked_tracks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    referenced record;
BEGIN
    SELECT d.id, d.uuid, e.ranking_id INTO referenced
    FROM deleted_tracks d JOIN ranking_entries e ON e.track_id = d.id
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'track % (%) is still referenced by ranking_entries of ranking %',
            referenced.id, referenced.uuid, referenced.ranking_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER tracks_forbid_deleting_ranked AFTER DELETE ON tracks
    REFERENCING OLD TABLE AS deleted_tracks
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_deleting_ranked_tracks();
"""

DOWNGRADE_SQL = """
DROP TRIGGER tracks_forbid_deleting_ranked ON tracks;
DROP FUNCTION forbid_deleting_ranked_tracks();
DROP TRIGGER rankings_delete_entries ON rankings;
DROP FUNCTION delete_entries_of_deleted_rankings();
ALTER TABLE ranking_entries
    ADD CONSTRAINT ranking_entries_ranking_id_fkey
        FOREIGN KEY (ranking_id) REFERENCES rankings (id) ON DELETE CASCADE,
    ADD CONSTRAINT ranking_entries_track_id_fkey FOREIGN KEY (track_id) REFERENCES tracks (id);
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
