"""Grafana unified alerting: the webhook contact point's notification.

The same group-of-alerts shape as Alertmanager (Grafana's alerting is built on it), plus
Grafana's own fields: ``orgId``, ``state``, ``title``, ``message`` on the group, and
``values``, ``valueString``, ``silenceURL``, ``dashboardURL``, ``panelURL`` on each alert,
which are kept in the incident's custom fields. Grafana's legacy (pre-unified) dashboard
alert webhooks are not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chronosops.sources.alert_groups import parse_group
from chronosops.sources.base import Normalization, Shape, Source, WebhookAuth
from chronosops.sources.builder import LABEL_SEVERITY
from chronosops.sources.fields import text

_ALERT_FIELDS = (
    ("silenceURL", "silenceURL"),
    ("dashboardURL", "dashboardURL"),
    ("panelURL", "panelURL"),
    ("imageURL", "imageURL"),
    ("valueString", "valueString"),
)


def _grafana_fields(alert: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {
        name: text(alert.get(key)) for name, key in _ALERT_FIELDS if text(alert.get(key))
    }
    if isinstance(alert.get("values"), Mapping):
        found["values"] = dict(alert["values"])
    return found


class GrafanaSource(Source):
    kind = "grafana"
    title = "Grafana"
    source_type = "GRAFANA"
    shapes = (
        Shape(
            "unified-alerting",
            "A unified-alerting webhook contact point notification: {receiver, status, orgId, "
            "state, title, message, groupKey, truncatedAlerts, alerts: [{status, labels, "
            "annotations, startsAt, endsAt, fingerprint, values, valueString, silenceURL, "
            "dashboardURL, panelURL}]}; one incident per alert.",
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
            source_type="GRAFANA",
            vendor="Grafana",
            shape="unified-alerting",
            received_at=received_at,
            extra_fields=_grafana_fields,
        )
