"""Read a JSON snapshot saved from Jira's search APIs.

Accepted shapes, exactly as Jira returns them:
- one response object: ``{"issues": [...], "names": {...}}`` (Cloud
  ``/rest/api/3/search/jql`` or Data Center ``/rest/api/2/search``);
- a list of such page objects, as saved by a script that pages through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.errors import SourceError
from bot.sources.normalize import Normalizer
from bot.workspace import Workspace

MAX_SNAPSHOT_BYTES = 2_000_000_000


def read_pages(path: str | Path) -> list[dict]:
    """The search-response pages in a snapshot file; SourceError if it is not one."""
    display = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_SNAPSHOT_BYTES:
            raise SourceError(f"{display}: snapshot is {size:,} bytes; the limit is {MAX_SNAPSHOT_BYTES:,}")
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise SourceError(f"{display}: snapshot file not found") from None
    except IsADirectoryError:
        raise SourceError(f"{display}: is a directory, expected a JSON snapshot file") from None
    except PermissionError:
        raise SourceError(f"{display}: permission denied reading the snapshot") from None
    except OSError as error:
        raise SourceError(f"{display}: cannot read the snapshot ({error.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as error:
        raise SourceError(f"{display}:{error.lineno}:{error.colno}: not valid JSON ({error.msg})",
                          hint="a snapshot is the JSON body of a Jira search response") from None
    except RecursionError:
        raise SourceError(f"{display}: JSON nested too deeply to read") from None
    return pages_of(data, display)


def pages_of(data: Any, display: str = "snapshot") -> list[dict]:
    if isinstance(data, dict):
        pages = [data]
    elif isinstance(data, list) and all(isinstance(page, dict) for page in data):
        pages = data
    else:
        raise SourceError(f"{display}: not a Jira search response",
                          hint='expected {"issues": [...]} or a list of such pages')
    for index, page in enumerate(pages):
        if not isinstance(page.get("issues"), list):
            where = "" if len(pages) == 1 else f" (page {index + 1})"
            raise SourceError(f"{display}{where}: not a Jira search response: no \"issues\" list",
                              hint='expected {"issues": [...], "names": {...}} as returned by '
                                   '/rest/api/3/search/jql or /rest/api/2/search')
    return pages


def load_snapshot(path: str | Path, config: Config) -> Workspace:
    normalizer = Normalizer(config)
    # Learn every page's field names first: a later page may name a field an
    # earlier page's issues already use.
    pages = read_pages(path)
    for page in pages:
        normalizer.learn_fields(page.get("names"), page.get("schema"))
    for page in pages:
        normalizer.add_page(page)
    workspace = normalizer.finish()
    workspace.source = f"snapshot:{path}"
    return workspace
