"""The one exception of reference loading: the message names the source and the rule broken."""

from __future__ import annotations


class ReferenceDataError(ValueError):
    def __init__(self, source: str, rule: str, detail: str):
        super().__init__(f"{source}: {rule}: {detail}")
        self.source = source
        self.rule = rule
        self.detail = detail


class ReleaseError(ValueError):
    """A release that cannot be built, activated or rolled back to; the message says why."""
