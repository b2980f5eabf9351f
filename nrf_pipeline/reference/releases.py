"""Releases: build with cross-layer checks (§5.2), activate, roll back, purge (§4.3–4.4), and the one
way an assessment reads which layer versions to use (§4.1)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa

from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.reference.checks import ERROR, WARN, CheckResult, run_checks
from nrf_pipeline.reference.errors import ReleaseError
from nrf_pipeline.reference.layers import LAYERS, REQUIRED_LAYERS, layer_spec
from nrf_pipeline.reference.loader import ADVISORY_LOCK, load_layer

log = logging.getLogger(__name__)

KEEP_RECENT_DAYS = 7
NOT_CATCHMENTS = ("Hotel", "Student Accommodation")  # rates rows that are not NN catchments (§2.2)


# --- reading (every assessment) -------------------------------------------------------------------

@dataclass(frozen=True)
class ActiveRelease:
    """The release an assessment reads, resolved once at the start of the run."""

    release_id: int
    versions: dict[str, int]
    sha256: dict[str, str]

    def version(self, layer: str) -> int:
        """The version to put in `WHERE version = :v` for every query of `layer`."""
        try:
            return self.versions[layer]
        except KeyError:
            raise AssessmentError("reference_data_not_active",
                                  f"layer {layer} is not in the active reference data release") from None

    def require(self, conn: sa.Connection, layers: Iterable[str]) -> None:
        """Every layer is a member and its version has rows (§4.1 step 2)."""
        for layer in layers:
            version = self.version(layer)
            has_rows = conn.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {layer_spec(layer).table} WHERE version = :v)"),
                                    {"v": version}).scalar_one()
            if not has_rows:
                raise AssessmentError("reference_data_empty", f"layer {layer} version {version} has no rows")


def resolve_active_release(conn: sa.Connection, required: Iterable[str] = ()) -> ActiveRelease:
    """Read nrf.active_reference_data once; then check the `required` layers (for example
    `NUTRIENT_LAYERS`). Record `release_id` and `versions` on the result."""
    rows = conn.execute(sa.text(
        "SELECT a.release_id, a.layer, a.version, v.source_sha256 FROM nrf.active_reference_data a "
        "JOIN nrf.reference_data_version v USING (layer, version)"
    )).all()
    if not rows:
        raise AssessmentError("reference_data_not_active", "no reference data release has been activated")
    release = ActiveRelease(rows[0].release_id, {r.layer: r.version for r in rows}, {r.layer: r.source_sha256 for r in rows})
    release.require(conn, required)
    return release


def active_release_id(conn: sa.Connection) -> int | None:
    return conn.execute(sa.text(
        "SELECT release_id FROM nrf.reference_data_activation ORDER BY activation_id DESC LIMIT 1")).scalar()


def release_members(conn: sa.Connection, release_id: int) -> dict[str, int]:
    return dict(conn.execute(sa.text("SELECT layer, version FROM nrf.reference_data_release_layer "
                                     "WHERE release_id = :r"), {"r": release_id}).all())


# --- building -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReleaseResult:
    release_id: int
    status: str  # approved | rejected
    members: dict[str, int]
    checks: list[CheckResult]

    @property
    def approved(self) -> bool:
        return self.status == "approved"


def build_release(engine: sa.Engine, layers: dict[str, int] | None = None, base_release_id: int | None = None,
                  label: str | None = None, run_id: str | None = None) -> ReleaseResult:
    """The base release's members (default: the active release) with `layers` replaced, checked
    across layers and recorded as approved or rejected."""
    with engine.begin() as conn:
        base = base_release_id if base_release_id is not None else active_release_id(conn)
        members = (release_members(conn, base) if base is not None else {}) | dict(layers or {})
        for layer in members:
            layer_spec(layer)
        checks = [_release_complete(conn, members), *_referential_checks(conn, members)]
        status = "rejected" if any(c.blocks for c in checks) else "approved"
        release_id = conn.execute(sa.text(
            "INSERT INTO nrf.reference_data_release (label, base_release_id, status, qc_report, created_by_run_id) "
            "VALUES (:label, :base, :status, CAST(:report AS jsonb), :run_id) RETURNING release_id"
        ), {"label": label, "base": base, "status": status, "run_id": run_id,
            "report": json.dumps({"members": members, "checks": [asdict(c) for c in checks]}, default=str)}).scalar_one()
        if members:
            conn.execute(sa.text("INSERT INTO nrf.reference_data_release_layer (release_id, layer, version) "
                                 "VALUES (:r, :layer, :version)"),
                         [{"r": release_id, "layer": k, "version": v} for k, v in members.items()])
    log.info("reference release %s: %s (%s)", release_id, status, ", ".join(f"{k}={v}" for k, v in sorted(members.items())))
    return ReleaseResult(release_id, status, members, checks)


def _release_complete(conn, members: dict[str, int]) -> CheckResult:
    states = {r.layer: (r.status, r.qc_status) for r in conn.execute(sa.text(
        "SELECT v.layer, v.status, v.qc_status FROM nrf.reference_data_version v "
        "JOIN unnest(CAST(:layers AS text[]), CAST(:versions AS int[])) AS m(layer, version) USING (layer, version)"
    ), {"layers": list(members), "versions": list(members.values())})}
    problems = [f"{layer}: missing" for layer in REQUIRED_LAYERS if layer not in members]
    # Optional members must have passed too: a failed version never joins an approved release.
    problems += [f"{layer} v{version}: " + ("no such version" if layer not in states else f"{states[layer][0]}, QC {states[layer][1]}")
                 for layer, version in members.items() if states.get(layer) != ("loaded", "passed")]
    return CheckResult("release_complete", not problems, ERROR,
                       "every required layer loaded and passed" if not problems else "; ".join(problems),
                       {"problems": problems})


# Each rule: name, layers it needs, and a query of the offending values (versions as parameters).
REFERENTIAL_RULES = (
    ("referential_rates_nn", ("rates_lookup", "nn_catchments"),
     "SELECT DISTINCT r.nn_catchment AS value FROM nrf.rates_lookup r WHERE r.version = :rates_lookup "
     "AND r.nn_catchment <> ALL (:not_catchments) AND NOT EXISTS (SELECT 1 FROM nrf.nn_catchments n "
     "WHERE n.version = :nn_catchments AND n.n2k_site_name = r.nn_catchment)"),
    ("referential_nn_rates", ("rates_lookup", "nn_catchments"),
     "SELECT DISTINCT n.n2k_site_name AS value FROM nrf.nn_catchments n WHERE n.version = :nn_catchments "
     "AND NOT EXISTS (SELECT 1 FROM nrf.rates_lookup r WHERE r.version = :rates_lookup "
     "AND r.nn_catchment = n.n2k_site_name)"),
    ("referential_wwtw_catchments_lookup", ("wwtw_catchments", "wwtw_lookup"),
     "SELECT DISTINCT c.wwtw_id AS value FROM nrf.wwtw_catchments c WHERE c.version = :wwtw_catchments "
     "AND NOT EXISTS (SELECT 1 FROM nrf.wwtw_lookup l WHERE l.version = :wwtw_lookup AND l.wwtw_code = c.wwtw_id)"),
    ("referential_wwtw_lookup_catchments", ("wwtw_catchments", "wwtw_lookup"),
     "SELECT DISTINCT l.wwtw_code AS value FROM nrf.wwtw_lookup l WHERE l.version = :wwtw_lookup "
     "AND l.wwtw_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM nrf.wwtw_catchments c "
     "WHERE c.version = :wwtw_catchments AND c.wwtw_id = l.wwtw_code)"),
    ("referential_wwtw_subcatchment", ("wwtw_lookup", "subcatchments"),
     "SELECT DISTINCT l.wwtw_subcatchment AS value FROM nrf.wwtw_lookup l WHERE l.version = :wwtw_lookup "
     "AND l.wwtw_subcatchment IS NOT NULL AND NOT EXISTS (SELECT 1 FROM nrf.subcatchments s "
     "WHERE s.version = :subcatchments AND s.opcat_name = l.wwtw_subcatchment)"),
    ("referential_coefficient_names", ("coefficient_layer", "nn_catchments", "subcatchments"),
     "SELECT DISTINCT value FROM (SELECT 'nn_catchment: ' || c.nn_catchment AS value FROM nrf.coefficient_layer c "
     "WHERE c.version = :coefficient_layer AND c.nn_catchment IS NOT NULL AND lower(c.nn_catchment) NOT IN "
     "(SELECT lower(n2k_site_name) FROM nrf.nn_catchments WHERE version = :nn_catchments) "
     "UNION ALL SELECT 'subcatchment: ' || c.subcatchment FROM nrf.coefficient_layer c "
     "WHERE c.version = :coefficient_layer AND c.subcatchment IS NOT NULL AND lower(c.subcatchment) NOT IN "
     "(SELECT lower(opcat_name) FROM nrf.subcatchments WHERE version = :subcatchments)) s"),
)


def _referential_checks(conn, members: dict[str, int]) -> list[CheckResult]:
    """WARN only (§5.2 decision): clipped test layers and national lookups never match fully."""
    results = []
    for name, needs, query in REFERENTIAL_RULES:
        if not all(layer in members for layer in needs):
            results.append(CheckResult(name, True, WARN, "skipped: a layer is not in the release"))
            continue
        params = {layer: members[layer] for layer in needs} | ({"not_catchments": list(NOT_CATCHMENTS)}
                                                                if "not_catchments" in query else {})
        values = sorted(str(v) for v in conn.execute(sa.text(query), params).scalars())
        results.append(CheckResult(name, not values, WARN,
                                   "all match" if not values else f"{len(values)} unmatched: {values[:20]}",
                                   {"count": len(values), "values": values[:20]}))
    return results


# --- activation and rollback ------------------------------------------------------------------------

def activate_release(engine: sa.Engine, release_id: int, reason: str | None = None, activated_by: str | None = None,
                     action: str = "activate") -> int:
    """The atomic switch: one insert into the append-only log, under the advisory lock."""
    with engine.begin() as conn:
        conn.execute(ADVISORY_LOCK)
        status = conn.execute(sa.text("SELECT status FROM nrf.reference_data_release WHERE release_id = :r"),
                              {"r": release_id}).scalar()
        if status is None:
            raise ReleaseError(f"release {release_id} does not exist")
        if status != "approved":
            raise ReleaseError(f"release {release_id} is {status}, not approved")
        unusable = conn.execute(sa.text(
            "SELECT m.layer || ' v' || m.version FROM nrf.reference_data_release_layer m "
            "JOIN nrf.reference_data_version v USING (layer, version) WHERE m.release_id = :r AND v.status <> 'loaded'"
        ), {"r": release_id}).scalars().all()
        if unusable:
            raise ReleaseError(f"release {release_id} has versions no longer loaded (purged?): {', '.join(unusable)}")
        previous = active_release_id(conn)
        activation_id = conn.execute(sa.text(
            "INSERT INTO nrf.reference_data_activation (release_id, action, previous_release_id, activated_by, reason) "
            "VALUES (:r, :action, :previous, :by, :reason) RETURNING activation_id"
        ), {"r": release_id, "action": action, "previous": previous, "by": activated_by, "reason": reason}).scalar_one()
    log.info("reference release %s: %s (was %s)", release_id, action, previous)
    return activation_id


def rollback_target(conn: sa.Connection) -> int:
    """The release active before the current one, replaying the log as a stack (a rollback pops),
    so that rolling back twice goes two releases back."""
    history: list[int] = []
    for release_id, action in conn.execute(sa.text(
            "SELECT release_id, action FROM nrf.reference_data_activation ORDER BY activation_id")):
        if action == "rollback" and release_id in history:
            del history[history.index(release_id) + 1:]
        else:
            history.append(release_id)
    if len(history) < 2:
        raise ReleaseError("there is no earlier activated release to roll back to")
    return history[-2]


def rollback(engine: sa.Engine, reason: str, to_release_id: int | None = None, activated_by: str | None = None) -> int:
    """Activate an earlier release (default: the previously active one) with action 'rollback'."""
    if to_release_id is None:
        with engine.connect() as conn:
            to_release_id = rollback_target(conn)
    activate_release(engine, to_release_id, reason=reason, activated_by=activated_by, action="rollback")
    return to_release_id


# --- purge ------------------------------------------------------------------------------------------

def purge(engine: sa.Engine, retention_releases: int, run_id: str | None = None) -> list[tuple[str, int]]:
    """Delete the rows of versions outside the active release, the last `retention_releases`
    activated releases and the last 7 days' loads; mark them purged. Returns what was purged."""
    with engine.begin() as conn:
        conn.execute(ADVISORY_LOCK)
        doomed = conn.execute(sa.text(
            "WITH recent AS (SELECT release_id FROM nrf.reference_data_activation GROUP BY release_id "
            "  ORDER BY max(activation_id) DESC LIMIT :retention), "
            "kept AS (SELECT layer, version FROM nrf.reference_data_release_layer WHERE release_id IN "
            "  (SELECT release_id FROM recent) UNION SELECT layer, version FROM nrf.active_reference_data) "
            "SELECT v.layer, v.version FROM nrf.reference_data_version v WHERE v.status IN ('loaded', 'failed') "
            "AND (v.loaded_at IS NULL OR v.loaded_at < now() - make_interval(days => :days)) "
            "AND (v.layer, v.version) NOT IN (SELECT layer, version FROM kept) ORDER BY v.layer, v.version"
        ), {"retention": retention_releases, "days": KEEP_RECENT_DAYS}).all()
        for layer, version in doomed:
            conn.execute(sa.text(f"DELETE FROM {layer_spec(layer).table} WHERE version = :v"), {"v": version})
            conn.execute(sa.text(
                "UPDATE nrf.reference_data_version SET status = 'purged', "
                "notes = concat_ws('; ', notes, 'purged by run ' || coalesce(:run_id, 'manual') || ' at ' || now()) "
                "WHERE layer = :layer AND version = :version"
            ), {"run_id": run_id, "layer": layer, "version": version})
    purged = [(layer, version) for layer, version in doomed]
    log.info("reference purge: %d versions purged: %s", len(purged), ", ".join(f"{k} v{v}" for k, v in purged) or "none")
    return purged


# --- bootstrap ----------------------------------------------------------------------------------------

def source_uri(source_dir: str | Path, layer: str) -> str:
    """Where a layer's file lives in a reference set: a local directory or an s3:// prefix."""
    relative = layer_spec(layer).source_file
    if str(source_dir).startswith("s3://"):
        return f"{str(source_dir).rstrip('/')}/{relative}"
    return str(Path(source_dir) / relative)


def load_reference_set(engine: sa.Engine, source_dir: str | Path, run_id: str | None = None,
                       label: str | None = None, endpoint_url: str | None = None, force: bool = False) -> int:
    """Load every layer of a reference set, check, release and activate it; returns the release id.

    Idempotent: unchanged files reuse their versions (unless `force`), and when the active release
    already has exactly those versions nothing new is created.
    """
    versions = {}
    for layer in LAYERS:
        loaded = load_layer(engine, layer, source_uri(source_dir, layer), run_id=run_id, endpoint_url=endpoint_url,
                            force=force)
        failed = [c for c in run_checks(engine, layer, loaded.version) if c.blocks]
        if failed:
            raise ReleaseError(f"{loaded.source_uri}: layer {layer} v{loaded.version} failed QC: "
                               + "; ".join(f"{c.name}: {c.message}" for c in failed))
        versions[layer] = loaded.version
    with engine.connect() as conn:
        active = active_release_id(conn)
        if active is not None and release_members(conn, active) == versions:
            return active
    release = build_release(engine, versions, label=label, run_id=run_id)
    if not release.approved:
        raise ReleaseError(f"release {release.release_id} rejected: "
                           + "; ".join(c.message for c in release.checks if c.blocks))
    activate_release(engine, release.release_id, reason=f"load of {source_dir}", activated_by=run_id)
    return release.release_id


# --- inspection -----------------------------------------------------------------------------------------

def describe(conn: sa.Connection, activations: int = 5) -> dict:
    """The active release with its members' provenance, and the latest activations (for `status`)."""
    members = [dict(r._mapping) for r in conn.execute(sa.text(
        "SELECT a.layer, a.version, v.row_count, v.qc_status, v.source_uri, v.source_sha256, v.loaded_at "
        "FROM nrf.active_reference_data a JOIN nrf.reference_data_version v USING (layer, version) ORDER BY a.layer"))]
    log_rows = [dict(r._mapping) for r in conn.execute(sa.text(
        "SELECT activation_id, release_id, action, previous_release_id, activated_at, activated_by, reason "
        "FROM nrf.reference_data_activation ORDER BY activation_id DESC LIMIT :n"), {"n": activations})]
    return {"active_release_id": active_release_id(conn), "members": members, "activations": log_rows}
