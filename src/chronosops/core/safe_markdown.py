"""Markdown that people type (incident notes) rendered to HTML that is safe to show.

Raw HTML in the text is escaped, never passed through; links may only point at ``http``,
``https``, ``mailto`` or this site (``/…``, ``#…``) and open with ``rel="nofollow noopener
noreferrer"``; images are not rendered (an image URL is a request made by every reader's
browser, to anywhere). CommonMark otherwise: emphasis, code, lists, quotes, headings, links.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

_ALLOWED_LINKS = ("http://", "https://", "mailto:", "/", "#")


def _allowed(url: str) -> bool:
    target = url.strip().lower()
    # "//host" is another site under this page's scheme: not "this site".
    return target.startswith(_ALLOWED_LINKS) and not target.startswith("//")


def _link_open(renderer: Any, tokens: Sequence[Token], index: int, options: Any, env: Any) -> str:
    tokens[index].attrSet("rel", "nofollow noopener noreferrer")
    rendered: str = renderer.renderToken(tokens, index, options, env)
    return rendered


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.disable("image")
    parser.validateLink = _allowed  # type: ignore[method-assign]
    parser.add_render_rule("link_open", _link_open)
    return parser


_PARSER = _parser()


def render_markdown(text: str) -> str:
    """The HTML for ``text``; whatever ``text`` holds, the result carries no markup of its own."""
    html: str = _PARSER.render(text)
    return html
