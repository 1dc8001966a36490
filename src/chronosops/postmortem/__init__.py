"""Postmortems: drafted from an analysis and its bundle, versioned per incident, JSON and Markdown."""

from chronosops.postmortem.errors import PostmortemNotFoundError
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
    "Drafted",
    "PostmortemNotFoundError",
    "PostmortemRead",
    "PostmortemService",
    "PostmortemSource",
    "PostmortemSummary",
]
