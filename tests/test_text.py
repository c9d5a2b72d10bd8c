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


# -- sections wherever people write them (issue 10) -------------------------------------------------

def cell(words, header=False):
    return {"type": "tableHeader" if header else "tableCell", "attrs": {}, "content": [para(words)]}


def table(*rows):
    return {"type": "table", "content": [{"type": "tableRow", "content": list(row)} for row in rows]}


def test_wiki_table_rows_header_cell_and_two_column():
    wiki = "||Anticipated Outcome|Churn below 2% by Q3|\n|Actual Outcome|Churn 2.4%|\nafter the table"
    assert text.sections(wiki) == {"anticipated outcome": "Churn below 2% by Q3", "actual outcome": "Churn 2.4%"}


def test_wiki_and_markdown_tables_with_a_header_row_name_their_columns():
    wiki = "||Anticipated Outcome||Actual Outcome||\n|Lift 5%|Rose 3%|"
    markdown = "| Anticipated Outcome | Actual Outcome |\n|---|---|\n| Lift 5% | Rose 3% |"
    for value in (wiki, markdown):
        sections = text.sections(value)
        assert sections["anticipated outcome"] == "Lift 5%" and sections["actual outcome"] == "Rose 3%"
    # ||Field||Value|| over label rows: each row is a section too.
    assert text.sections("||Field||Value||\n|Reason|deadline|")["reason"] == "deadline"


def test_wiki_panel_and_expand_titles_are_sections_ending_with_the_block():
    wiki = ("{panel:title=Anticipated Outcome|borderStyle=dashed}\nLift 5% by Q3\n{panel}\n"
            "h2. Scope\nall\n{expand:Impact}slower releases{expand}")
    sections = text.sections(wiki)
    assert sections["anticipated outcome"] == "Lift 5% by Q3"
    assert sections["scope"].startswith("all") and sections["impact"] == "slower releases"
    assert text.to_text("{panel:title=Reason}deadline{panel}") == "Reason\ndeadline"


def test_a_pipe_inside_a_link_does_not_split_a_cell():
    assert text.sections("|Anticipated Outcome|see [the plan|https://x.test/p] 5%|")["anticipated outcome"] \
        == "see the plan 5%"


def test_adf_tables_panels_expands_and_bold_paragraphs():
    doc = adf(table([cell("Anticipated Outcome", True), cell("Lift 5%")]),
              {"type": "panel", "attrs": {"panelType": "info"},
               "content": [heading("Actual Outcome", 3), para("Rose 3%")]},
              {"type": "expand", "attrs": {"title": "Reason"}, "content": [para("deadline")]},
              para({"type": "text", "text": "Impact", "marks": [{"type": "strong"}]}), para("slow"))
    assert text.sections(doc) == {"anticipated outcome": "Lift 5%", "actual outcome": "Rose 3%",
                                  "reason": "deadline", "impact": "slow"}
    columns = adf(table([cell("Anticipated Outcome", True), cell("Actual Outcome", True)],
                        [cell("Lift 5%"), cell("")]))
    assert text.sections(columns)["anticipated outcome"] == "Lift 5%"
    assert text.sections(columns)["actual outcome"] == ""


def test_a_heading_inside_a_panel_ends_with_the_panel():
    doc = adf({"type": "panel", "attrs": {}, "content": [heading("Anticipated Outcome"), para("NPS +10")]},
              para("Unrelated text after the panel"))
    assert text.sections(doc)["anticipated outcome"] == "NPS +10"


def test_labels_in_any_script_with_a_fullwidth_colon():
    assert text.sections("预期结果：提高留存率")["预期结果"] == "提高留存率"
    assert text.sections("Ожидаемый результат: меньше оттока")["ожидаемый результат"] == "меньше оттока"


def test_hostile_tables_stay_bounded():
    wide = "|" + "|".join(f"c{i}" for i in range(3000)) + "|"
    assert "c2999" in text.to_text(wide)
    nested = {"type": "doc", "content": []}
    current = nested
    for _ in range(2000):  # tables in cells (ADF allows none): read as text, no recursion
        inner = table([{"type": "tableCell", "content": []}])
        current["content"].append(inner)
        current = inner["content"][0]["content"][0]
    current["content"].append(para("bottom"))
    assert "bottom" in text.to_text(nested) or text.to_text(nested) == ""


# -- one definition of a placeholder -------------------------------------------------------------

PLACEHOLDERS = text.normalised_placeholders(["tbd", "n/a", "-", "todo", "..."])


def test_placeholders_are_unicode_aware():
    for real in ("顧客満足度を上げる", "Снизить отток клиентов", "提高留存率", "Kundenzufriedenheit erhöhen", "5"):
        assert text.placeholder_reason(real, PLACEHOLDERS) is None, real
    for placeholder in ("TBD", "tbd.", "N/A", "n/a", "-", "—", "…", "...", "???", "<TBD>", "todo!"):
        assert text.placeholder_reason(placeholder, PLACEHOLDERS) == "placeholder", placeholder
    assert text.placeholder_reason("   ", PLACEHOLDERS) == "empty"
    assert text.placeholder_reason("Faster checkout.", PLACEHOLDERS, summary="Faster checkout") == "summary copy"


def test_a_field_is_found_by_display_name_and_the_name_maps_order_breaks_ties():
    from bot.model import Issue

    names = {"customfield_2": "Anticipated Outcome", "customfield_1": "anticipated outcome", "labels": "Labels"}
    issue = Issue("PAY-1", fields={"customfield_1": "a", "customfield_2": "b"}, names=names)
    assert issue.field_id("Anticipated Outcome") == "customfield_2"  # first in the name map, not in fields
    assert Issue("PAY-2", fields={"customfield_1": "a"}, names=names).field_id("ANTICIPATED OUTCOME") == "customfield_1"
    assert Issue("PAY-3", fields={"CustomField_9": 1}, names=names).field_id("customfield_9") == "CustomField_9"
    assert Issue("PAY-4", fields={}, names=names).field_id("Anticipated Outcome") is None
