"""Postmortems: drafted from an analysis and its bundle, versioned per incident, JSON and Markdown."""

from chronosops.postmortem.errors import PostmortemNotFoundError
from chronosops.postmortem.prose import (
    PROSE_SCHEMA,
    InvalidProseError,
    Prose,
    ProseWriter,
    check_prose,
    prose_brief,
)
from chronosops.postmortem.schemas import (
    GENERATOR_VERSION,
    POSTMORTEM_KIND,
    PostmortemRead,
    PostmortemSource,
    PostmortemSummary,
)
from chronosops.postmortem.service import Drafted, PostmortemService

__all__ = [
    "GENERATOR_VERSION",
    "POSTMORTEM_KIND",
    "PROSE_SCHEMA",
    "Drafted",
    "InvalidProseError",
    "PostmortemNotFoundError",
    "PostmortemRead",
    "PostmortemService",
    "PostmortemSource",
    "PostmortemSummary",
    "Prose",
    "ProseWriter",
    "check_prose",
    "prose_brief",
]
