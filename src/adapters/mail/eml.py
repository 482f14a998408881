"""Embedded default mailer: each message becomes an RFC 5322 ``.eml`` file in ``<data dir>/outbox/``.

Like a "file" email backend: nothing leaves the machine, and any mail client opens the files.
Writes are atomic (temporary file + rename) so a reader never sees half a message.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from gharart_core.shared.ports import MailMessage

__all__ = ["EmlOutbox", "build_email"]


def build_email(message: MailMessage) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = message.sender
    msg["To"] = message.to
    msg["Subject"] = message.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain="gharart.localhost")
    for name, value in message.headers:
        msg[name] = value
    # Keep the body verbatim (links must survive copy-paste and simple parsers): 7bit/8bit
    # unless a line is too long for SMTP, then quoted-printable.
    fits = all(len(line.encode()) <= 900 for line in message.text.splitlines())
    cte = ("7bit" if message.text.isascii() else "8bit") if fits else "quoted-printable"
    msg.set_content(message.text, cte=cte)
    if message.html is not None:
        msg.add_alternative(message.html, subtype="html")
    return msg


class EmlOutbox:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _write(self, message: MailMessage) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = bytes(build_email(message))
        # sortable by time, unique without coordination between workers
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        name = f"{stamp}-{time.time_ns() % 10**9:09d}-{secrets.token_hex(4)}"
        final = self.directory / f"{name}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, final)
        return final

    async def send(self, message: MailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def messages(self) -> list[Path]:
        """The ``.eml`` files written so far, oldest first."""
        if not self.directory.exists():
            return []
        return sorted(self.directory.glob("*.eml"), key=lambda p: (p.stat().st_mtime_ns, p.name))
