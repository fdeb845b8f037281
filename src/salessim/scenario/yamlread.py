"""Reading an input file as YAML, with limits a hostile or broken file cannot get past.

Every scenario, redesign, experiment and optimisation file goes through :func:`read_yaml`.
The limits, each refused with a clear error before any work:

- the file must be a regular file (not a folder, device or FIFO, which would block or
  never end) of at most :data:`MAX_FILE_BYTES`, in UTF-8;
- at most :data:`MAX_DEPTH` levels of nested maps and lists;
- at most :data:`MAX_NODES` values, counted as the file is read (so a large file is
  refused after reading that many, not after building all of its values) and again once
  aliases (``*name``) are expanded: a small file of nested aliases can stand for billions
  of values ("billion laughs"), and the validation would visit each of them;
- no key twice in one map (YAML would silently keep the last one).

Numbers are read as YAML 1.2 reads them: ``1e3`` and ``2.5E-4`` are numbers, where
PyYAML's YAML 1.1 rules would read them as strings.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from salessim.errors import Problem, ScenarioError

_CParser: Any
try:  # libyaml: the same YAML, read about five times faster than PyYAML's pure Python
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None

#: Largest input file read, in bytes.
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Deepest nesting of maps and lists in an input file (a scenario needs about 8).
MAX_DEPTH = 64
#: Most values (map keys' values, list items, scalars) a file may hold or stand for, aliases
#: expanded: reading and validating this many takes a few seconds (a scenario needs a few
#: hundred; an hourly arrival table for a year about 26,000).
MAX_NODES = 200_000

Path_ = tuple[str, ...]


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader, with YAML 1.2's numbers (``1e3`` is a float), that refuses
    to nest deeper than :data:`MAX_DEPTH` (its composer recurses once per level)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                # The PyYAML stubs leave peek_event unannotated: it returns an Event.
                event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
                mark = event.start_mark
                raise _TooDeep(mark.line + 1 if mark else None)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _TooDeep(Exception):
    def __init__(self, line: int | None) -> None:
        self.line = line


# Copied so that adding a resolver leaves PyYAML's own SafeLoader as it was.
Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


#: Filesystems whose files are the kernel's (or a device's) views, not data: a "regular
#: file" there may have size 0 and block for ever (``/proc/self/...``) or never end.
PSEUDO_FILESYSTEMS = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "debugfs", "tracefs", "securityfs", "cgroup",
    "cgroup2", "configfs", "fusectl", "pstore", "bpf", "efivarfs", "hugetlbfs", "mqueue",
    "binfmt_misc", "autofs", "rpc_pipefs", "nsfs", "selinuxfs",
})


def filesystem_type(path: str | Path) -> str | None:
    """The type of the filesystem ``path`` (symbolic links followed) is on, from Linux's
    /proc/self/mountinfo; None elsewhere."""
    real = os.path.realpath(path)
    best, kind = "", None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) < 5 or not right:
                    continue
                mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
                inside = real == mount or real.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, kind = mount, right.split()[0]
    except OSError:
        return None
    return kind


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as an input file, or None: missing, a folder, a device,
    FIFO or socket (which would block or never end), or a file of a pseudo filesystem."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot read the file: {exc.strerror}"
    if stat.S_ISDIR(info.st_mode):
        return "not a regular file (a folder)"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a device, FIFO or socket)"
    kind = filesystem_type(path)
    if kind in PSEUDO_FILESYSTEMS:
        return f"not a data file: it is on the {kind} pseudo filesystem"
    return None


def read_text(path: str | Path) -> str:
    """The text of an input file, refusing what is not a small regular UTF-8 file.

    Raises:
        ScenarioError: not readable, not a regular file, too large or not UTF-8 (the
            message never quotes the file's content).
    """
    name = str(path)
    problem = file_problem(path)
    if problem is not None:
        rule = "cannot read the file: No such file or directory" \
            if problem == "no such file" else problem
        raise ScenarioError([Problem("", rule, name, name)])
    info = os.stat(path)
    if info.st_size > MAX_FILE_BYTES:
        raise ScenarioError([Problem("", f"larger than the limit of {MAX_FILE_BYTES:,} bytes",
                                     f"{info.st_size:,} bytes", name)])
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError([Problem("", f"cannot read the file: {exc.strerror}", name, name)]) from None
    if len(raw) > MAX_FILE_BYTES:  # it grew since stat
        raise ScenarioError([Problem("", f"larger than the limit of {MAX_FILE_BYTES:,} bytes",
                                     f"more than {MAX_FILE_BYTES:,} bytes", name)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError([Problem("", "not a text file in UTF-8", f"byte {exc.start}",
                                     name)]) from None


if _CParser is not None:
    class FastLoader(_CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):  # type: ignore[misc]
        """:class:`Loader`'s rules on libyaml's parser. Its composer recurses in C without a
        depth check: only a document that :func:`_prescan` passed is given to it."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    FastLoader.yaml_implicit_resolvers = Loader.yaml_implicit_resolvers


def _prescan(text: str, filename: str) -> None:
    """Count the values and the nesting of a document from its parse events, stopping at
    the first that breaks a limit: no node is built, so a 16 MB file of values is refused
    after :data:`MAX_NODES` of them, in about a second, instead of after all of them.

    Raises:
        ScenarioError: too many values or too deep.
        yaml.YAMLError: not YAML (the caller locates it).
    """
    parser: Any = _CParser(text) if _CParser is not None else Loader(text)
    depth = count = 0
    try:
        while parser.check_event():
            event: Any = parser.get_event()
            if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                count += 1
                if count > MAX_NODES:
                    raise ScenarioError([Problem("", f"more than the limit of {MAX_NODES:,} "
                                                 "values", f"> {MAX_NODES:,} values", filename,
                                                 line)])
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    if depth > MAX_DEPTH:
                        raise _TooDeep(line)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        if hasattr(parser, "dispose"):
            parser.dispose()


def load_value(text: str) -> Any:
    """One YAML value, such as the right-hand side of ``--set key=value``.

    Raises:
        yaml.YAMLError: not YAML.
    """
    return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader is a SafeLoader


def parse_yaml(text: str, filename: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML within the limits; the data and the line of every key and list item.

    Raises:
        ScenarioError: not YAML, nested too deep, too large with aliases expanded, or a
            key given twice in one map.
    """
    loader = None
    try:
        _prescan(text, filename)
        loader = FastLoader(text) if _CParser is not None else Loader(text)
        node = loader.get_single_node()
        problems = _check_nodes(node, filename)
        if problems:
            raise ScenarioError(problems)
        data = None if node is None else loader.construct_document(node)
    except _TooDeep as exc:
        raise ScenarioError([Problem("", f"nested deeper than the limit of {MAX_DEPTH} levels",
                                     f"> {MAX_DEPTH}", filename, exc.line)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        rule = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        raise ScenarioError([Problem("", rule, None, filename, line)]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, _lines(node)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [v for _, v in node.value]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_nodes(root: yaml.Node | None, filename: str) -> list[Problem]:
    """Duplicate keys, and the size and depth of the document with aliases expanded.

    Each node is visited once (an alias is the same node object as its anchor), so this is
    linear in the file however many times its aliases multiply it.
    """
    if root is None:
        return []
    problems: list[Problem] = []
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if expanded:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            open_.discard(key)
            if size[key] > MAX_NODES or depth[key] > MAX_DEPTH:
                return [Problem("", f"with its aliases expanded, larger than the limits of "
                                f"{MAX_NODES:,} values and {MAX_DEPTH} levels",
                                f"{size[key]:,} values, {depth[key]} levels", filename,
                                node.start_mark.line + 1)]
            continue
        if key in size:
            continue
        if key in open_:
            return [Problem("", "an alias refers to a map or list that contains it",
                            None, filename, node.start_mark.line + 1)]
        open_.add(key)
        if isinstance(node, yaml.MappingNode):
            problems += _duplicates(node, filename)
        stack.append((node, True))
        stack += [(k, False) for k in _children(node) if id(k) not in size]
    return problems


def _duplicates(node: yaml.MappingNode, filename: str) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.value == "<<":  # merge keys may repeat
            continue
        line = key.start_mark.line + 1
        if key.value in first:
            problems.append(Problem(key.value, f"key given twice in one map, at lines "
                                    f"{first[key.value]} and {line} (keep one)",
                                    key.value, filename, line))
        else:
            first[key.value] = line
    return problems


def _lines(root: yaml.Node | None) -> dict[Path_, int]:
    """The line of every mapping key and list item; an aliased subtree is walked once."""
    lines: dict[Path_, int] = {}
    seen: set[int] = set()
    stack: list[tuple[yaml.Node | None, Path_]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                lines.setdefault(sub, key.start_mark.line + 1)
                stack.append((value, sub))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                sub = (*path, str(i))
                lines.setdefault(sub, item.start_mark.line + 1)
                stack.append((item, sub))
    return lines
