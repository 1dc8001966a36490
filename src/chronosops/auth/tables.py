"""Tables owned by auth: one-time console sign-in links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chronosops.storage import JSONValue, TableBase, UtcDateTime


class SignInLink(TableBase):
    """A one-time console sign-in link: only the SHA-256 of its secret is stored.

    Redeeming sets ``consumed_at`` in the same statement that checks it is unset and unexpired,
    so two browsers racing with the same link cannot both sign in.
    """

    __tablename__ = "sign_in_link"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(JSONValue)
    name: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
