"""ranking_entries and chart_exits: set-based reference integrity instead of row-level foreign keys.

Why: these two tables are what every chart load writes, ~200 entries and ~20 exits per ranking, millions of
rows in all. Their row-level foreign keys fire one RI trigger per row and key (a lookup plus a
``FOR KEY SHARE`` lock each). Measured with ``bench/bench_ranking_load.py`` (100,000 entries, 9,980 exits):
the two keys of ranking_entries took 0.78 s of a 1.37 s insert, more than the raw COPY of the same rows
(0.47 s), and the four keys of chart_exits 0.10 s more. The same guarantees are kept at the level of sets:

- inserts and updates: the chart loader (``musiccharts.charts.load``) is the writer of both tables. It
  resolves every id inside its own transaction, holds the referenced tracks (``FOR KEY SHARE``, as the
  foreign keys did) and rankings (upserted, so row-locked) until commit, derives the exits from the stored
  entries, and ``check_ranking_quality`` verifies every stored ranking's references after the load;
- deleting rankings still deletes their entries and the exits recorded from or at them (was
  ``ON DELETE CASCADE``), and deleting a track that entries or exits still reference still fails with
  ``foreign_key_violation`` (was ``NO ACTION``): one statement-level trigger each, with a transition table,
  so a bulk delete costs one set-based statement. (Deleting a chart is still refused while it has rankings,
  by the foreign key of ``rankings``, and a chart's exits only exist with its rankings.)

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
ALTER TABLE chart_exits
    DROP CONSTRAINT chart_exits_chart_id_fkey,
    DROP CONSTRAINT chart_exits_track_id_fkey,
    DROP CONSTRAINT chart_exits_last_ranking_id_fkey,
    DROP CONSTRAINT chart_exits_exit_ranking_id_fkey;

CREATE FUNCTION delete_rows_of_deleted_rankings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM chart_exits x USING deleted_rankings d
    WHERE x.exit_ranking_id = d.id OR x.last_ranking_id = d.id;
    DELETE FROM ranking_entries e USING deleted_rankings d WHERE e.ranking_id = d.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER rankings_delete_ranked_rows AFTER DELETE ON rankings
    REFERENCING OLD TABLE AS deleted_rankings
    FOR EACH STATEMENT EXECUTE FUNCTION delete_rows_of_deleted_rankings();

CREATE FUNCTION forbid_deleting_ranked_tracks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    referenced record;
BEGIN
    SELECT d.id, d.uuid, 'ranking_entries' AS referenced_by INTO referenced
    FROM deleted_tracks d WHERE EXISTS (SELECT FROM ranking_entries e WHERE e.track_id = d.id)
    LIMIT 1;
    IF NOT FOUND THEN
        SELECT d.id, d.uuid, 'chart_exits' AS referenced_by INTO referenced
        FROM deleted_tracks d WHERE EXISTS (SELECT FROM chart_exits x WHERE x.track_id = d.id)
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'track % (%) is still referenced by %',
            referenced.id, referenced.uuid, referenced.referenced_by
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
DROP TRIGGER rankings_delete_ranked_rows ON rankings;
DROP FUNCTION delete_rows_of_deleted_rankings();
ALTER TABLE chart_exits
    ADD CONSTRAINT chart_exits_chart_id_fkey FOREIGN KEY (chart_id) REFERENCES charts (id),
    ADD CONSTRAINT chart_exits_track_id_fkey FOREIGN KEY (track_id) REFERENCES tracks (id),
    ADD CONSTRAINT chart_exits_last_ranking_id_fkey
        FOREIGN KEY (last_ranking_id) REFERENCES rankings (id) ON DELETE CASCADE,
    ADD CONSTRAINT chart_exits_exit_ranking_id_fkey
        FOREIGN KEY (exit_ranking_id) REFERENCES rankings (id) ON DELETE CASCADE;
ALTER TABLE ranking_entries
    ADD CONSTRAINT ranking_entries_ranking_id_fkey
        FOREIGN KEY (ranking_id) REFERENCES rankings (id) ON DELETE CASCADE,
    ADD CONSTRAINT ranking_entries_track_id_fkey FOREIGN KEY (track_id) REFERENCES tracks (id);
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
