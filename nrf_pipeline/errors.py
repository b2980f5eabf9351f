"""Error codes of contracts.md §6, shared by every part of the pipeline.

An `AssessmentError` carries one code and a summary built from fixed text: never paste input or
exception text into it, because the summary goes into the support e-mail and the logs.
"""

from __future__ import annotations

# Quote and input errors: permanent, never retried.
QUOTE_ERRORS = frozenset(
    {
        "quote_not_found",
        "quote_reference_mismatch",
        "missing_boundary",
        "unsupported_geometry_type",
        "invalid_geometry",
        "unsupported_crs",
        "coordinates_look_like_degrees",
        "coordinates_out_of_range",
        "invalid_housing_units",
        "conflicting_housing_units",
        "missing_housing_units",
        "missing_people_count",
        "invalid_survey_ponds",
    }
)
BACKEND_ERRORS = frozenset(
    {"backend_rejected", "backend_auth_failed", "backend_unavailable", "backend_unexpected_status"}
)
REFERENCE_DATA_ERRORS = frozenset({"reference_data_not_active", "reference_data_empty"})
OTHER_ERRORS = frozenset({"config_invalid", "assessment_error"})
ERROR_CODES = QUOTE_ERRORS | BACKEND_ERRORS | REFERENCE_DATA_ERRORS | OTHER_ERRORS

# Worth another attempt: the cause is outside the pipeline and may go away.
TRANSIENT_ERRORS = frozenset({"backend_unavailable"})


class AssessmentError(Exception):
    """A failure with one error code of contracts.md §6."""

    def __init__(self, code: str, summary: str):
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(f"{code}: {summary}")
        self.code = code
        self.summary = summary

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_ERRORS
