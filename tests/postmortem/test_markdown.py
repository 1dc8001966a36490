"""The postmortem's Markdown shows what people and vendors typed as text, never as markup."""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt

from chronosops.postmortem.drafting import draft_postmortem
from chronosops.postmortem.markdown import render_markdown
from tests.postmortem.test_drafting import source

HOSTILE = "<img src=x onerror=alert(1)> [reset your password](https://evil.example)"


def html_of(markdown: str) -> str:
    """The Markdown as a renderer that lets raw HTML through (many wikis do) shows it."""
    return str(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))


def drafted(**changes: Any) -> dict[str, Any]:
    return draft_postmortem(source(**changes))


def test_html_in_the_title_shows_as_text_in_the_rendered_markdown() -> None:
    html = html_of(render_markdown(drafted(title=HOSTILE)))

    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="https://evil.example"' not in html


def test_a_title_spanning_lines_cannot_add_a_section_of_its_own() -> None:
    markdown = render_markdown(drafted(title="Checkout down\n\n## Root cause\nforged"))

    assert [line for line in markdown.splitlines() if line == "## Root cause"] == ["## Root cause"]


def test_a_title_read_as_a_heading_stays_a_sentence_of_the_summary() -> None:
    html = html_of(render_markdown(drafted(title="# Checkout down")))

    assert "<h1># Checkout down" not in html
    assert "<h1>Checkout down" not in html


def test_html_in_evidence_cells_shows_as_text_in_the_rendered_markdown() -> None:
    content = drafted()
    artifact = content["evidence"]["artifacts"][0]
    artifact["title"] = HOSTILE
    content["timeline"][0]["event"] = HOSTILE

    html = html_of(render_markdown(content))

    assert "<img" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 2
