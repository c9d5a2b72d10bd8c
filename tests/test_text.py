from bot import text


def adf(*blocks):
    return {"type": "doc", "version": 1, "content": list(blocks)}


def heading(words, level=2):
    return {"type": "heading", "attrs": {"level": level}, "content": [{"type": "text", "text": words}]}


def para(*parts):
    return {"type": "paragraph", "content": [p if isinstance(p, dict) else {"type": "text", "text": p} for p in parts]}


def test_adf_text_and_heading_sections():
    doc = adf(heading("Anticipated Outcome"), para("80% of users ", {"type": "text", "text": "onboard",
                                                                     "marks": [{"type": "strong"}]}),
              heading("Scope"), para("Everything"))
    assert text.to_text(doc) == "Anticipated Outcome\n80% of users onboard\nScope\nEverything"
    assert text.sections(doc) == {"anticipated outcome": "80% of users onboard", "scope": "Everything"}


def test_adf_label_lines_with_hard_breaks():
    doc = adf(para("Reason: deadline", {"type": "hardBreak"}, "Impact: complexity"))
    assert text.sections(doc) == {"reason": "deadline", "impact": "complexity"}


def test_adf_inline_nodes():
    doc = adf(para({"type": "mention", "attrs": {"id": "x", "text": "@Ann"}}, " see ",
                   {"type": "inlineCard", "attrs": {"url": "https://x.test/1"}},
                   " by ", {"type": "date", "attrs": {"timestamp": "1767225600000"}}))
    assert text.to_text(doc) == "@Ann see https://x.test/1 by 2026-01-01"


def test_wiki_markup_headings_labels_and_markup():
    wiki = "h2. Context\nblah *bold* [link|https://x.test]\n*Anticipated Outcome:* TBD\nh3. Actual Outcome\nwe did it"
    sections = text.sections(wiki)
    assert sections["anticipated outcome"] == "TBD"
    assert sections["actual outcome"] == "we did it"
    assert "blah bold link" in text.to_text(wiki)


def test_markdown_heading_and_bold_line():
    assert text.sections("## Impact\nslow\n**Reason**\ndeadline") == {"impact": "slow", "reason": "deadline"}


def test_heading_section_wins_over_label_of_same_name():
    sections = text.sections("h2. Reason\nDeadline: Q3 launch\nReason: other")
    assert sections["reason"].startswith("Deadline: Q3 launch")
    assert sections["deadline"] == "Q3 launch"


def test_urls_are_not_labels():
    assert text.sections("see https://example.com/x") == {}


def test_deeply_nested_adf_does_not_recurse():
    doc = {"type": "doc", "content": []}
    current = doc
    for _ in range(100_000):
        child = {"type": "bulletList", "content": []}
        current["content"].append(child)
        current = child
    current["content"].append({"type": "text", "text": "deep"})
    assert "deep" in text.to_text(doc)


def test_huge_text_is_bounded():
    big = "Reason: x\n" + ("word " * 3_000_000)
    assert len(text.to_text(big)) <= text.MAX_TEXT_CHARS + 10


def test_value_to_text_shapes():
    assert text.value_to_text({"value": "High"}) == "High"
    assert text.value_to_text({"value": "A", "child": {"value": "B"}}) == "A - B"
    assert text.value_to_text([{"name": "x"}, {"name": "y"}]) == "x, y"
    assert text.value_to_text(3.5) == "3.5"
    assert text.value_to_text(None) == ""
    assert text.value_to_text({"unknown": 1}) == ""
