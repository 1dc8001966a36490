"""What each receiver is sent: Slack Block Kit, a Teams Adaptive Card, or ChronosOps' own JSON.

Pure functions of the stored event facts (``message``), so a retry sends the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE_HEADER = "X-ChronosOps-Signature"
TIMESTAMP_HEADER = "X-ChronosOps-Timestamp"
DELIVERY_HEADER = "X-ChronosOps-Delivery"
EVENT_HEADER = "X-ChronosOps-Event"

_TITLES = {
    "incident.created": "New incident",
    "analysis.completed": "Diagnosis ready",
    "analysis.top_changed": "Diagnosis changed",
    "investigation.finished": "Investigation finished",
    "lifecycle.changed": "Incident {state}",
}


def headline(message: dict[str, Any]) -> str:
    incident = message.get("incident", {})
    title = _TITLES.get(message.get("event", ""), "Incident update").format(
        state=message.get("lifecycle", {}).get("state", "updated")
    )
    return f"{title}: {incident.get('title', '')}"[:150]


def _facts(message: dict[str, Any]) -> list[tuple[str, str]]:
    incident = message.get("incident", {})
    facts = [
        ("Severity", incident.get("severity") or "—"),
        ("Service", incident.get("service") or "—"),
        ("Environment", incident.get("environment") or "—"),
        (
            "Lifecycle",
            message.get("lifecycle", {}).get("state") or incident.get("lifecycle") or "—",
        ),
    ]
    actor = message.get("lifecycle", {}).get("by")
    if actor:
        facts.append(("By", actor))
    investigation = message.get("investigation")
    if investigation:
        facts.append(
            (
                "Investigation",
                f"{investigation.get('status')} ({investigation.get('stopCode')}) after "
                f"{investigation.get('iterations', 0)} iteration(s)",
            )
        )
    return facts


def _diagnosis(message: dict[str, Any]) -> tuple[str | None, list[str]]:
    analysis = message.get("analysis")
    if not analysis:
        return None, []
    summary = (
        f"{analysis.get('topHypothesisId')} — confidence "
        f"{float(analysis.get('overallConfidence', 0)):.0%}"
        + (" (inconclusive)" if analysis.get("inconclusive") else "")
    )
    if analysis.get("summary"):
        summary += f"\n{analysis['summary']}"
    return summary[:2900], [str(action)[:300] for action in analysis.get("topActions", [])[:3]]


def slack(message: dict[str, Any]) -> dict[str, Any]:
    """An incoming-webhook body: Block Kit blocks with a plain-text fallback."""
    text = headline(message)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": False}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{_escape_mrkdwn(value)}"}
                for name, value in _facts(message)
            ],
        },
    ]
    diagnosis, actions = _diagnosis(message)
    if diagnosis:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Diagnosis*\n" + _escape_mrkdwn(diagnosis)},
            }
        )
    if actions:
        lines = "\n".join(f"• {_escape_mrkdwn(action)}" for action in actions)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Top actions*\n" + lines}}
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in ChronosOps"},
                    "url": message.get("url", ""),
                }
            ],
        }
    )
    # The fallback `text` is mrkdwn (notifications, previews): escaped as the fields are.
    return {"text": _escape_mrkdwn(text), "blocks": blocks}


def _escape_mrkdwn(text: str) -> str:
    # Slack reads <…> as links and mentions: a title must not ping @channel.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams(message: dict[str, Any]) -> dict[str, Any]:
    """A Teams workflow ("When a Teams webhook request is received") body: one Adaptive Card."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": headline(message),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {
            "type": "FactSet",
            "facts": [{"title": name, "value": value} for name, value in _facts(message)],
        },
    ]
    diagnosis, actions = _diagnosis(message)
    if diagnosis:
        body.append({"type": "TextBlock", "text": "Diagnosis", "weight": "Bolder"})
        body.append({"type": "TextBlock", "text": diagnosis, "wrap": True})
    if actions:
        body.append({"type": "TextBlock", "text": "Top actions", "weight": "Bolder"})
        body.extend(
            {"type": "TextBlock", "text": f"- {action}", "wrap": True} for action in actions
        )
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open in ChronosOps", "url": message.get("url", "")}
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def webhook(message: dict[str, Any]) -> dict[str, Any]:
    """ChronosOps' own body: the event facts as they are stored."""
    return dict(message)


def body_for(receiver_type: str, message: dict[str, Any]) -> bytes:
    render = {"slack": slack, "teams": teams, "webhook": webhook}[receiver_type]
    return json.dumps(render(message), separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=`` + hex HMAC-SHA256 of ``<timestamp>.<body>`` keyed with the receiver's secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()
