"""SQLAlchemy models of the schema that Liquibase creates (changelog/). They never create tables:
nrf_pipeline_tests/db/test_schema.py applies the changelog to a fresh database and fails when these
models and the database disagree."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

SCHEMA = "nrf"


def multipolygon(nullable: bool = False) -> Mapped:
    # spatial_index=False: the GiST indexes are declared explicitly, as Liquibase names them.
    return mapped_column(Geometry("MULTIPOLYGON", srid=27700, spatial_index=False), nullable=nullable)


class Base(DeclarativeBase):
    metadata = sa.MetaData(schema=SCHEMA)


class LayerTable:
    """The columns and indexes every spatial reference layer table shares (reference-data.md §3.1)."""

    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    attributes: Mapped[dict] = mapped_column(JSONB, nullable=False)
    geom = multipolygon()

    @declared_attr.directive
    def __table_args__(cls):
        name = cls.__tablename__
        return (
            sa.Index(f"{name}_geom_idx", "geom", postgresql_using="gist"),
            sa.Index(f"{name}_version_idx", "version"),
            *getattr(cls, "extra_indexes", lambda: ())(),
        )


class CoefficientLayer(LayerTable, Base):
    __tablename__ = "coefficient_layer"
    crome_id: Mapped[str] = mapped_column(sa.Text, nullable=False)
    land_use_cat: Mapped[str | None] = mapped_column(sa.Text)
    nn_catchment: Mapped[str | None] = mapped_column(sa.Text)
    subcatchment: Mapped[str | None] = mapped_column(sa.Text)
    lu_curr_n_coeff: Mapped[float | None] = mapped_column(sa.Double)
    lu_curr_p_coeff: Mapped[float | None] = mapped_column(sa.Double)
    n_resi_coeff: Mapped[float | None] = mapped_column(sa.Double)
    p_resi_coeff: Mapped[float | None] = mapped_column(sa.Double)

    @staticmethod
    def extra_indexes():
        return (sa.Index("coefficient_layer_version_crome_id_key", "version", "crome_id", unique=True),)


class NnCatchments(LayerTable, Base):
    __tablename__ = "nn_catchments"
    oid: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    n2k_site_name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    label: Mapped[str | None] = mapped_column(sa.Text)

    @staticmethod
    def extra_indexes():
        return (
            sa.Index("nn_catchments_version_oid_key", "version", "oid", unique=True),
            sa.Index("nn_catchments_version_name_idx", "version", "n2k_site_name"),
        )


class WwtwCatchments(LayerTable, Base):
    __tablename__ = "wwtw_catchments"
    wwtw_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    wwtw_name: Mapped[str | None] = mapped_column(sa.Text)

    @staticmethod
    def extra_indexes():
        return (sa.Index("wwtw_catchments_version_wwtw_id_idx", "version", "wwtw_id"),)


class LpaBoundaries(LayerTable, Base):
    __tablename__ = "lpa_boundaries"
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)


class Subcatchments(LayerTable, Base):
    __tablename__ = "subcatchments"
    opcat_name: Mapped[str] = mapped_column(sa.Text, nullable=False)


class EdpBoundaries(LayerTable, Base):
    __tablename__ = "edp_boundaries"
    edp_name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    edp_area: Mapped[str | None] = mapped_column(sa.Text)


class EdpEdges(LayerTable, Base):
    __tablename__ = "edp_edges"
    edp_name: Mapped[str] = mapped_column(sa.Text, nullable=False)


class EdpExcludedAreas(LayerTable, Base):
    __tablename__ = "edp_excluded_areas"
    site_name: Mapped[str | None] = mapped_column(sa.Text)
    designation_type: Mapped[str | None] = mapped_column(sa.Text)
    buff_dist_m: Mapped[float | None] = mapped_column(sa.Double)


class GcnRiskZones(LayerTable, Base):
    __tablename__ = "gcn_risk_zones"
    rz: Mapped[str] = mapped_column(sa.Text, nullable=False)


class GcnPonds(LayerTable, Base):
    __tablename__ = "gcn_ponds"
    pond_id: Mapped[str | None] = mapped_column(sa.Text)


class LookupTable:
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    source_row: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    attributes: Mapped[dict] = mapped_column(JSONB, nullable=False)


class WwtwLookup(LookupTable, Base):
    __tablename__ = "wwtw_lookup"
    __table_args__ = (sa.Index("wwtw_lookup_version_wwtw_code_idx", "version", "wwtw_code"),)
    wwtw_code: Mapped[int | None] = mapped_column(sa.Integer)
    wwtw_code_raw: Mapped[str | None] = mapped_column(sa.Text)
    wwtw_name: Mapped[str | None] = mapped_column(sa.Text)
    wwtw_subcatchment: Mapped[str | None] = mapped_column(sa.Text)
    n_conc_2025_2030: Mapped[float | None] = mapped_column(sa.Double)
    n_conc_2030_onwards: Mapped[float | None] = mapped_column(sa.Double)
    p_conc_2025_2030: Mapped[float | None] = mapped_column(sa.Double)
    p_conc_2030_onwards: Mapped[float | None] = mapped_column(sa.Double)


class RatesLookup(LookupTable, Base):
    __tablename__ = "rates_lookup"
    nn_catchment: Mapped[str] = mapped_column(sa.Text, nullable=False)
    occupancy_rate: Mapped[float | None] = mapped_column(sa.Double)
    water_usage_l_per_person_day: Mapped[float | None] = mapped_column(sa.Double)


# Spatial layer tables by layer name, for the loaders and readers.
LAYER_TABLES: dict[str, type[Base]] = {
    cls.__tablename__: cls
    for cls in (CoefficientLayer, NnCatchments, WwtwCatchments, LpaBoundaries, Subcatchments, EdpBoundaries,
                EdpEdges, EdpExcludedAreas, GcnRiskZones, GcnPonds)
}
LOOKUP_TABLES: dict[str, type[Base]] = {cls.__tablename__: cls for cls in (WwtwLookup, RatesLookup)}


class ReferenceDataVersion(Base):
    __tablename__ = "reference_data_version"
    layer: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    status: Mapped[str] = mapped_column(sa.Text, nullable=False)
    source_uri: Mapped[str | None] = mapped_column(sa.Text)
    source_layer: Mapped[str | None] = mapped_column(sa.Text)
    source_sha256: Mapped[str | None] = mapped_column(sa.Text)
    source_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    row_count: Mapped[int | None] = mapped_column(sa.Integer)
    qc_status: Mapped[str] = mapped_column(sa.Text, nullable=False, server_default=sa.text("'pending'"))
    qc_report: Mapped[dict | None] = mapped_column(JSONB)
    loaded_by_run_id: Mapped[str | None] = mapped_column(sa.Text)
    loaded_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    notes: Mapped[str | None] = mapped_column(sa.Text)


class ReferenceDataRelease(Base):
    __tablename__ = "reference_data_release"
    release_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=True)
    label: Mapped[str | None] = mapped_column(sa.Text, unique=True)
    base_release_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.Text, nullable=False)
    qc_report: Mapped[dict | None] = mapped_column(JSONB)
    created_by_run_id: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False,
                                                    server_default=sa.func.now())
    notes: Mapped[str | None] = mapped_column(sa.Text)


class ReferenceDataReleaseLayer(Base):
    __tablename__ = "reference_data_release_layer"
    __table_args__ = (
        sa.ForeignKeyConstraint(["layer", "version"], ["nrf.reference_data_version.layer",
                                                       "nrf.reference_data_version.version"]),
    )
    release_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("nrf.reference_data_release.release_id"),
                                            primary_key=True)
    layer: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)


class ReferenceDataActivation(Base):
    """Append-only: the row with the largest activation_id names the active release."""

    __tablename__ = "reference_data_activation"
    activation_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=True)
    release_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("nrf.reference_data_release.release_id"),
                                            nullable=False)
    action: Mapped[str] = mapped_column(sa.Text, nullable=False)
    previous_release_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    activated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False,
                                                      server_default=sa.func.now())
    activated_by: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.Text)


# The view of the active release's members; read-only.
active_reference_data = sa.Table(
    "active_reference_data", sa.MetaData(schema=SCHEMA),
    sa.Column("release_id", sa.BigInteger), sa.Column("layer", sa.Text), sa.Column("version", sa.Integer),
)


class Assessment(Base):
    __tablename__ = "assessment"
    __table_args__ = (
        sa.Index("assessment_reference_created_at_idx", "reference", sa.text("created_at DESC")),
        sa.Index("assessment_status_created_at_idx", "status", "created_at"),
        sa.Index("assessment_site_geom_idx", "site_geom", postgresql_using="gist"),
        sa.Index("assessment_reference_edps_sha256_idx", "reference", "edps_sha256"),
    )
    assessment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    reference: Mapped[str] = mapped_column(sa.Text, nullable=False)
    pipeline_run_id: Mapped[str] = mapped_column(sa.Text, nullable=False, unique=True)
    sqs_message_id: Mapped[str | None] = mapped_column(sa.Text)
    trace_id: Mapped[str | None] = mapped_column(sa.Text)
    nutrient_method_version: Mapped[str] = mapped_column(sa.Text, nullable=False)
    gcn_method_version: Mapped[str | None] = mapped_column(sa.Text)
    release_id: Mapped[int | None] = mapped_column(sa.BigInteger,
                                                   sa.ForeignKey("nrf.reference_data_release.release_id"))
    data_versions: Mapped[dict] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(sa.Text, nullable=False)
    outcome: Mapped[str | None] = mapped_column(sa.Text)
    error_code: Mapped[str | None] = mapped_column(sa.Text)
    error_summary: Mapped[str | None] = mapped_column(sa.Text)
    inputs: Mapped[dict | None] = mapped_column(JSONB)
    site_geom = multipolygon(nullable=True)
    result: Mapped[dict | None] = mapped_column(JSONB)
    payload: Mapped[dict | None] = mapped_column(JSONB)
    edps_sha256: Mapped[str | None] = mapped_column(sa.Text)
    callback_status: Mapped[str | None] = mapped_column(sa.Text)
    callback_http_status: Mapped[int | None] = mapped_column(sa.Integer)
    applicant_email_status: Mapped[str | None] = mapped_column(sa.Text)
    support_email_status: Mapped[str | None] = mapped_column(sa.Text)
    applicant_notification_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False,
                                                    server_default=sa.func.now())
    started_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
