"""Load YAML keeping every node's position, for errors that point at file:line:col.

Rules and config are user-written, so loading is strict: duplicate keys are an
error (PyYAML would silently keep the last one), anchors/aliases are refused
(rules never need them, and they are how billion-laughs bombs are built), and
files over a size limit are refused before parsing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.diagnostics import Diagnostic

if TYPE_CHECKING:
    import yaml
    from yaml.nodes import Node

# PyYAML is imported when a file is parsed, not with this module: a rule pack that
# validated on an earlier run comes from bot/yamlcache.py without it.

MAX_YAML_BYTES = 2_000_000
MAX_DEPTH = 64

PathKey = tuple  # a path into the document: ("rules", 0, "id")

# The tags plain YAML resolves to by itself; an explicit ``!!python/...`` or
# ``!custom`` tag is refused rather than silently ignored.
_PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map",
                                                         "timestamp")}


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


@dataclass
class YamlDocument:
    """Parsed data plus a map from each path to where its key and value start."""

    path: str
    text: str
    data: Any
    value_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    # True only for a document bot/yamlcache.py restored: this exact text, read by this exact govbot,
    # passed validation on an earlier run, so it is not validated again.
    validated: bool = False

    def position(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """(line, col), 1-based, of the nearest known node along ``path``."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(path)
        while probe:
            if probe in marks:
                return marks[probe]
            if not key and probe in self.value_marks:
                return self.value_marks[probe]
            probe = probe[:-1]
        return self.value_marks.get((), (1, 1))

    def diagnostic(self, path: PathKey, message: str, *, hint: str | None = None,
                   key: bool = False, span: int | None = None) -> Diagnostic:
        line, col = self.position(path, key=key)
        return Diagnostic(self.path, line, col, message, hint=hint, source=self.text, span=span)


@functools.cache
def _strict_loader() -> type:
    import yaml
    from yaml.events import AliasEvent

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
            if self.check_event(AliasEvent):
                event = self.peek_event()
                raise yaml.MarkedYAMLError(
                    None, None, "anchors and aliases (*name) are not allowed in govbot files",
                    event.start_mark)
            return super().compose_node(parent, index)

    return StrictLoader


def load(path: str | Path, *, text: str | None = None) -> YamlDocument:
    """Parse one YAML file; raise ``DiagnosticError`` on anything malformed."""
    display = str(path)
    if text is None:
        text = read(path)
    return parse(display, text)


def read(path: str | Path) -> str:
    """A YAML file's text: refused when missing, too large or not UTF-8 (``DiagnosticError``)."""
    display = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DiagnosticError([Diagnostic(display, 0, 0, "file not found")]) from None
    except IsADirectoryError:
        raise DiagnosticError([Diagnostic(display, 0, 0, "is a directory, expected a YAML file")]) from None
    except OSError as error:
        raise DiagnosticError([Diagnostic(display, 0, 0, f"cannot read: {error.strerror}")]) from None
    if len(raw) > MAX_YAML_BYTES:
        raise DiagnosticError([Diagnostic(display, 0, 0,
                                          f"file is {len(raw):,} bytes; the limit is {MAX_YAML_BYTES:,}")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        # Said as line:col, with the line, like every other problem (not a byte offset).
        start = error.start
        line_start = raw.rfind(b"\n", 0, start) + 1
        line = raw.count(b"\n", 0, start) + 1
        col = len(raw[line_start:start].decode("utf-8", errors="replace")) + 1
        raise DiagnosticError([Diagnostic(display, line, col, f"not UTF-8 text: byte {raw[start]:#04x} "
                                          "cannot start a character here",
                                          hint="save the file as UTF-8 (it may be Latin-1 or Windows-1252)",
                                          source=raw.decode("utf-8", errors="replace"))]) from None
    return text


def parse(display: str, text: str) -> YamlDocument:
    """Parse YAML text read from ``display``; raise ``DiagnosticError`` on anything malformed."""
    import yaml

    try:
        loader = _strict_loader()(text)
    except yaml.reader.ReaderError as error:
        # A control character (NUL, ESC...) the YAML reader refuses before parsing.
        before = text[:error.position]
        line, col = before.count("\n") + 1, error.position - before.rfind("\n")
        raise DiagnosticError([Diagnostic(display, line, col, f"invalid YAML: character {int(error.character):#06x} "
                                          f"is not allowed in YAML text", source=text)]) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = error.problem or error.context or "invalid YAML"
        raise DiagnosticError([Diagnostic(display, line, col, f"invalid YAML: {problem}", source=text,
                                          hint=_tab_hint(text, line))]) from None
    except yaml.YAMLError as error:
        raise DiagnosticError([Diagnostic(display, 1, 1, f"invalid YAML: {error}", source=text)]) from None
    except RecursionError:
        raise DiagnosticError([Diagnostic(display, 1, 1, "invalid YAML: nested too deeply")]) from None
    finally:
        loader.dispose()
    document = YamlDocument(display, text, None)
    if node is None:
        return document
    document.data = _convert(node, document, loader)
    return document


def _tab_hint(text: str, line: int) -> str | None:
    """YAML indents with spaces only; a tab on (or just before) the line is the likely cause."""
    lines = text.splitlines()
    nearby = lines[max(0, line - 2):line]
    if any("\t" in candidate for candidate in nearby):
        return "use spaces, not tabs: YAML does not allow tabs for indentation"
    return None


def _convert(root: Node, document: YamlDocument, loader: yaml.SafeLoader) -> Any:
    """Build Python values from nodes, recording marks and rejecting duplicate keys."""
    import yaml
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    diagnostics: list[Diagnostic] = []

    def mark(node: Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def scalar(node: ScalarNode) -> Any:
        try:
            return loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as error:
            line, col = mark(node)
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise DiagnosticError([Diagnostic(document.path, line, col, f"invalid value: {problem}",
                                              source=document.text)]) from None

    def build(node: Node, path: PathKey) -> Any:
        if len(path) > MAX_DEPTH:
            raise DiagnosticError([document.diagnostic(path, "nested too deeply")])
        document.value_marks[path] = mark(node)
        if node.tag not in _PLAIN_TAGS:
            line, col = mark(node)
            raise DiagnosticError([Diagnostic(document.path, line, col,
                                              f"tags like {_short_tag(node.tag)} are not allowed in govbot files",
                                              hint="write plain values; quote text that starts with !",
                                              source=document.text)])
        if isinstance(node, ScalarNode):
            return scalar(node)
        if isinstance(node, SequenceNode):
            return [build(child, path + (index,)) for index, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    line, col = mark(key_node)
                    diagnostics.append(Diagnostic(document.path, line, col,
                                                  "mapping keys must be plain values", source=document.text))
                    continue
                if key_node.tag not in _PLAIN_TAGS:
                    build(key_node, path)  # reports the tag
                key = scalar(key_node)
                if key == "<<":
                    line, col = mark(key_node)
                    diagnostics.append(Diagnostic(document.path, line, col,
                                                  "merge keys (<<) are not allowed", source=document.text))
                    continue
                if key in result:
                    line, col = mark(key_node)
                    first = document.key_marks.get(path + (key,), (0, 0))[0]
                    diagnostics.append(Diagnostic(
                        document.path, line, col, f"duplicate key {key!r}",
                        hint=f"{key!r} is already set on line {first}; remove one of them",
                        source=document.text, span=len(str(key))))
                    continue
                document.key_marks[path + (key,)] = mark(key_node)
                result[key] = build(value_node, path + (key,))
            return result
        return None

    data = build(root, ())
    if diagnostics:
        raise DiagnosticError(diagnostics)
    return data


class DiagnosticError(Exception):
    """One or more positioned problems in user files."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("\n".join(d.render() for d in diagnostics))
        self.diagnostics = diagnostics
