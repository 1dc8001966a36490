"""Tables owned by auth: one-time console sign-in links and signed-out console sessions."""

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


class SignedOutSession(TableBase):
    """A console session its owner signed out of, kept until the cookie would have expired.

    Session cookies are signed, not stored, so a copy of one stays valid until it expires;
    this row is what makes signing out end the session everywhere, not just in one browser.
    """

    __tablename__ = "signed_out_session"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    signed_out_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
