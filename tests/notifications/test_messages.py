"""What Slack and Teams receive shows the incident's text as typed, never as markup."""

from __future__ import annotations

from typing import Any

from chronosops.notifications.messages import slack

TITLE = "<!channel> checkout down <https://evil.example|log in again>"


def message(title: str) -> dict[str, Any]:
    return {
        "event": "incident.created",
        "incident": {"id": "inc1", "title": title, "severity": "high", "service": "checkout"},
        "url": "https://chronosops.example/incidents/inc1",
    }


def test_a_title_cannot_ping_the_channel_or_link_from_slacks_notification_text() -> None:
    body = slack(message(TITLE))

    assert "<" not in body["text"]
    assert "&lt;!channel&gt; checkout down" in body["text"]


def test_the_slack_header_keeps_the_title_as_typed_since_plain_text_is_never_parsed() -> None:
    body = slack(message(TITLE))

    assert body["blocks"][0]["text"] == {
        "type": "plain_text",
        "text": f"New incident: {TITLE}",
        "emoji": False,
    }
