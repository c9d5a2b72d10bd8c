"""Remember YAML that passed validation, so the next run neither parses nor validates it again.

Parsing the rule pack with position marks (pure-Python PyYAML) and importing and
running jsonschema were most of a small scan's start-up. Once a rule pack (every
rule file, with the config it was checked against) or a govbot.yaml has
validated without a single problem, its parsed form (data and every node's
line:col) is kept as JSON. A later run that reads exactly the same text, with
exactly the same govbot, takes it from here and skips both; anything else
(an edited file, another config, another govbot or dependency version, a
damaged entry) is a miss, and the files are parsed and validated as always.
Only clean results are kept, so every error is still found, and said the
same way, by the full check.

JSON, not pickle: reading a cache file must never run code. Entries live in
``$GOVBOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/govbot``, else ``~/.cache/govbot``
(folder 0700, files 0600, written whole then renamed into place).
``GOVBOT_NO_CACHE=1`` turns the cache off; a folder that cannot be made or
written only means nothing is cached.

The cache is an optimisation and must never be the reason a run fails: every
error in it (an odd file system, a home that is not there, a damaged entry,
a file where a folder should be) is a miss, never an exception to the caller.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import bot
from bot.model import bulk
from bot.yamlfile import YamlDocument

FORMAT = 1
KEEP = 24  # entries kept per kind (config, rules): older ones go when a new one is written
MAX_ENTRY_BYTES = 64_000_000  # far above any real pack; a larger file is damaged (cut off, fails its checksum)
# Code whose behaviour decides whether a file is valid: any change to it (a new version, or an
# edited checkout without one) is another signature, so no entry written before counts.
_DEPENDENCIES = ("yaml", "jsonschema", "jsonschema_specifications", "referencing", "jinja2", "re2")


def cache_dir() -> Path | None:
    """Where entries live, or None when caching is off."""
    env = os.environ
    if env.get("GOVBOT_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no"):
        return None
    if env.get("GOVBOT_CACHE_DIR"):
        return Path(env["GOVBOT_CACHE_DIR"]).expanduser()
    base = env.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative value is ignored
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError, OSError):  # no home directory to speak of
            return None
        if not os.path.isabs(base):  # HOME unset and no passwd entry: "~" stays "~", i.e. the working folder
            return None
    return Path(base) / "govbot"


@functools.cache
def code_signature() -> str | None:
    """govbot's version, Python's, and the size and mtime of every module of govbot and of its parsers;
    None when one cannot be listed or stat'ed (nothing is cached this run)."""
    import importlib.util

    try:
        digest = hashlib.sha256(f"{FORMAT}\0{bot.__version__}\0{sys.version}\0".encode())
        files = _modules(os.path.dirname(os.path.abspath(bot.__file__)))
        for name in _DEPENDENCIES:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
            digest.update(f"{name}={spec.origin if spec else None}\0".encode())
            if spec is not None and spec.origin and os.path.isfile(spec.origin):
                status = os.stat(spec.origin)
                files.append((spec.origin, status.st_size, status.st_mtime_ns))
        for path, size, mtime in files:
            digest.update(f"{path}\0{size}\0{mtime}\0".encode())
    except Exception:  # noqa: BLE001 - an odd file system or install: no cache, never a failed run
        return None
    return digest.hexdigest()


def _modules(folder: str) -> list[tuple[str, int, int]]:
    """(path, size, mtime) of every .py file under ``folder``, in a stable order (os.scandir: a third
    of what pathlib's rglob takes)."""
    found = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda entry: entry.name):
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    found += _modules(entry.path)
            elif entry.name.endswith(".py"):
                status = entry.stat()
                found.append((entry.path, status.st_size, status.st_mtime_ns))
    return found


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def key(kind: str, *parts: str) -> str | None:
    """The entry name for ``parts`` (content hashes and whatever else the result depends on); None when
    govbot's own code cannot be fingerprinted, so nothing is cached."""
    signature = code_signature()
    if signature is None:
        return None
    digest = hashlib.sha256(f"{signature}\0{kind}\0".encode())
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def restore(kind: str, entry_key: str | None, texts: dict[str, str]) -> tuple[dict[str, YamlDocument], Any] | None:
    """The documents (by path) and extra data kept under ``entry_key``; None on a miss or a damaged entry.

    ``texts`` are the files as read now: an entry is used only when it holds exactly these, each with
    the same content hash.
    """
    try:
        folder = cache_dir()
        if folder is None or entry_key is None:
            return None
        with open(folder / f"{kind}-{entry_key}.json", "rb") as handle:
            header, _, raw = handle.read(MAX_ENTRY_BYTES + 1).partition(b"\n")
        head = json.loads(header)
        if head.get("format") != FORMAT or head.get("sum") != hashlib.sha256(raw).hexdigest():
            return None  # another format, or cut short or changed since it was written
        with bulk():  # thousands of long-lived, acyclic marks: no collection walks them meanwhile
            return _documents(json.loads(raw), kind, entry_key, texts)
    except Exception:  # noqa: BLE001 - missing, unreadable or damaged: parse and validate as if there were no cache
        return None


def _documents(body: Any, kind: str, entry_key: str, texts: dict[str, str]):
    """The documents of a decoded entry, or None when it is for another kind, key, version or text."""
    if body.get("kind") != kind or body.get("key") != entry_key or body.get("govbot") != bot.__version__:
        return None
    written = body["documents"]
    if sorted(item["path"] for item in written) != sorted(texts):
        return None
    documents = {}
    for item in written:
        text = texts[item["path"]]
        if item["sha256"] != text_hash(text):
            return None
        documents[item["path"]] = YamlDocument(
            item["path"], text, item["data"],
            value_marks={tuple(path): (line, col) for path, line, col in item["value_marks"]},
            key_marks={tuple(path): (line, col) for path, line, col in item["key_marks"]},
            validated=True)
    return documents, body.get("extra")


def remember(kind: str, entry_key: str | None, documents: list[YamlDocument], extra: Any = None) -> bool:
    """Keep ``documents`` (which validated without a problem) under ``entry_key``; False when not kept.

    Data plain JSON cannot carry exactly (a date, a number as a mapping key) is not kept: the next run
    parses it again rather than see something else.
    """
    try:
        folder = cache_dir()
        if folder is None or entry_key is None:
            return False
        return _write(folder, kind, entry_key, documents, extra)
    except Exception:  # noqa: BLE001 - read-only, full, not ours, or odd in a way not foreseen: not cached
        return False


def _write(folder: Path, kind: str, entry_key: str, documents: list[YamlDocument], extra: Any) -> bool:
    written = []
    for document in documents:
        if not (_plain(document.data) and _plain(extra)):
            return False
        written.append({"path": document.path, "sha256": text_hash(document.text), "data": document.data,
                        "value_marks": [[list(path), line, col] for path, (line, col) in document.value_marks.items()],
                        "key_marks": [[list(path), line, col] for path, (line, col) in document.key_marks.items()]})
    body = {"kind": kind, "key": entry_key, "govbot": bot.__version__, "documents": written, "extra": extra}
    # A header line (format, checksum of the rest), then the body: a damaged entry is seen before it is used.
    raw = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8", "surrogatepass")
    payload = json.dumps({"format": FORMAT, "sum": hashlib.sha256(raw).hexdigest()}).encode() + b"\n" + raw
    target = folder / f"{kind}-{entry_key}.json"
    temporary = folder / f".{kind}-{entry_key}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(payload)
            os.replace(temporary, target)  # readers see the old entry or the whole new one, never half
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError:
        return False  # read-only, full or not ours: this run simply is not cached
    _prune(folder, kind)
    return True


def _prune(folder: Path, kind: str) -> None:
    """Keep the newest KEEP entries of ``kind``: each edit of a rule file makes a new one."""
    try:
        entries = sorted(folder.glob(f"{kind}-*.json"), key=lambda path: path.stat().st_mtime_ns, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except Exception:  # noqa: BLE001 - the entry is written; tidying up can wait for the next run
        pass


def _plain(value: Any, depth: int = 0) -> bool:
    """``value`` comes back from JSON exactly as it is (same types, same keys)."""
    if depth > 200:
        return False
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(name, str) and _plain(item, depth + 1) for name, item in value.items())
    return False
