"""The documentation stays usable: README short, every relative link resolving, the module map complete.

Links are checked the way GitHub renders them: a relative path must name a file or folder of the
repository, and a `#anchor` must be the slug of a heading of the target (lower-case, punctuation
dropped, each space a hyphen, `-1`, `-2` ... for repeated headings). The module map in
docs/architecture.md is compared with the modules on disk, so adding a module without documenting
it fails here.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rings_cli"
README_MAX_LINES = 400

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*(?:\s#+)?\s*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.S)
# [text](target) and ![alt](target), with an optional "title"; text may hold one level of brackets.
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_SCHEME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")
_LINE_ANCHOR = re.compile(r"^L\d+(?:-L\d+)?$")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]


def outside_fences(text: str) -> list[str]:
    """The lines of a Markdown text that are not inside fenced code blocks."""
    lines, fence = [], ""
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence:
            if match and match[1][0] == fence[0] and len(match[1]) >= len(fence):
                fence = ""
        elif match:
            fence = match[1]
        else:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: its rendered text lower-cased, every character that
    is not a letter, digit, mark, space, hyphen or underscore dropped, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    kept = (c for c in text.lower() if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return "".join(kept).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor GitHub gives the headings of a Markdown text (repeats numbered from -1)."""
    seen: dict[str, int] = {}
    found = set()
    for line in outside_fences(text):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def link_targets(text: str) -> list[str]:
    """Every link target outside code: inline links, images and link definitions."""
    prose = _CODE_SPAN.sub(" ", "\n".join(outside_fences(text)))
    return _LINK.findall(prose) + _LINK_DEFINITION.findall(prose)


def link_problems(doc: Path, root: Path = ROOT) -> list[str]:
    """Why each relative link of `doc` (a file of the repository at `root`) does not resolve."""
    problems = []
    root = root.resolve()
    name = doc.resolve().relative_to(root)
    for target in link_targets(doc.read_text()):
        if not target or _SCHEME.match(target):
            continue  # a web address (http:, mailto:) is not ours to check
        path_part, _, anchor = target.partition("#")
        dest = (doc.parent / unquote(path_part)).resolve() if path_part else doc
        if not dest.is_relative_to(root):
            problems.append(f"{name}: {target} points outside the repository")
            continue
        if not dest.exists():
            problems.append(f"{name}: {target}: no such file")
            continue
        if not anchor:
            continue
        if dest.suffix == ".md" and dest.is_file():
            if unquote(anchor) not in anchors(dest.read_text()):
                problems.append(f"{name}: {target}: no heading with that anchor in {dest.name}")
        elif not _LINE_ANCHOR.match(anchor):
            problems.append(f"{name}: {target}: an anchor into a file that has no headings")
    return problems


def map_section(text: str) -> str:
    """The `## Module map` section of docs/architecture.md, up to the next heading of its level."""
    match = re.search(r"^## Module map[ \t]*\n(.*?)(?=^#{1,2} |\Z)", text, re.M | re.S)
    assert match, "docs/architecture.md has no '## Module map' section"
    return match[1]


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^\s{0,3}```[^\n]*\n(.*?)^\s{0,3}```", text, re.M | re.S)


def package_contents(package: Path) -> tuple[list[str], list[str]]:
    """The package's modules (every `*.py` but `__init__.py`) and subpackages (folders that hold
    Python modules), as paths relative to it: `store/dofile.py`, `store/`."""
    modules, folders = [], []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if "__pycache__" in relative.parts:
            continue
        if path.name != "__init__.py":
            modules.append(relative.as_posix())
        if len(relative.parts) > 1:
            folders.append(relative.parent.as_posix() + "/")
    return modules, sorted(set(folders))


def module_map_problems(package: Path, architecture: str) -> list[str]:
    """What the module map says wrongly about `package`: a module or subpackage it leaves out, an
    entry that does not exist."""
    section = map_section(architecture)
    modules, folders = package_contents(package)
    problems = []
    for module in modules:  # named as a whole path: `cli.py` is not `ui/cli.py`
        if not re.search(rf"(?<![\w/.]){re.escape(module)}(?![\w/])", section):
            problems.append(f"module {module} is not in the module map")
    for folder in folders:  # named on its own, not only as the start of its modules' paths
        if not re.search(rf"(?<![\w/.]){re.escape(folder)}(?![\w.])", section):
            problems.append(f"subpackage {folder} is not in the module map")
    for block in code_blocks(section):
        listed = set(re.findall(r"(?<![\w/.])((?:[A-Za-z_]\w*/)+[A-Za-z_]\w*\.py)\b", block))
        for line in block.splitlines():  # each entry starts its line: a module or a folder
            first = line.split(maxsplit=1)[0] if line.strip() else ""
            if first.endswith((".py", "/")) and not line[0].isspace():
                listed.add(first)
        for entry in sorted(listed):
            if not (package / entry.rstrip("/")).exists():
                problems.append(f"{entry} is in the module map but not in {package.name}/")
    return problems


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"


def test_readme_names_the_set_up_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(doc: Path) -> None:
    assert doc.exists(), f"{doc.relative_to(ROOT)} is missing"
    assert link_problems(doc) == []


def test_module_map_is_complete() -> None:
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    assert module_map_problems(PACKAGE, architecture) == []


# The checks themselves, on texts and trees made here.


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("`rings ingest`", "rings-ingest"),
        ("Browsers, OS, devices, countries, not found", "browsers-os-devices-countries-not-found"),
        ("Packs: days per month", "packs-days-per-month"),
        ("The web dashboard: `rings serve`", "the-web-dashboard-rings-serve"),
        ("`rings ingest [PATH ...]`", "rings-ingest-path-"),
        ("What the [docs](x.md) say", "what-the-docs-say"),
        ("not_found and 2 more", "not_found-and-2-more"),
    ],
)
def test_slug_follows_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_anchors_number_repeats_and_skip_code() -> None:
    text = "# Title\n## Notes\n```\n# not a heading\n```\n## Notes\n### Notes\n"
    assert anchors(text) == {"title", "notes", "notes-1", "notes-2"}


def test_broken_links_are_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n## Real heading\n")
    doc = tmp_path / "README.md"
    doc.write_text(
        "[ok](docs/a.md#real-heading) [self](#top) [gone](docs/b.md) [bad](docs/a.md#nope)\n"
        "[web](https://example.com/x) `[code](docs/c.md)`\n```\n[fenced](docs/d.md)\n```\n# Top\n"
    )
    assert link_problems(doc, tmp_path) == [
        "README.md: docs/b.md: no such file",
        "README.md: docs/a.md#nope: no heading with that anchor in a.md",
    ]


def test_module_map_problems_are_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    for name in ("__init__.py", "__main__.py", "cli.py", "core/__init__.py", "core/state.py"):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text("")
    (package / "source" / "formats").mkdir(parents=True)
    (package / "source" / "__init__.py").write_text("")
    (package / "source" / "formats" / "clf.py").write_text("")
    complete = (
        "## Module map\n\n```\n__main__.py  x\ncli.py  x\ncore/  x\ncore/state.py  x\n"
        "source/  x\nsource/formats/  x\nsource/formats/clf.py  x\n```\n## Next\n"
    )
    assert module_map_problems(package, complete) == []
    stale = complete.replace("core/state.py  x\n", "core/gone.py  x\n").replace("source/  x\n", "")
    assert module_map_problems(package, stale) == [
        "module core/state.py is not in the module map",
        "subpackage source/ is not in the module map",
        "core/gone.py is in the module map but not in pkg/",
    ]
