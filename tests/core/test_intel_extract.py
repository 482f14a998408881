"""Link extraction, URL normalisation and robots rules (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gharart_core.intel.extract import extract_links, normalize_url, same_host
from gharart_core.intel.robots import RobotsRules

BASE = "http://acme.localhost/blog/post.html"


def test_extracts_every_kind_of_link_in_document_order():
    html = b"""<html><head><title> Hello
      world </title><link rel=stylesheet href="/s.css"><script src="app.js"></script></head>
      <body><a href="../about">About</a><a href="#top">top</a><a href="mailto:x@y.z">m</a>
      <img src="/i.png" srcset="/i-2x.png 2x, /i-3x.png 3x"><a href="javascript:alert(1)">x</a>
      <a href="https://other.example/x#frag">ext</a><a href="/about">dup</a></body></html>"""
    got = extract_links(html, BASE)
    assert got.title == "Hello world"
    assert got.links == (
        "http://acme.localhost/s.css",
        "http://acme.localhost/blog/app.js",
        "http://acme.localhost/about",
        "http://acme.localhost/blog/post.html",
        "http://acme.localhost/i.png",
        "http://acme.localhost/i-2x.png",
        "http://acme.localhost/i-3x.png",
        "https://other.example/x",
    )


def test_malformed_html_still_yields_links():
    html = (
        b"<html><title>Broken<a href='/a'>a<div><a href=/b><p <a href=\"/c\"> <img src=/d.png <<<>>> \xff\xfe"
    )
    got = extract_links(html, "http://h/")
    assert "http://h/a" in got.links and "http://h/b" in got.links


def test_base_href_is_honoured():
    got = extract_links('<base href="/docs/"><a href="x.html">', "http://h/index.html")
    assert got.links == ("http://h/docs/x.html",)


def test_normalisation():
    assert normalize_url("HTTP://Acme.LocalHost:80/a/./b/../c?q=1#f") == "http://acme.localhost/a/c?q=1"
    assert normalize_url("https://h:443") == "https://h/"
    assert normalize_url("https://h:8443/x") == "https://h:8443/x"
    assert normalize_url("http://u:p@h/") is None
    assert normalize_url("ftp://h/") is None
    assert normalize_url("data:text/html,hi") is None
    assert normalize_url("/%7Euser/a%2fb", "http://h/") == "http://h/~user/a/b"
    assert normalize_url("http://h/a\nb") is None
    assert same_host("http://H/x", "h:8000")


@given(st.text(max_size=60))
def test_normalize_never_raises_and_is_idempotent(raw):
    url = normalize_url(raw, "http://h/base/")
    if url is not None:
        assert normalize_url(url) == url


@given(st.binary(max_size=400))
def test_extract_never_raises(body):
    extract_links(body, "http://h/")


def test_robots_rules():
    rules = RobotsRules("User-agent: *\nDisallow: /private/\n")
    assert rules.allowed("http://h/public")
    assert not rules.allowed("http://h/private/x")
    assert RobotsRules.from_response(404, b"").allowed("http://h/x")
    assert not RobotsRules.from_response(503, b"").allowed("http://h/x")
    assert not RobotsRules.from_response(None, b"").allowed("http://h/x")
