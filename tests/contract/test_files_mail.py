"""Mail adapters: the .eml outbox and the SMTP mailer (against a tiny local SMTP server)."""

from __future__ import annotations

import email
import socketserver
import threading
from email import policy

from adapters.mail.eml import EmlOutbox
from adapters.mail.smtp import SmtpConfig, SmtpMailer
from gharart_core.shared.ports import MailMessage

MSG = MailMessage(
    to="partner@brand.test",
    subject="Shared with you: kit.pdf",
    text="Download: http://x/v2/public/files/fil_1?token=abc\n",
    headers=(("X-Gharart-File", "fil_1"),),
)


async def test_eml_outbox_writes_rfc5322_files(tmp_path):
    box = EmlOutbox(tmp_path / "outbox")
    await box.send(MSG)
    await box.send(MSG)
    files = box.messages()
    assert len(files) == 2 and all(p.suffix == ".eml" for p in files)
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["To"] == "partner@brand.test"
    assert parsed["Subject"] == "Shared with you: kit.pdf"
    assert parsed["X-Gharart-File"] == "fil_1" and parsed["Message-ID"] and parsed["Date"]
    assert "token=abc" in parsed.get_content()
    assert not list((tmp_path / "outbox").glob(".*.tmp"))


class _Smtp(socketserver.StreamRequestHandler):
    received: list[bytes] = []

    def handle(self) -> None:
        w = self.wfile.write
        w(b"220 test ESMTP\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.strip().upper()
            if cmd.startswith((b"EHLO", b"HELO")):
                w(b"250-test\r\n250 SIZE 100000\r\n")
            elif cmd.startswith((b"MAIL", b"RCPT", b"RSET", b"NOOP")):
                w(b"250 ok\r\n")
            elif cmd == b"DATA":
                w(b"354 go\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    data += self.rfile.readline()
                type(self).received.append(data)
                w(b"250 queued\r\n")
            elif cmd == b"QUIT":
                w(b"221 bye\r\n")
                return
            else:
                w(b"502 no\r\n")


async def test_smtp_mailer_delivers():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.daemon_threads = True
    port = server.server_address[1]
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        cfg = SmtpConfig.from_url(f"smtp://127.0.0.1:{port}", sender="Gharart <files@acme.test>", timeout=5)
        assert cfg.tls == "opportunistic" and cfg.port == port
        await SmtpMailer(cfg).send(MSG)
        assert _Smtp.received and b"Subject: Shared with you: kit.pdf" in _Smtp.received[-1]
        assert b"From: Gharart <files@acme.test>" in _Smtp.received[-1]
    finally:
        server.shutdown()
        server.server_close()


def test_smtp_url_forms():
    c = SmtpConfig.from_url("smtps://u%40x:p%3Aw@mail.example.com")
    assert (c.host, c.port, c.username, c.password, c.tls) == (
        "mail.example.com",
        465,
        "u@x",
        "p:w",
        "implicit",
    )
    assert SmtpConfig.from_url("smtp+starttls://h:587").tls == "starttls"


async def test_eml_keeps_links_verbatim_in_the_raw_file(tmp_path):
    url = "http://127.0.0.1:8000/v2/public/files/fil_01M8918J2QCJK03HA0WQYBK2C0?token=" + "A-_b" * 10
    box = EmlOutbox(tmp_path)
    await box.send(
        MailMessage(
            to="p@b.test",
            subject="Shared with you: kit é.pdf",
            text=f"A file was shared with you: kit é.pdf\n\nDownload:\n{url}\n",
        )
    )
    raw = box.messages()[0].read_bytes()
    assert url.encode() in raw  # no quoted-printable soft breaks or =3D escapes
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert "kit é.pdf" in parsed["Subject"] and url in parsed.get_content()
