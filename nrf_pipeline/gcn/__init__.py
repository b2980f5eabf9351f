"""The great crested newt method (gcn-method.md): method versions, assessment core and PSV output.

Dagster-free domain code in plain shapely (GEOS). A reader fills `GcnReference` with the features
that intersect `extent(...)`; `assess_gcn` does every geometric step.
"""
