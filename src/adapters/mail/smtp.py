"""SMTP mailer (stdlib ``smtplib`` run in a worker thread).

Selected by ``GHARART_SMTP_URL``: ``smtp://user:pass@host:25`` (plain, STARTTLS when the server
offers it), ``smtp+starttls://...`` (STARTTLS required) or ``smtps://...:465`` (implicit TLS).
``GHARART_MAIL_FROM`` sets the sender.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from urllib.parse import unquote, urlsplit

import attrs

from gharart_core.shared.ports import MailMessage

from .eml import build_email

__all__ = ["SmtpConfig", "SmtpMailer"]


@attrs.frozen
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: str = "opportunistic"  # opportunistic | starttls | implicit
    timeout: float = 15.0
    sender: str | None = None

    @classmethod
    def from_url(cls, url: str, *, sender: str | None = None, timeout: float = 15.0) -> SmtpConfig:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps", "smtp+starttls"):
            raise ValueError(f"unsupported SMTP URL scheme: {parts.scheme!r}")
        tls = {"smtp": "opportunistic", "smtps": "implicit", "smtp+starttls": "starttls"}[scheme]
        default_port = 465 if tls == "implicit" else 25
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or default_port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            timeout=timeout,
            sender=sender,
        )


class SmtpMailer:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    @classmethod
    def from_url(cls, url: str, *, sender: str | None = None, timeout: float = 15.0) -> SmtpMailer:
        return cls(SmtpConfig.from_url(url, sender=sender, timeout=timeout))

    def _send_sync(self, message: MailMessage) -> None:
        c = self.config
        if c.sender:
            message = attrs.evolve(message, sender=c.sender)
        email = build_email(message)
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if c.tls == "implicit":
            client = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
        else:
            client = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        with client:
            client.ehlo()
            if c.tls == "starttls" or (c.tls == "opportunistic" and client.has_extn("starttls")):
                client.starttls(context=context)
                client.ehlo()
            if c.username:
                client.login(c.username, c.password or "")
            client.send_message(email)

    async def send(self, message: MailMessage) -> None:
        await asyncio.to_thread(self._send_sync, message)
