"""Attack corpora shared by the hardening tests (SPEC §13).

Plain data plus a few builders; tests import what they need. Every entry is something a hostile or
careless client sends; the product must answer a clear 4xx (or, for SSRF, classify ``blocked``) and
change nothing.
"""

from __future__ import annotations

import io
import tarfile
import zipfile

# -- SSRF: destinations an outbound fetch must never reach ---------------------------------------
SSRF_URLS = [
    "http://127.0.0.1/", "http://127.0.0.1:8080/admin", "http://localhost/", "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/", "http://0.0.0.0/", "http://0/", "http://10.0.0.1/", "http://10.255.255.254/",
    "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/", "http://100.100.100.200/", "http://100.64.0.1/",
    "http://2130706433/",  # 127.0.0.1 as a decimal
    "http://0177.0.0.1/",  # octal
    "http://0x7f.0.0.1/",  # hex
    "http://0x7f000001/", "http://127.1/", "http://017700000001/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:169.254.169.254]/", "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 metadata
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://224.0.0.1/", "http://[ff02::1]/", "http://255.255.255.255/",
]

# -- path traversal and encodings (served paths, doc pages, manifest keys) -----------------------
TRAVERSAL_PATHS = [
    "../etc/passwd", "..%2fetc%2fpasswd", "%2e%2e/etc/passwd", "%2e%2e%2fetc%2fpasswd", "..%5cwindows",
    "..\\windows\\win.ini", "a/../../b", "%252e%252e%252f", "a%00.html", "a%2f..%2fb", "//etc/passwd",
    "a//b", "%c0%ae%c0%ae/etc/passwd",  # overlong UTF-8 dot
    "%e0%80%ae%e0%80%ae/", "..;/admin", ".%2e/x", "%2e./x",
]
# Manifest keys and doc-page paths refused as data (not URLs).
BAD_RELATIVE_PATHS = ["/abs.html", "../up.html", "a/../b.html", "a//b.html", "a\\b.html", "a/./b.html",
                      "nul\x00.html", "", ".", "..", "a/"]

# -- CSV formula injection --------------------------------------------------------------------------
# The first five are printable and valid as tags; the last two also as rules-free text elsewhere.
FORMULA_CELLS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", "=HYPERLINK(\"http://x\")"]

# -- header injection -------------------------------------------------------------------------------
BAD_REQUEST_IDS = ["a" * 129, "req with space", "req\tTab", "caf\u00e9", "x\x7f", ""]
BAD_IDEMPOTENCY_KEYS = ["k" * 256, "caf\u00e9", "tab\there", "nl\x01"]
# Values that would split a header if echoed raw.
CRLF_VALUES = ["https://example.com/\r\nSet-Cookie: a=b", "https://example.com/%0d%0aSet-Cookie:a=b",
               "https://example.com/\nLocation: http://evil/"]

# -- JSON bombs --------------------------------------------------------------------------------------
DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
HUGE_NUMBERS = [10**30, -(10**30), 2**63, 2**64 + 1, 1e308, -1e308, 10**400]
HUGE_NUMBER_LITERALS = [b"1" * 5000, b"1e999999", b"-1e999999", b"NaN", b"Infinity", b"-Infinity"]
MALFORMED_JSON = [b"{", b"{\"a\":}", b"[1,]", b"\xff\xfe", b"{\"a\":\"\\ud800\"}", b"\x00", b"tru", b"'x'"]

# -- Unicode confusables and lookalikes in handles and slugs ---------------------------------------
CONFUSABLE_HANDLES = ["\u0430cme",  # Cyrillic a
                      "acm\u0435",  # Cyrillic e
                      "\uff41cme",  # fullwidth a
                      "ac\u200bme",  # zero-width space
                      "ACME", "acme\n", "acme ", "-acme", "acme-", "a" * 41, "ac_me", "ac.me"]
CONFUSABLE_SLUGS = ["pr\u043emo",  # Cyrillic o
                    "promo\u200d", "\uff50romo", "promo\u0301", "pro mo", "promo/", "-promo", "_promo", "a" * 65,
                    "promo\n", "\u202epromo"]

# -- oversized bodies -------------------------------------------------------------------------------
def oversized_json(limit: int) -> bytes:
    pad = b"x" * (limit + 16)
    return b'{"destination":"https://example.com/","slug":"big","pad":"' + pad + b'"}'


# -- zip-slip and unsafe archives -------------------------------------------------------------------
def zip_with(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def tar_with(entries: dict[str, bytes], *, symlink: str | None = None, device: str | None = None,
             hardlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if symlink is not None:
            info = tarfile.TarInfo(symlink)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tf.addfile(info)
        if hardlink is not None:
            info = tarfile.TarInfo(hardlink)
            info.type = tarfile.LNKTYPE
            info.linkname = "../../etc/passwd"
            tf.addfile(info)
        if device is not None:
            info = tarfile.TarInfo(device)
            info.type = tarfile.CHRTYPE
            info.devmajor, info.devminor = 1, 3
            tf.addfile(info)
    return buf.getvalue()


INDEX = {"index.html": b"<h1>ok</h1>"}
ZIP_SLIP_ARCHIVES: list[tuple[str, str, bytes]] = [
    ("zip-dotdot", "application/zip", zip_with({**INDEX, "../evil.html": b"x"})),
    ("zip-deep-dotdot", "application/zip", zip_with({**INDEX, "a/../../evil.html": b"x"})),
    ("zip-absolute", "application/zip", zip_with({**INDEX, "/etc/evil.html": b"x"})),
    ("zip-backslash", "application/zip", zip_with({**INDEX, "..\\evil.html": b"x"})),
    ("zip-symlink", "application/zip", zip_with(INDEX, symlink="link.html")),
    ("tar-dotdot", "application/x-tar", tar_with({**INDEX, "../evil.html": b"x"})),
    ("tar-absolute", "application/x-tar", tar_with({**INDEX, "/tmp/evil.html": b"x"})),
    ("tar-symlink", "application/x-tar", tar_with(INDEX, symlink="link.html")),
    ("tar-hardlink", "application/x-tar", tar_with(INDEX, hardlink="hard.html")),
    ("tar-device", "application/x-tar", tar_with(INDEX, device="dev.html")),
    ("zip-garbage", "application/zip", b"PK\x03\x04garbage"),
    ("tar-garbage", "application/x-tar", b"\x00" * 10 + b"not a tar"),
    ("gzip-garbage", "application/gzip", b"\x1f\x8b\x08\x00garbage"),
]

# -- malformed multipart ----------------------------------------------------------------------------
MALFORMED_MULTIPART: list[tuple[str, bytes]] = [
    ("multipart/form-data", b"--x\r\nno boundary parameter\r\n--x--\r\n"),
    ("multipart/form-data; boundary=x", b"garbage without any part"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--x--\r\n"),
    ("multipart/form-data; boundary=x", b"--x\r\n\r\n\r\n--x--\r\n"),
    ("multipart/form-data; boundary=" + "b" * 300, b"--" + b"b" * 300 + b"--\r\n"),
    ("multipart/form-data; boundary=x", b"--x--\r\n"),
]

# -- malformed CSV ------------------------------------------------------------------------------------
MALFORMED_CSV = [b"", b"\xff\xfe\x00s\x00l", b"slug\npromo2\n", b"destination,slug\n\"unterminated,x\n",
                 b"slug,destination\n" + b"a" * 200_000 + b",https://example.com/\n", b"\x00\x00\x00"]

# -- slow bodies (slowloris) --------------------------------------------------------------------------
# (name, method, path under /v2/handles/{handle}, content type, body). A test sends the first half,
# pauses longer than GHARART_BODY_TIMEOUT_S, then (if the connection is still there) the rest: the
# answer is 408 `request_timeout` with `Connection: close` and nothing is created.
SLOW_BOUNDARY = "slowbody"
SLOW_MULTIPART = (f"--{SLOW_BOUNDARY}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nlink\r\n"
                  f"--{SLOW_BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\n"
                  "Content-Type: text/plain\r\n\r\n").encode() + b"slow " * 2000 + f"\r\n--{SLOW_BOUNDARY}--\r\n".encode()
SLOW_BODIES: list[tuple[str, str, str, str, bytes]] = [
    ("json-link", "POST", "/links", "application/json",
     b'{"slug":"slowpoke","destination":"https://example.com/slow"}'),
    ("multipart-file", "POST", "/files", f"multipart/form-data; boundary={SLOW_BOUNDARY}", SLOW_MULTIPART),
    ("csv-import", "POST", "/links/bulk-import?mode=partial", "text/csv",
     b"slug,destination\nslow-a,https://example.com/a\nslow-b,https://example.com/b\n"),
    ("site-deployment", "POST", "/site-deployments", "application/json",
     b'{"manifest":{"index.html":{"sha256":"' + b"a" * 64 + b'","size":5}},"message":"slow"}'),
    ("doc-page", "PUT", "/internal-docs/pages/slow/page.md", "application/json",
     b'{"content":"# slow","contentType":"text/markdown"}'),
]


def halves(body: bytes) -> tuple[bytes, bytes]:
    """The part sent before the stall and the part after it."""
    return body[: len(body) // 2], body[len(body) // 2:]
