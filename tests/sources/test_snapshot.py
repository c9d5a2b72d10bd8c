import json

import pytest

from bot.config import load_config
from bot.errors import SourceError
from bot.sources.snapshot import load_snapshot

CONFIG = load_config(None, search=False)


def write(tmp_path, data, name="snap.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_single_response_and_list_of_pages(tmp_path):
    issue = {"key": "A-1", "fields": {"issuetype": {"name": "Epic"}}}
    assert list(load_snapshot(write(tmp_path, {"issues": [issue]}), CONFIG).issues) == ["A-1"]
    pages = [{"issues": [issue], "nextPageToken": "t"}, {"issues": [dict(issue, key="A-2")], "isLast": True}]
    assert list(load_snapshot(write(tmp_path, pages), CONFIG).issues) == ["A-1", "A-2"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ({"values": []}, 'no "issues" list'),
    ([1, 2], "not a Jira search response"),
    ("42", "not a Jira search response"),
])
def test_bad_snapshots_get_one_clear_error(tmp_path, content, message):
    with pytest.raises(SourceError) as error:
        load_snapshot(write(tmp_path, content), CONFIG)
    assert message in str(error.value)


@pytest.mark.parametrize("content, message, hint", [
    ({"errorMessages": [], "errors": {"invalid": "Field 'invalid' is not valid for this operation."}},
     "a Jira error response, not search results: invalid: Field 'invalid' is not valid for this operation.",
     "a search that succeeded"),
    ({"errorMessages": ["The value 'X' does not exist\nfor the field 'project'.\x1b[2J"], "errors": {}},
     "not search results: The value 'X' does not exist for the field 'project'.[2J", "a search that succeeded"),
    ({"id": "10002", "key": "SAMPLEPROJECT-1", "fields": {"summary": "Sample Issue"}},
     "a single issue (as /rest/api/2/issue/KEY returns it), not a Jira search response", '{"issues": [...]}'),
    ([{"key": "SP-5", "fields": {}}, {"key": "SP-6", "fields": {}}],
     "a list of issues, not a Jira search response", '{"issues": [...]}'),
])
def test_real_bodies_that_are_not_search_responses_are_named_for_what_they_are(tmp_path, content, message, hint):
    # The shapes of ../shared/realdata/bad-input: what people save by mistake from Jira's other endpoints.
    with pytest.raises(SourceError) as error:
        load_snapshot(write(tmp_path, content), CONFIG)
    assert error.value.message.endswith(message) and hint in error.value.hint


def test_missing_snapshot(tmp_path):
    with pytest.raises(SourceError, match="snapshot file not found"):
        load_snapshot(tmp_path / "nope.json", CONFIG)


def test_issues_across_the_window_edges_are_read_whole(tmp_path):
    """Small issues are read on before the window runs out; one longer than ``REFILL_CHARS``
    still meets the window's end, fails to decode and is decoded again from more text."""
    from bot.sources.snapshot import CHUNK_CHARS, REFILL_CHARS, stream

    small = [{"key": f"A-{n}", "fields": {"summary": "s" * 3000}} for n in range(1, 1501)]
    big = [{"key": f"B-{n}", "fields": {"summary": "b" * (REFILL_CHARS * 8)}} for n in range(1, 41)]
    issues = small + big + [dict(issue, key=issue["key"].replace("A", "C")) for issue in small]
    path = write(tmp_path, {"issues": issues})
    assert path.stat().st_size > 2 * CHUNK_CHARS  # at least two window edges, both kinds of issue
    assert [value for kind, value in stream(path) if kind == "issue"] == issues


def test_an_error_past_the_first_window_names_its_line_and_column(tmp_path):
    """Lines and columns count the text already dropped from the window."""
    from bot.sources.snapshot import CHUNK_CHARS, stream

    lines = ['{"issues": ['] + [json.dumps({"key": f"A-{n}", "fields": {"summary": "s" * 3000}}) + ","
                                for n in range(1, 1501)]
    lines.append('   {"key": "A-0", oops}]}')
    path = write(tmp_path, "\n".join(lines))
    assert path.stat().st_size > CHUNK_CHARS
    with pytest.raises(SourceError, match=rf":{len(lines)}:{lines[-1].index('oops') + 1}: not valid JSON"):
        list(stream(path))
