"""The schema comes from Liquibase, and the SQLAlchemy models cannot drift from it."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET

import psycopg2
import pytest
import sqlalchemy as sa
from geoalchemy2 import Geometry

from nrf_pipeline.db.models import Base
from nrf_pipeline.devstack.liquibase import REPO_ROOT, Liquibase

NS = {"lb": "http://www.liquibase.org/xml/ns/dbchangelog"}


def changesets() -> list[tuple[str, str]]:
    """(file, id) of every changeset the root changelog includes, in order."""
    root = ET.parse(REPO_ROOT / "changelog/db.changelog.xml").getroot()
    found = []
    for include in root.findall("lb:include", NS):
        path = include.get("file")
        for cs in ET.parse(REPO_ROOT / path).getroot().findall("lb:changeSet", NS):
            assert cs.find("lb:rollback", NS) is not None, f"changeset {cs.get('id')} has no rollback"
            found.append((path, cs.get("id")))
    return found


@pytest.fixture
def fresh_database(stack):
    """A new empty database in the stack's cluster, migrated by nobody yet."""
    name = f"schema_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(**stack.postgres.dsn())
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    url = f"jdbc:postgresql://127.0.0.1:{stack.postgres.port}/{name}"
    yield Liquibase(url, "postgres"), sa.create_engine(
        f"postgresql+psycopg2://postgres@127.0.0.1:{stack.postgres.port}/{name}"
    )
    admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


def applied(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT filename, id FROM databasechangelog ORDER BY orderexecuted"))]


def test_stack_database_was_built_by_liquibase(admin_engine):
    assert applied(admin_engine) == changesets()


def test_update_twice_changes_nothing_and_rollback_count_works(fresh_database):
    liquibase, engine = fresh_database
    liquibase.update()
    first = applied(engine)
    assert first == changesets()
    liquibase.update()
    assert applied(engine) == first  # the second update ran no changeset

    liquibase.rollback_count(3)
    assert applied(engine) == first[:-3]
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("assessment", schema="nrf")
        assert sa.inspect(conn).has_table("reference_data_version", schema="nrf")
    liquibase.update()
    assert applied(engine) == first
    liquibase.rollback_count(len(first))
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names(schema="nrf") == []


def describe_database(engine) -> dict:
    """Tables, columns (type, nullability, geometry type and SRID), primary keys and indexes."""
    described = {}
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        geometry = {
            (r.f_table_name, r.f_geometry_column): (r.type, r.srid)
            for r in conn.execute(sa.text("SELECT * FROM geometry_columns WHERE f_table_schema = 'nrf'"))
        }
        for table in inspector.get_table_names(schema="nrf"):
            columns = {}
            for col in inspector.get_columns(table, schema="nrf"):
                kind = geometry.get((table, col["name"])) or type(col["type"]).__name__.upper()
                columns[col["name"]] = (kind, col["nullable"])
            indexes = {
                (i["name"], tuple(i["column_names"]) if all(i["column_names"]) else i["name"], bool(i["unique"]))
                for i in inspector.get_indexes(table, schema="nrf")
            }
            described[table] = {
                "columns": columns,
                "primary_key": tuple(inspector.get_pk_constraint(table, schema="nrf")["constrained_columns"]),
                "indexes": indexes,
            }
    return described


SQL_TYPES = {
    sa.Integer: "INTEGER", sa.BigInteger: "BIGINT", sa.Text: "TEXT", sa.Double: "DOUBLE_PRECISION",
    sa.DateTime: "TIMESTAMP",
}


def describe_models(metadata: sa.MetaData) -> dict:
    described = {}
    for table in metadata.sorted_tables:
        columns = {}
        for col in table.columns:
            if isinstance(col.type, Geometry):
                kind = (col.type.geometry_type, col.type.srid)
            else:
                kind = next((name for t, name in SQL_TYPES.items() if type(col.type) is t), type(col.type).__name__.upper())
            columns[col.name] = (kind, col.nullable)
        indexes = set()
        for index in table.indexes:
            # A sorted column ("created_at DESC") is reported by the database under its name.
            names = [c.name if isinstance(c, sa.Column) else str(c).split()[0] for c in index.expressions]
            cols = tuple(names)
            indexes.add((index.name, cols, bool(index.unique)))
        for constraint in table.constraints:  # UNIQUE constraints show up as unique indexes
            if isinstance(constraint, sa.UniqueConstraint):
                indexes.add((f"{table.name}_{'_'.join(c.name for c in constraint.columns)}_key",
                             tuple(c.name for c in constraint.columns), True))
        for col in table.columns:
            if col.unique:
                indexes.add((f"{table.name}_{col.name}_key", (col.name,), True))
        described[table.name] = {
            "columns": columns,
            "primary_key": tuple(c.name for c in table.primary_key.columns),
            "indexes": indexes,
        }
    return described


def normalise(described: dict) -> dict:
    # The database reports timestamptz as TIMESTAMP and doubles as DOUBLE_PRECISION.
    for table in described.values():
        table["columns"] = {
            name: (re.sub(r"^DOUBLE$", "DOUBLE_PRECISION", kind) if isinstance(kind, str) else kind, nullable)
            for name, (kind, nullable) in table["columns"].items()
        }
    return described


def test_models_match_the_migrated_database(admin_engine):
    assert normalise(describe_models(Base.metadata)) == normalise(describe_database(admin_engine))


def test_a_model_change_without_a_changeset_is_caught(admin_engine):
    metadata = sa.MetaData(schema="nrf")
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    metadata.tables["nrf.assessment"].c.reference.nullable = True
    assert normalise(describe_models(metadata)) != normalise(describe_database(admin_engine))


def test_app_role_has_only_the_granted_rights(app_engine):
    with app_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar() == "nrf_impact_assessment_service"
        conn.execute(sa.text("SELECT count(*) FROM nrf.active_reference_data"))
        conn.rollback()
        for statement in (
            "TRUNCATE nrf.gcn_ponds",
            "CREATE INDEX x_idx ON nrf.gcn_ponds (pond_id)",
            "DELETE FROM nrf.reference_data_activation",
            "UPDATE nrf.reference_data_activation SET reason = 'x'",
            "CREATE TABLE nrf.x (a int)",
        ):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"):
                conn.execute(sa.text(statement))
            conn.rollback()
        # Loading and purging a version is allowed.
        conn.execute(sa.text(
            "INSERT INTO nrf.rates_lookup (version, source_row, nn_catchment, attributes) VALUES (-1, 1, 'x', '{}')"
        ))
        conn.execute(sa.text("DELETE FROM nrf.rates_lookup WHERE version = -1"))
        conn.rollback()
