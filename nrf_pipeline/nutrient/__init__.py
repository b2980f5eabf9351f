"""The nutrient method (nutrient-method.md): method versions, calculator and CSV output.

Dagster-free domain code. The spatial step (PostGIS) fills `SiteSpatial`; everything after it is
`assess_batch`.
"""
