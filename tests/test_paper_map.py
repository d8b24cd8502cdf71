"""The README's "Paper → code" table stays true: every `file:function` exists, holds its `[paper:<tag>]`
comment on a code line inside that function (once in the file), every "Eq. N" of a row is written on
that same line, and every tag under mminvert/ is listed in the table."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Paper → code"
TAG_IN_CODE = re.compile(r"\[(paper:[^\]\s]+)\]")
EQ = re.compile(r"Eq\. (\d+)")


@dataclass
class Row:
    concept: str
    paper: str
    path: str
    qualname: str
    tag: str


def parse_table(readme: str) -> list[Row]:
    """The rows of the table in the README section `SECTION` (up to the next `## ` heading)."""
    if SECTION not in readme:
        raise ValueError(f"README has no {SECTION!r} section")
    body = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in body.splitlines():
        if not line.startswith("|") or line.startswith("| ---") or line.startswith("| concept"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) != 5:
            raise ValueError(f"table row does not have 5 cells: {line!r}")
        code, tag = cells[2].strip("`"), cells[3].strip("`")
        if ":" not in code:
            raise ValueError(f"code cell is not `file:function`: {cells[2]!r}")
        path, qualname = code.split(":", 1)
        rows.append(Row(cells[0], cells[1], path, qualname, tag))
    return rows


def _find_definition(tree: ast.Module, qualname: str) -> ast.AST | None:
    node: ast.AST = tree
    for part in qualname.split("."):
        children = [n for n in ast.iter_child_nodes(node)
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == part]
        if not children:
            return None
        node = children[0]
    return node


def check_row(row: Row, root: Path = ROOT) -> list[str]:
    """Problems with one table row (empty when the row is true)."""
    file = root / row.path
    if not file.is_file():
        return [f"{row.concept}: no file {row.path}"]
    source = file.read_text(encoding="utf-8")
    definition = _find_definition(ast.parse(source), row.qualname)
    if definition is None:
        return [f"{row.concept}: {row.path} defines no {row.qualname}"]
    lines = source.splitlines()
    hits = [i for i, line in enumerate(lines, 1) if f"[{row.tag}]" in line]
    if len(hits) != 1:
        return [f"{row.concept}: [{row.tag}] occurs {len(hits)} times in {row.path} (want once)"]
    lineno = hits[0]
    line = lines[lineno - 1]
    problems = []
    if not line.split("#", 1)[0].strip():
        problems.append(f"{row.concept}: [{row.tag}] is on a comment-only line, not on the computing line")
    if not definition.lineno <= lineno <= definition.end_lineno:
        problems.append(f"{row.concept}: [{row.tag}] (line {lineno}) is outside {row.qualname}")
    for n in EQ.findall(row.paper):
        if f"Eq. {n}" not in line.split("#", 1)[-1]:
            problems.append(f"{row.concept}: table says Eq. {n}, the tagged line of {row.path} does not")
    return problems


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return parse_table((ROOT / "README.md").read_text(encoding="utf-8"))


def test_table_covers_the_method(rows: list[Row]) -> None:
    files = {r.path for r in rows}
    assert len(rows) >= 30
    for part in ("mminvert/encoder/", "mminvert/inversion/", "mminvert/losses/", "mminvert/stylegan2/synthesis.py"):
        assert any(f.startswith(part) for f in files), part
    assert len({r.tag for r in rows}) == len(rows), "each tag names one row"


def test_every_row_points_at_its_computing_line(rows: list[Row]) -> None:
    problems = [p for r in rows for p in check_row(r)]
    assert not problems, "\n".join(problems)


def test_every_tag_in_the_code_is_in_the_table(rows: list[Row]) -> None:
    listed = {(r.path, r.tag) for r in rows}
    found = set()
    for file in sorted((ROOT / "mminvert").rglob("*.py")):
        for tag in TAG_IN_CODE.findall(file.read_text(encoding="utf-8")):
            found.add((file.relative_to(ROOT).as_posix(), tag))
    assert found - listed == set(), f"tags missing from the README table: {sorted(found - listed)}"


def test_checker_catches_stale_rows(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "class A:\n"
        "    def f(self, x):\n"
        "        # [paper:comment-only]\n"
        "        return x + 1  # [paper:ok] Eq. 3: y = x + 1\n"
        "\n"
        "def g(x):\n"
        "    return x  # [paper:in-g]\n")
    assert check_row(Row("ok", "Eq. 3", "m.py", "A.f", "paper:ok"), tmp_path) == []
    assert "no file" in check_row(Row("c", "Eq. —", "gone.py", "A.f", "paper:ok"), tmp_path)[0]
    assert "defines no A.h" in check_row(Row("c", "Eq. —", "m.py", "A.h", "paper:ok"), tmp_path)[0]
    assert "occurs 0 times" in check_row(Row("c", "Eq. —", "m.py", "A.f", "paper:gone"), tmp_path)[0]
    assert "comment-only" in check_row(Row("c", "Eq. —", "m.py", "A.f", "paper:comment-only"), tmp_path)[0]
    assert "outside A.f" in check_row(Row("c", "Eq. —", "m.py", "A.f", "paper:in-g"), tmp_path)[0]
    assert "Eq. 4" in check_row(Row("c", "Eq. 4", "m.py", "A.f", "paper:ok"), tmp_path)[0]


def test_parser_rejects_a_malformed_table() -> None:
    with pytest.raises(ValueError, match="section"):
        parse_table("# README\n")
    with pytest.raises(ValueError, match="file:function"):
        parse_table(f"{SECTION}\n\n| concept | paper | code | tag | notes |\n| --- |\n"
                    "| x | Eq. — | `m.py` | `paper:x` | |\n")
