"""Prometheus Alertmanager: the webhook receiver's notification, version 4.

Alertmanager posts one notification per alert group. Each alert in it is one incident,
referenced by its fingerprint; a resolved alert resolves it (``send_resolved`` is on by
default for webhooks). Alertmanager authenticates with ``http_config.authorization``
(``type: Bearer``) or ``basic_auth``. See `alert_groups` for the rules shared with Grafana.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chronosops.sources.alert_groups import parse_group
from chronosops.sources.base import Normalization, Shape, Source, WebhookAuth
from chronosops.sources.builder import LABEL_SEVERITY


class AlertmanagerSource(Source):
    kind = "alertmanager"
    title = "Prometheus Alertmanager"
    source_type = "ALERTMANAGER"
    shapes = (
        Shape(
            "webhook-v4",
            "A webhook_config notification (version 4): {groupKey, status, receiver, "
            "groupLabels, commonLabels, externalURL, truncatedAlerts, alerts: [{status, labels, "
            "annotations, startsAt, endsAt, generatorURL, fingerprint}]}; one incident per "
            "alert, resolved alerts resolve theirs.",
        ),
    )
    auth = WebhookAuth(token=True)
    severity_mappings = (("labels.severity (or priority, level)", LABEL_SEVERITY),)

    def parse(
        self, body: Any, *, headers: Mapping[str, str], received_at: datetime
    ) -> Normalization:
        if not isinstance(body, Mapping) or "alerts" not in body:
            raise self.unrecognised()
        return parse_group(
            body,
            source_type="ALERTMANAGER",
            vendor="Alertmanager",
            shape="webhook-v4",
            received_at=received_at,
        )
