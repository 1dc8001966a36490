from __future__ import annotations

from chronosops.config import ConfigurationError


class NotificationsConfigError(ConfigurationError):
    """The notifications file cannot be read or breaks a rule; the message says where."""
