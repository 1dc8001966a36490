"""Notifications: Slack, Microsoft Teams and signed webhooks about incidents, chosen by rules,
sent as jobs, with a delivery log per incident."""

from chronosops.notifications.errors import NotificationsConfigError
from chronosops.notifications.messages import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from chronosops.notifications.schemas import (
    DeliveryRead,
    EventName,
    NotificationsConfig,
    Receiver,
    Rule,
)
from chronosops.notifications.service import (
    DeliveryFailedError,
    NotificationService,
    load_notifications,
)

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DeliveryFailedError",
    "DeliveryRead",
    "EventName",
    "NotificationService",
    "NotificationsConfig",
    "NotificationsConfigError",
    "Receiver",
    "Rule",
    "load_notifications",
    "signature",
]
