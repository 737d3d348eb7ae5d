"""Song analysis on Airflow: the per-song deferrable operator and the tasks around it.

Per song (one mapped task instance, labelled by the song's title):

1. ``execute`` (worker): open or reopen the song's analysis; read the audio through ``ObjectStoragePath``
   (local files by default, any fsspec URL in production); refuse empty, oversized, unknown or corrupt
   files for this song only; cut a <= 12 s identification sample by decoding (WAV, MP3, FLAC, Ogg, M4A);
   upload to File Scanning unless the analysis already has a file (an upload whose answer was lost is
   found again by its unique name); identify the sample; then **defer**.
2. The wait runs on the triggerer (:class:`AcrCloudScanTrigger`): no worker slot, no pool slot.
3. ``execute_complete`` (worker): read the results (from the callback already stored, else one GET),
   store every match, link matches to catalogue tracks by ISRC, store AI detection, build the risk
   report, and mark the song ``analyzed`` (or ``failed`` with the reason).

Every step is idempotent: a cleared or retried task finds the analysis in the database and neither
uploads again nor duplicates a row; an analysis that already ended is rebuilt from stored results only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NoReturn

from airflow.sdk import Asset, BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from musiccharts_airflow.governance import notify_failure

__all__ = [
    "SONGS_UPLOADED_ASSET",
    "AnalyzeSongOperator",
    "SongAnalysisFailed",
    "collect_songs",
    "mark_song_failed_on_task_failure",
    "report_batch",
]

log = logging.getLogger(__name__)

#: Songs were stored (status uploaded); the event's ``extra.song_ids`` may name them.
SONGS_UPLOADED_ASSET = Asset("songs_uploaded")

_SCAN_STATE_TEXT = {-1: "no results", -2: "the file could not be decoded", -3: "the scan failed"}


class SongAnalysisFailed(AirflowFailException):
    """This song cannot be analysed as it is (bad file, scan error, no result before the deadline)."""


def _require(analysis: Any) -> Any:
    if analysis is None:
        raise AirflowException("the song's analysis row is missing (was it deleted during the run?)")
    return analysis


def _dsn() -> str:
    from musiccharts_airflow.product_db import product_dsn

    return product_dsn()


def collect_songs(
    params: dict[str, Any], asset_song_ids: Sequence[int], *, statuses: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """The songs of this run: Params (ids, or audio paths/URLs with title and artist), the triggering Asset
    events' song ids, else every song in ``statuses``. New paths are registered as ``uploaded`` songs."""
    from musiccharts.analysis.store import register_song, select_songs
    from musiccharts.db.connection import connect

    song_ids = [int(value) for value in params.get("song_ids") or []]
    audio = params.get("audio") or []
    with connect(_dsn()) as conn:
        for entry in audio:
            if not isinstance(entry, dict) or not entry.get("path"):
                raise AirflowFailException(f"each 'audio' entry needs path, title and artist: {entry!r}")
            path = str(entry["path"])
            song_ids.append(
                register_song(
                    conn,
                    title=str(entry.get("title") or ""),
                    artist=str(entry.get("artist") or ""),
                    audio_uri=path,
                    original_filename=path.rstrip("/").rsplit("/", 1)[-1],
                )
            )
        song_ids.extend(int(value) for value in asset_song_ids)
        chosen = sorted(set(song_ids))
        songs = select_songs(conn, song_ids=chosen or None, statuses=statuses, limit=limit)
    missing = sorted(set(chosen) - {song.id for song in songs})
    if missing:
        log.warning("songs not found, skipped: %s", missing)
    log.info("analysing %d song(s)", len(songs))
    return [{"id": song.id, "title": song.title} for song in songs]


def mark_song_failed_on_task_failure(context: dict[str, Any]) -> None:
    """Failure callback: a failed task's song becomes ``failed`` with the error, never left processing."""
    try:
        from musiccharts.analysis.store import fail_song
        from musiccharts.db.connection import connect

        task = context.get("task")
        song = getattr(task, "song", None) or {}
        error = context.get("exception")
        # SongAnalysisFailed has already recorded its own reason.
        if song.get("id") is not None and not isinstance(error, SongAnalysisFailed):
            with connect(_dsn()) as conn:
                fail_song(
                    conn, int(song["id"]), f"{type(error).__name__}: {error}" if error else "task failed"
                )
    except Exception:  # the alert below must still go out
        log.exception("could not mark the song failed")
    notify_failure(context)


class AnalyzeSongOperator(BaseOperator):
    """Analyse one song (``song`` = ``{"id", "title"}``) with ACRCloud; see the module docstring."""

    template_fields: Sequence[str] = ()

    def __init__(
        self,
        *,
        song: dict[str, Any],
        acrcloud_conn_id: str = "acrcloud_default",
        identify_conn_id: str = "acrcloud_identify",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.song = song
        self.acrcloud_conn_id = acrcloud_conn_id
        self.identify_conn_id = identify_conn_id

    # --- before the wait --------------------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, Any] | None:
        from musiccharts.analysis import store
        from musiccharts.analysis.audio import AudioProblem, cut_identification_sample, inspect_audio
        from musiccharts.analysis.config import load_analysis_config
        from musiccharts.db.connection import connect
        from musiccharts_airflow.hooks.acrcloud import AcrCloudFileScanningHook, AcrCloudIdentificationHook

        config = load_analysis_config()
        song_id = int(self.song["id"])
        with connect(_dsn()) as conn:
            found = store.select_songs(conn, song_ids=[song_id])
            if not found:
                raise AirflowFailException(f"song {song_id} does not exist")
            song = found[0]
            analysis = store.start_analysis(conn, song, context["run_id"])
        # Re-running a song that failed because ACRCloud's scan ended in error: scan the same file again.
        rescan_needed = song.status == "failed" and analysis.scan_state in (-2, -3)
        if analysis.status == "analyzed" or analysis.scan_state in (1, -1):
            # The scan already ended well (an earlier try, a cleared task, the callback): nothing to call.
            return self._finish(context, analysis.id, polls=0, via="stored")

        fs_hook = AcrCloudFileScanningHook(self.acrcloud_conn_id)
        if analysis.file_id is None or analysis.identification is None:
            try:
                audio = self._read_audio(song.audio_uri)
                info = inspect_audio(audio, max_bytes=config.audio.max_file_bytes)
            except AudioProblem as problem:
                self._fail(song_id, str(problem))
            sample = None
            if analysis.identification is None and info.decodable:
                # Cut before uploading: audio that cannot be decoded fails here, before any ACRCloud call.
                try:
                    sample = cut_identification_sample(
                        audio,
                        seconds=config.identification.sample_seconds,
                        max_bytes=config.identification.max_sample_bytes,
                        offset_seconds=config.identification.sample_offset_seconds,
                    )
                except AudioProblem as problem:
                    self._fail(song_id, str(problem))
            if analysis.file_id is None:
                self._upload(fs_hook, analysis, audio, info, config)
            if analysis.identification is None:
                if sample is not None:
                    body = AcrCloudIdentificationHook(self.identify_conn_id).identify(sample)
                else:
                    body = {"skipped": f"no local decoder for {info.format}: identification sample not cut"}
                with connect(_dsn()) as conn:
                    store.store_identification(conn, analysis.id, body)
        with connect(_dsn()) as conn:
            analysis = _require(store.get_analysis(conn, song_id=song_id))
        if analysis.file_id is None:
            raise AirflowException(f"song {song_id}: no ACRCloud file recorded after the upload")
        if rescan_needed:
            fs_hook.rescan(analysis.file_id)
            with connect(_dsn()) as conn:
                conn.execute(
                    "UPDATE song_analyses SET scan_state = 0, callback_received_at = NULL, "
                    "scan_finished_at = NULL WHERE id = %s",
                    (analysis.id,),
                )
        elif analysis.scan_state is not None and analysis.scan_state != 0:
            # The callback arrived while this task was still identifying: no need to wait at all.
            return self._finish(context, analysis.id, polls=0, via="callback")
        self._defer(analysis.id, analysis.file_id, config)
        return None

    @staticmethod
    def _read_audio(audio_uri: str) -> bytes:
        from airflow.sdk import ObjectStoragePath

        from musiccharts.analysis.audio import AudioProblem

        try:
            return ObjectStoragePath(audio_uri).read_bytes()
        except FileNotFoundError as error:
            raise AudioProblem(f"the audio file does not exist: {audio_uri}") from error
        except IsADirectoryError as error:
            raise AudioProblem(f"the audio path is a directory: {audio_uri}") from error
        except PermissionError as error:
            raise AudioProblem(f"the audio file cannot be read (permission denied): {audio_uri}") from error

    def _upload(self, fs_hook: Any, analysis: Any, audio: bytes, info: Any, config: Any) -> None:
        from musiccharts.analysis import store
        from musiccharts.db.connection import connect

        existing = None
        if analysis.upload_started_at is not None:
            # An earlier try started an upload and did not record its answer: look for it first.
            existing = fs_hook.find_file_by_name(analysis.upload_name)
        if existing is None:
            with connect(_dsn()) as conn:
                store.mark_upload_started(conn, analysis.id)
            existing = fs_hook.upload(
                audio,
                analysis.upload_name,
                info.content_type,
                presigned=len(audio) > config.audio.presigned_upload_above_bytes,
            )
        with connect(_dsn()) as conn:
            store.record_upload(conn, analysis.id, fs_hook.container_id, str(existing["id"]))
        log.info("song %s uploaded to ACRCloud as file %s", self.song["id"], existing["id"])

    def _defer(self, analysis_id: int, file_id: str, config: Any) -> None:
        from musiccharts_airflow.triggers.acrcloud_scan import AcrCloudScanTrigger

        scan = config.scan
        deadline = time.time() + scan.deadline_seconds
        self.defer(
            trigger=AcrCloudScanTrigger(
                analysis_id=analysis_id,
                file_id=file_id,
                deadline=deadline,
                acrcloud_conn_id=self.acrcloud_conn_id,
                callback_check_seconds=scan.callback_check_seconds,
                first_poll_seconds=scan.first_poll_seconds,
                poll_backoff_factor=scan.poll_backoff_factor,
                max_poll_seconds=scan.max_poll_seconds,
            ),
            method_name="execute_complete",
            # Deferrals ignore execution_timeout: the trigger's deadline fires first; this is the backstop.
            timeout=timedelta(seconds=scan.deadline_seconds + 120),
        )

    def _fail(self, song_id: int, reason: str) -> NoReturn:
        from musiccharts.analysis.store import fail_song
        from musiccharts.db.connection import connect

        with connect(_dsn()) as conn:
            fail_song(conn, song_id, reason)
        raise SongAnalysisFailed(f"song {song_id} ({self.song.get('title')}): {reason}")

    # --- after the wait ---------------------------------------------------------------------------------

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        from musiccharts.analysis.config import load_analysis_config

        event = event or {}
        status = event.get("status")
        song_id = int(self.song["id"])
        if status == "timeout":
            deadline = load_analysis_config().scan.deadline_seconds
            self._fail(
                song_id,
                f"no scan result from ACRCloud within {deadline:g} s (no callback; polls still processing)",
            )
        if status == "error":
            message = str(event.get("message"))
            if event.get("fatal"):
                self._fail(song_id, f"waiting for the scan failed: {message}")
            raise AirflowException(f"waiting for the scan failed: {message}")
        return self._finish(
            context, int(event["analysis_id"]), polls=int(event.get("polls", 0)), via=event.get("via")
        )

    def _finish(self, context: Any, analysis_id: int, *, polls: int, via: str | None) -> dict[str, Any]:
        from musiccharts.analysis import store
        from musiccharts.analysis.config import load_analysis_config
        from musiccharts.analysis.results import parse_ai_detection, parse_identification, parse_scan_results
        from musiccharts.analysis.risk import assess_risk
        from musiccharts.db.connection import connect
        from musiccharts_airflow.hooks.acrcloud import AcrCloudFileScanningHook

        config = load_analysis_config()
        song_id = int(self.song["id"])
        with connect(_dsn()) as conn:
            analysis = _require(store.get_analysis(conn, song_id=song_id))
            [song] = store.select_songs(conn, song_ids=[song_id])
        state, results = analysis.scan_state, analysis.scan_results
        if (state in (None, 0) or (state == 1 and results is None)) and analysis.file_id is not None:
            # Learnt by polling (or the callback carried no results): one GET for the results.
            scanned = AcrCloudFileScanningHook(self.acrcloud_conn_id).get_file(analysis.file_id)
            state = int(scanned.get("state", 0))
            results = scanned.get("results") if isinstance(scanned.get("results"), dict) else None
            with connect(_dsn()) as conn:
                store.record_scan(conn, analysis.id, state, results)
        if state in (-2, -3):
            self._fail(
                song_id, f"ACRCloud could not scan the file (state {state}: {_SCAN_STATE_TEXT[state]})"
            )
        if state == 0:
            raise AirflowException(f"ACRCloud file {analysis.file_id} is still processing")

        identification = analysis.identification or {}
        notes = []
        if identification.get("skipped"):
            notes.append(f"Identification skipped: {identification['skipped']}.")
        matches = parse_scan_results(results) + parse_identification(
            identification, config.identification.sample_offset_seconds
        )
        ai = parse_ai_detection(results)
        with connect(_dsn()) as conn:
            store.store_matches(conn, analysis.id, matches)
            linked = store.link_matches_by_isrc(conn, analysis.id)
            store.store_ai_detection(conn, analysis.id, ai)
            report = assess_risk(
                matches, ai, song_artist=song.artist, linked=linked, config=config.risk, notes=notes
            )
            store.store_report(conn, analysis.id, report)
            store.finish_analysis(conn, analysis.id)
        log.info("song %s (%s): %s", song_id, song.title, report.summary)
        return {
            "song_id": song_id,
            "risk_level": report.risk_level,
            "match_type": report.match_type,
            "matches": len(matches),
            "linked": len(linked),
            "via": via,
            "polls": polls,
        }


def report_batch(songs: Sequence[dict[str, Any]], deliver: Any) -> dict[str, Any]:
    """Summarise the batch and hand it to ``deliver(subject, body, severity)``; mark reports as notified.

    Songs already notified (a cleared or re-run batch) are not notified again.
    """
    from musiccharts.analysis.store import report_rows
    from musiccharts.db.connection import connect

    song_ids = [int(song["id"]) for song in songs]
    with connect(_dsn()) as conn:
        rows = report_rows(conn, song_ids)
        pending = [row for row in rows if row["notified_at"] is None]
        counts: dict[str, int] = {}
        for row in rows:
            key = row["risk_level"] if row["status"] == "analyzed" else row["status"]
            counts[key or "unknown"] = counts.get(key or "unknown", 0) + 1
        if pending:
            lines = []
            for row in pending:
                if row["status"] == "analyzed":
                    lines.append(
                        f"- [{row['risk_level'].upper()}] {row['title']} by {row['artist']}: {row['summary']}"
                    )
                    lines.extend(f"    * {advice}" for advice in row["recommendations"] or [])
                else:
                    lines.append(
                        f"- [{row['status'].upper()}] {row['title']} by {row['artist']}:"
                        f" {row['failure_reason']}"
                    )
            critical = sum(1 for row in pending if row["risk_level"] == "critical")
            subject = f"Song analysis: {len(pending)} song(s), {critical} critical"
            failed = sum(1 for row in pending if row["status"] == "failed")
            severity = "critical" if critical else "warning" if failed else "info"
            deliver(subject, "\n".join(lines), severity)
            analysed = [row["analysis_id"] for row in pending if row["risk_level"] is not None]
            conn.execute(
                "UPDATE analysis_reports SET notified_at = now() WHERE analysis_id = ANY(%s)", (analysed,)
            )
    return {"songs": len(song_ids), "notified": len(pending), "by_outcome": counts}
