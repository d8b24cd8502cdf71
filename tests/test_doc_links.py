"""Every link and every cited repository file in README.md and docs/ exists: a user's clone has only what the
repository holds. Links are markdown links to relative paths (anchors stripped); cited files are backticked paths
that start with a top-level folder of the repository (`mminvert/...`, `conf/...`, `docs/...`, `tests/...`,
`benchmarks/...`, `data/...`, `docker/...`), with an optional `:function` or `:line` suffix."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
TOP = ("mminvert", "conf", "docs", "tests", "benchmarks", "data", "docker")
LINK = re.compile(r"\]\(([A-Za-z0-9_./#:%-]+)\)")  # path-like targets (not formulas such as [a](f^r))
CITED = re.compile(r"`((?:{})/[A-Za-z0-9_./\-]+)(?::[A-Za-z0-9_.]+)?`".format("|".join(TOP)))
WILDCARD = re.compile(r"[*<>{}]|\.\.\.")


def _code_free(text: str) -> str:
    """The text without fenced code blocks (commands and file trees, which may name files a run creates)."""
    return re.sub(r"```.*?```", "", text, flags=re.S)


def broken_links(doc: Path) -> list[str]:
    found = []
    for target in LINK.findall(_code_free(doc.read_text())):
        if re.match(r"[a-z]+:", target) or target.startswith("#") or not re.search(r"[./]", target):
            continue  # http(s), mailto; in-page anchors; a formula such as [avg,max](m)
        path = (doc.parent / target.split("#")[0]).resolve()
        if not path.exists():
            found.append(f"{doc.relative_to(REPO)}: link to missing {target}")
    return found


def missing_cited_files(doc: Path) -> list[str]:
    found = []
    for cited in CITED.findall(_code_free(doc.read_text())):
        if WILDCARD.search(cited):  # a pattern (step_*.ckpt, <run>/...), not one file
            continue
        if not (REPO / cited.rstrip("/")).exists():
            found.append(f"{doc.relative_to(REPO)}: cites missing `{cited}`")
    return found


def test_every_doc_link_resolves():
    assert [problem for doc in DOCS for problem in broken_links(doc)] == []


def test_every_cited_repository_file_exists():
    assert [problem for doc in DOCS for problem in missing_cited_files(doc)] == []


def test_no_doc_points_outside_the_repository():
    """DESIGN.md lived beside the repository, not in it: the design is docs/design.md."""
    offenders = [f"{doc.relative_to(REPO)}" for doc in DOCS if re.search(r"(?<![\w/])DESIGN\.md", doc.read_text())]
    assert offenders == []


def test_the_checks_catch_a_broken_link(tmp_path):
    doc = REPO / "docs" / "_probe_links.md"
    try:
        doc.write_text("see [this](nowhere.md) and `mminvert/nowhere.py:main`, not `outputs/<run>/x`\n")
        assert broken_links(doc) == ["docs/_probe_links.md: link to missing nowhere.md"]
        assert missing_cited_files(doc) == ["docs/_probe_links.md: cites missing `mminvert/nowhere.py`"]
    finally:
        doc.unlink()


def test_readme_layout_table_lists_every_package():
    text = (REPO / "README.md").read_text()
    packages = {p.name for p in (REPO / "mminvert").iterdir() if (p / "__init__.py").exists()}
    listed = set(re.findall(r"^  \| `mminvert/([a-z_0-9]+)`", text, flags=re.M))
    assert packages - listed == set()
    assert "cli" in {Path(x).stem for x in re.findall(r"^  \| `mminvert/([a-z_]+\.py)`", text, flags=re.M)}
