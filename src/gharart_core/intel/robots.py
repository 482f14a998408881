"""robots.txt rules (stdlib ``urllib.robotparser``), as a pure value built from the file's text."""

from __future__ import annotations

from urllib.robotparser import RobotFileParser

__all__ = ["USER_AGENT", "RobotsRules"]

USER_AGENT = "GharartBot"


class RobotsRules:
    """Answers ``allowed(url)``. No robots.txt (or an unreadable one) allows everything."""

    def __init__(
        self, text: str | None = None, *, user_agent: str = USER_AGENT, disallow_all: bool = False
    ) -> None:
        self.user_agent = user_agent
        self._parser: RobotFileParser | None = None
        self._disallow_all = disallow_all
        if text:
            parser = RobotFileParser()
            parser.parse(text.splitlines())
            self._parser = parser

    @classmethod
    def from_response(cls, status: int | None, body: bytes, *, user_agent: str = USER_AGENT) -> RobotsRules:
        """Rules per RFC 9309: 2xx parses the file, 4xx (and 3xx) means no rules, 5xx/unreachable
        means stay out."""
        if status is not None and 200 <= status < 300:
            return cls(body.decode("utf-8", errors="replace"), user_agent=user_agent)
        if status is not None and 300 <= status < 500:
            return cls(None, user_agent=user_agent)
        return cls(None, user_agent=user_agent, disallow_all=True)

    def allowed(self, url: str) -> bool:
        if self._disallow_all:
            return False
        if self._parser is None:
            return True
        return self._parser.can_fetch(self.user_agent, url)
