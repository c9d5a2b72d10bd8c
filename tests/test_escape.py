"""bot.escape: one place that makes Jira text inert for a terminal, Markdown, Slack, wiki markup and links."""

from __future__ import annotations

import pytest

from bot.escape import markdown_escape, markdown_link, slack_escape, terminal_safe, web_url, wiki_escape

CONTROLS = ["\x1b", "\x07", "\x00", "\x7f", "\x85", "\x9b", "\r", "\t", "\u2028"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
        "\u200e", "\u200f", "\u061c"]


@pytest.mark.parametrize("char", CONTROLS + BIDI + ["\ud800"])
def test_terminal_safe_replaces_controls_bidi_and_surrogates(char):
    assert terminal_safe(f"a{char}b") == "a\ufffdb"


def test_terminal_safe_newlines_only_when_asked():
    hostile = "line one\x1b[2J\r\nline two\n\u202eevil"
    assert terminal_safe(hostile) == "line one\ufffd[2J\ufffd\ufffdline two\ufffd\ufffdevil"
    assert terminal_safe(hostile, keep_newlines=True) == "line one\ufffd[2J\nline two\n\ufffdevil"
    assert terminal_safe("bare\rreturn", keep_newlines=True) == "bare\ufffdreturn"


def test_terminal_safe_keeps_ordinary_text():
    text = "Épique: 5–10 days 🚀 zero\u200bwidth\u00a0nbsp 中文"
    assert terminal_safe(text) == text
    assert terminal_safe(None) == ""


def test_markdown_escape_makes_one_inert_line():
    hostile = ("<script>alert(1)</script> <!channel> & [click](https://evil.example) ![i](x) "
               "| row | *b* _e_ `c` ~s~ # h \\ @here\n\nnext\x1b[31m\u202e")
    escaped = markdown_escape(hostile)
    assert "\n" not in escaped
    assert "<" not in escaped and ">" not in escaped
    assert "&lt;script&gt;" in escaped and "&amp;" in escaped
    assert r"\[click\](https://evil.example)" in escaped and r"!\[i\](x)" in escaped
    assert r"\| row \|" in escaped and r"\*b\* \_e\_ \`c\` \~s\~ \# h \\" in escaped
    assert "@\u200bhere" in escaped
    assert "\x1b" not in escaped and "\u202e" not in escaped and escaped.endswith("next\ufffd\\[31m\ufffd")


def test_markdown_link_only_for_checked_urls():
    assert markdown_link("PAY-1", "https://jira.example.com/browse/PAY-1") == \
        "[PAY-1](<https://jira.example.com/browse/PAY-1>)"
    assert markdown_link("PAY-1", "javascript:alert(1)") == "PAY-1"
    assert markdown_link("PAY-1", "https://evil.example/x\n| forged |") == "PAY-1"
    assert markdown_link("PAY-1", None) == "PAY-1"


def test_slack_escape_neutralises_mentions_and_links_and_drops_controls():
    assert slack_escape("<!channel> <https://evil|click> & co") == \
        "&lt;!channel&gt; &lt;https://evil|click&gt; &amp; co"
    assert slack_escape("a\x1b[31mb\u202ec\x07") == "a[31mbc"
    assert slack_escape("two\nlines\tand tab") == "two\nlines\tand tab"
    assert slack_escape(None) == ""


def test_wiki_escape_leaves_no_markup_and_no_controls():
    hostile = "[~admin] {noformat}x{noformat} *bold* -strike- ??cite?? !http://x/i.png! |a|b| h1. Title\n* bullet\x1b"
    escaped = wiki_escape(hostile)
    for sequence in ("[~", "{noformat}", " *bold*", " -strike-", "??", " !http", " |a|", "\n", "\x1b"):
        assert sequence not in escaped
    assert wiki_escape("PAY-12 costs 5-10 days?") == "PAY-12 costs 5-10 days?"
    assert wiki_escape("a\u202eb\x00c") == "abc"


@pytest.mark.parametrize("url", [
    "https://example.atlassian.net/browse/PAY-1",
    "http://jira.internal:8080/jira/browse/PAY-1?focusedId=1#comment-2",
    "HTTPS://Example.com/a",
    "http://[::1]:8080/browse/A-1",
])
def test_web_url_accepts_plain_http_addresses(url):
    assert web_url(url) == url


@pytest.mark.parametrize("url", [
    None, "", 42, "javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.com/x", "//example.com/x",
    "https:///nohost", "https://example.com/a b", "https://example.com/x\n| forged |", "https://example.com/\x1b",
    "https://example.com/\u202etxt.exe", 'https://example.com/"onmouseover=', "https://example.com/<script>",
    "https://example.com/`x`", "https://example.com\\@evil.example/", "https://user:pw@example.com/",
    "https://jira.example.com@evil.example/", "https://example.com:notaport/", "https://exa|mple.com/",
])
def test_web_url_refuses_what_is_not_safe_to_link(url):
    assert web_url(url) is None


def test_web_url_percent_encodes_link_markup_after_the_host():
    assert web_url("https://j.example/browse/A-(1)|x[y]{z}^") == "https://j.example/browse/A-%281%29%7Cx%5By%5D%7Bz%7D%5E"


def test_slack_plain_formats_nothing_and_keeps_slack_escaping():
    from bot.escape import slack_plain

    assert slack_plain("Remove ~tmp~ dirs") == "Remove \u223ctmp\u223c dirs"
    assert slack_plain("*Core* `x` <!channel> & a_b_c") == "\u2217Core\u2217 \u02cbx\u02cb &lt;!channel&gt; &amp; a_b_c"
    assert slack_plain("bi\u202edi\x07") == "bidi"


def test_a_nudge_shows_the_summary_as_typed():
    from bot.deliver.slack import Item, item_text

    text = item_text(Item("r", "PAY-1", "Remove ~tmp~ dirs *now*", "Title", 'PAY-1 "Remove ~tmp~ dirs" has no x'))
    assert "~" not in text and "*now*" not in text
    assert "Remove \u223ctmp\u223c dirs \u2217now\u2217" in text
