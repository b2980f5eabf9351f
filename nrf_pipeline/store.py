"""The `nrf.assessment` table: one row per assessment, written as the run goes (reference-data.md §3.4).

No e-mail address, message body or quote body is ever stored here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry.base import BaseGeometry

from nrf_pipeline.db.models import Assessment

_table = Assessment.__table__


def _now() -> datetime:
    return datetime.now(UTC)


def start_assessment(conn: sa.Connection, *, run_id: str, reference: str, trace_id: str | None,
                     sqs_message_id: str | None, nutrient_method_version: str, gcn_method_version: str | None,
                     release_id: int | None, data_versions: dict) -> uuid.UUID:
    """Insert the `running` row for this run, or return the existing one (an op retry)."""
    existing = conn.execute(sa.select(_table.c.assessment_id).where(_table.c.pipeline_run_id == run_id)).scalar()
    if existing:
        return existing
    assessment_id = uuid.uuid4()
    now = _now()
    conn.execute(_table.insert().values(
        assessment_id=assessment_id, reference=reference, pipeline_run_id=run_id, sqs_message_id=sqs_message_id,
        trace_id=trace_id, nutrient_method_version=nutrient_method_version, gcn_method_version=gcn_method_version,
        release_id=release_id, data_versions=data_versions, status="running", callback_status="not_sent",
        started_at=now, updated_at=now,
    ))
    return assessment_id


def update(conn: sa.Connection, assessment_id: uuid.UUID, **values) -> None:
    conn.execute(_table.update().where(_table.c.assessment_id == assessment_id).values(**values, updated_at=_now()))


def record_result(conn: sa.Connection, assessment_id: uuid.UUID, *, inputs: dict, site: BaseGeometry,
                  result: dict, payload: dict, edps_sha256: str, outcome: str) -> None:
    update(conn, assessment_id, inputs=inputs, site_geom=from_shape(site, srid=27700), result=result,
           payload=payload, edps_sha256=edps_sha256, outcome=outcome)


def record_callback(conn: sa.Connection, assessment_id: uuid.UUID, *, http_status: int | None, sent: bool,
                    run_id: str) -> None:
    """After the PATCH: a re-executed run takes over the row, so pipeline_run_id names the run that sent."""
    values = {"callback_status": "sent" if sent else "failed", "callback_http_status": http_status}
    if sent:
        values |= {"status": "succeeded", "finished_at": _now(), "error_code": None, "error_summary": None,
                   "pipeline_run_id": run_id}
    update(conn, assessment_id, **values)


def record_failure(conn: sa.Connection, run_ids: list[str], *, error_code: str,
                   error_summary: str) -> uuid.UUID | None:
    """Mark the assessment of a failed run failed (never a succeeded one); returns its id if the run got
    that far. `run_ids`: the run and, for a re-execution, its root run, which created the row."""
    row = conn.execute(
        _table.update()
        .where(_table.c.pipeline_run_id.in_(run_ids), _table.c.status != "succeeded")
        .values(status="failed", error_code=error_code, error_summary=error_summary[:500], finished_at=_now(),
                updated_at=_now())
        .returning(_table.c.assessment_id)
    ).first()
    return row[0] if row else None


def applicant_already_emailed(conn: sa.Connection, reference: str, edps_sha256: str) -> bool:
    return conn.execute(sa.select(sa.literal(True)).where(
        _table.c.reference == reference, _table.c.edps_sha256 == edps_sha256,
        _table.c.applicant_email_status == "sent",
    ).limit(1)).scalar() is not None
