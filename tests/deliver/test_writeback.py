"""Writing a value into a description section: replaced where it is, appended otherwise, the rest untouched.

Every result is read back with ``bot.text.sections``, the reader the rules use, so
"written" means "the rule now sees it".
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from bot.deliver import writeback
from bot.deliver.writeback import APPENDED, REPLACED, set_adf_section, set_wiki_section
from bot.text import sections

REALDATA = Path("/work/shared/realdata")
NAMES = ["Anticipated Outcome", "Expected Outcome", "Outcome Hypothesis"]


def _real(name: str, pick) -> object:
    path = REALDATA / name
    if not path.exists():  # outside the project's machine: the same shape, written out
        return None
    return pick(json.loads(path.read_text(encoding="utf-8")))


# A Cloud description as Jira's own API example writes it (platform-swagger v3), with our sections around it.
ATLASSIAN_PARAGRAPH = {"type": "paragraph", "content": [{"type": "text", "text": "Lorem ipsum dolor sit amet."}]}


def cloud_doc() -> dict:
    return {"type": "doc", "version": 1, "content": [
        ATLASSIAN_PARAGRAPH,
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Expected outcome"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "TBD"}]},
        {"type": "bulletList", "content": [{"type": "listItem", "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "later"}]}]}]},
        {"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": "Scope"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Checkout only, "},
                                          {"type": "mention", "attrs": {"id": "5b10", "text": "@Mia"}}]},
    ]}


def test_adf_heading_section_is_replaced_and_nothing_else_changes():
    doc = cloud_doc()
    before = copy.deepcopy(doc)
    new, how = set_adf_section(doc, NAMES, "Anticipated Outcome", "Cut p95 latency to 300 ms\n\nby Q3")
    assert how == REPLACED and doc == before  # the input is not changed in place
    assert new["content"][:2] == before["content"][:2]
    assert new["content"][-2:] == before["content"][-2:]  # Scope and its mention are kept node for node
    read = sections(new)
    assert read["expected outcome"] == "Cut p95 latency to 300 ms\nby Q3"
    assert read["scope"].startswith("Checkout only")


def test_adf_without_the_section_gets_it_appended_and_a_missing_description_gets_one():
    real = _real("atlassian-openapi-agile-epic-issue-example.json",
                 lambda data: data["fields"]["comment"][0]["body"] if isinstance(data, dict) and "fields" in data
                 else None) or {"type": "doc", "version": 1, "content": [ATLASSIAN_PARAGRAPH]}
    new, how = set_adf_section(real, NAMES, "Anticipated Outcome", "Fewer refund tickets")
    assert how == APPENDED
    assert new["content"][:len(real["content"])] == real["content"]
    assert sections(new)["anticipated outcome"] == "Fewer refund tickets"
    empty, how = set_adf_section(None, NAMES, "Anticipated Outcome", "x y z")
    assert how == APPENDED and empty["type"] == "doc" and sections(empty)["anticipated outcome"] == "x y z"


def test_adf_label_line_keeps_its_label_marks_and_the_prose_after_it():
    doc = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Reason:", "marks": [{"type": "strong"}]},
                                          {"type": "text", "text": " n/a"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Impact: slows every release"}]}]}
    new, how = set_adf_section(doc, ["Reason", "Why"], "Reason", "Deadline for the Q3 launch")
    assert how == REPLACED
    assert new["content"][0]["content"][0] == {"type": "text", "text": "Reason: ", "marks": [{"type": "strong"}]}
    assert new["content"][1] == doc["content"][1]
    read = sections(new)
    assert read["reason"] == "Deadline for the Q3 launch" and read["impact"] == "slows every release"


def test_adf_value_is_text_only_so_it_can_never_mention_or_link():
    new, _ = set_adf_section(None, NAMES, "Anticipated Outcome", "[~admin] <@U1> [click|https://evil] \x1b[31m")
    nodes = [node for paragraph in new["content"] for node in paragraph.get("content", [])]
    assert {node["type"] for node in nodes} == {"text"}
    assert all("marks" not in node for node in nodes)
    assert "\x1b" not in json.dumps(new)


WIKI = ("The method File.createNewFile() does not exist in JDK 1.1.8.\n\n"
        "h2. Anticipated Outcome\nTBD\n* later\n\nh2. Scope\nAll of it [~alice]\n")


def test_wiki_heading_section_is_replaced_between_its_heading_and_the_next():
    new, how = set_wiki_section(WIKI, NAMES, "Anticipated Outcome", "Churn below 2% by Q3\nsecond line")
    assert how == REPLACED
    assert new == ("The method File.createNewFile() does not exist in JDK 1.1.8.\n\n"
                   "h2. Anticipated Outcome\nChurn below 2% by Q3\nsecond line\n\nh2. Scope\nAll of it [~alice]\n")
    assert sections(new)["anticipated outcome"] == "Churn below 2% by Q3\nsecond line"


def test_wiki_real_description_without_the_section_gets_it_appended_escaped():
    real = _real("lucene-dc-v2-search.json", lambda data: data["issues"][1]["fields"]["description"]) or \
        "Hi. I am using a cvs version of Lucene.\n\nAs I am currently working on the problem myself."
    new, how = set_wiki_section(real, NAMES, "Anticipated Outcome", "Ping [~boss] and see {color:red}x{color} -now-")
    assert how == APPENDED and new.startswith(real.rstrip())
    tail = new[len(real.rstrip()):]
    assert tail.startswith("\n\nh2. Anticipated Outcome\n")
    assert "[~boss]" not in tail and "\\[\\~boss\\]" in tail and "\\{color" in tail
    assert sections(new)["anticipated outcome"]


def test_wiki_label_line_is_replaced_in_place_and_crlf_is_kept():
    body = "Intro\r\n*Timeline:* -\r\nmore prose\r\nImpact: slow"
    new, how = set_wiki_section(body, ["Timeline", "Trigger"], "Timeline", "When the v2 API is retired")
    assert how == REPLACED
    assert new == "Intro\r\n*Timeline:* When the v2 API is retired\r\nmore prose\r\nImpact: slow"


def test_wiki_bold_heading_and_empty_description():
    new, how = set_wiki_section("*Expected Outcome*\n-\n*Scope*\nx", NAMES, "Anticipated Outcome", "Real text")
    assert how == REPLACED and new == "*Expected Outcome*\nReal text\n\n*Scope*\nx"
    new, how = set_wiki_section(None, NAMES, "Anticipated Outcome", "Real text")
    assert how == APPENDED and new == "h2. Anticipated Outcome\nReal text"


def test_single_line_field_value():
    assert writeback.plain_line("  a\n\nb\x07 c  ", limit=4) == "a b "
