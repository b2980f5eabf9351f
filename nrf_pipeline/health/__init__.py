"""GET /health from the Dagster instance storage (contracts.md §5): `python -m nrf_pipeline.health`."""
