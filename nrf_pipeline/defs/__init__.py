"""Dagster definitions, one sub-package per domain; each wraps plain-Python domain code."""
