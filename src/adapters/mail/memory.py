"""Captured outbox: the harness's mailer."""

from __future__ import annotations

from gharart_core.shared.ports import MailMessage

__all__ = ["MemoryOutbox"]


class MemoryOutbox:
    def __init__(self) -> None:
        self.messages: list[MailMessage] = []

    async def send(self, message: MailMessage) -> None:
        self.messages.append(message)

    def to(self, email: str) -> list[MailMessage]:
        return [m for m in self.messages if m.to.lower() == email.lower()]
