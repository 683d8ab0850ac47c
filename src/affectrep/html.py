"""Self-contained HTML twins of the workflow's Markdown tables, report and model card.

`snakemake --report` shows images, HTML and PDF inside the report and offers every other
file (TSV, Markdown) only as a download. So each Markdown document the workflow writes for
people (Tables 1 and 2, the separation, dimensional and cross-corpus tables, the model card,
`report.md`) gets an HTML twin beside it, same stem: `tables/table2.md` ->
`tables/table2.html`, and the rules flag the twin with `report()`.

The HTML is rendered from the very Markdown text that was written, so the two never say
different things. Only the subset of Markdown that the project's writers produce is
understood (no new dependency): `#` headings, paragraphs, `- ` lists, fenced code blocks,
pipe tables (as `tables.markdown_table` writes them), and inline `code` and links. Anything
else stays literal text, HTML-escaped; there is no emphasis (Table 1 marks its best row with a
literal `*`). Columns whose cells are all numbers (`48.10`, `48.10 ± 2.31`, `23.08 *`,
`33.3 (32.5)`) are right-aligned with tabular figures. The page has its CSS inline and a UTF-8
`<meta>`: one file that reads the same opened from disk or inside the Snakemake report.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

from affectrep.atomic import atomic_path

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LIST_ITEM = re.compile(r"^[-*]\s+(.*)$")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_NUMBER = r"[-+−]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?"
_NUMERIC_CELL = re.compile(
    rf"^{_NUMBER}(?:\s*(?:±|\+-)\s*{_NUMBER})?(?:\s*\({_NUMBER}\))?(?:\s*\*)?$"
)

STYLE = """
:root { color-scheme: light; }
body { margin: 0; padding: 1.5rem 2rem; background: #fff; color: #1f2328;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
main { max-width: 80rem; }
h1 { font-size: 1.45rem; margin: 0 0 .8rem; padding-bottom: .3rem;
  border-bottom: 1px solid #d0d7de; }
h2 { font-size: 1.2rem; margin: 1.8rem 0 .6rem; padding-bottom: .2rem;
  border-bottom: 1px solid #d8dee4; }
h3, h4, h5, h6 { font-size: 1.05rem; margin: 1.3rem 0 .5rem; }
p, ul { margin: .5rem 0 .8rem; max-width: 60rem; }
li { margin: .15rem 0; }
code { font: 0.88em/1.4 ui-monospace, "DejaVu Sans Mono", monospace;
  background: #f2f4f6; padding: .1em .3em; border-radius: 4px; }
pre { background: #f6f8fa; border: 1px solid #d8dee4; border-radius: 6px;
  padding: .7rem .9rem; overflow-x: auto; }
pre code { background: none; padding: 0; font-size: 12.5px; line-height: 1.35;
  white-space: pre; }
.table { overflow-x: auto; margin: .6rem 0 1.2rem; }
table { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: .3rem .65rem; vertical-align: top; }
th { background: #eef1f4; text-align: left; font-weight: 600; }
tbody tr:nth-child(even) { background: #f8f9fb; }
tbody tr:hover { background: #eef4ff; }
th.num, td.num { text-align: right; }
td.num { white-space: nowrap; }
a { color: #0969da; }
"""


def html_twin(markdown_path: str | Path) -> Path:
    """The HTML file written beside a Markdown file: same folder and stem, `.html`."""
    return Path(markdown_path).with_suffix(".html")


def inline(text: str) -> str:
    """One line of Markdown as HTML: escaped text, `code` spans and [links](url)."""
    parts = []
    position = 0
    for match in _CODE_SPAN.finditer(text):
        parts.append(_links(text[position : match.start()]))
        parts.append(f"<code>{html.escape(match.group(1), quote=False)}</code>")
        position = match.end()
    parts.append(_links(text[position:]))
    return "".join(parts)


def _links(text: str) -> str:
    parts = []
    position = 0
    for match in _LINK.finditer(text):
        parts.append(html.escape(text[position : match.start()], quote=False))
        parts.append(
            f'<a href="{html.escape(match.group(2))}">'
            f"{html.escape(match.group(1), quote=False)}</a>"
        )
        position = match.end()
    parts.append(html.escape(text[position:], quote=False))
    return "".join(parts)


def split_row(line: str) -> list[str]:
    """The cells of one pipe-table line (`\\|` is a literal bar inside a cell)."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    cells = re.split(r"(?<!\\)\|", body)
    return [cell.strip().replace("\\|", "|") for cell in cells]


def is_numeric(cell: str) -> bool:
    return bool(_NUMERIC_CELL.match(cell.strip()))


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table; a column whose non-empty cells are all numbers is right-aligned."""
    numeric = []
    for k in range(len(header)):
        column = [row[k] for row in rows if k < len(row) and row[k].strip()]
        numeric.append(bool(column) and all(is_numeric(cell) for cell in column))

    def cell(tag: str, k: int, text: str) -> str:
        klass = ' class="num"' if k < len(numeric) and numeric[k] else ""
        return f"<{tag}{klass}>{inline(text)}</{tag}>"

    lines = [
        '<div class="table"><table>',
        "<thead><tr>"
        + "".join(cell("th", k, name) for k, name in enumerate(header))
        + "</tr></thead>",
        "<tbody>",
    ]
    for row in rows:
        padded = list(row) + [""] * (len(header) - len(row))
        lines.append(
            "<tr>"
            + "".join(cell("td", k, text) for k, text in enumerate(padded[: len(header)]))
            + "</tr>"
        )
    lines += ["</tbody>", "</table></div>"]
    return "\n".join(lines)


def markdown_body(text: str) -> str:
    """The project's Markdown (see the module doc) as HTML body elements."""
    lines = text.splitlines()
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append("<p>" + "\n".join(inline(line) for line in paragraph) + "</p>")
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        fence = _FENCE.match(stripped)
        if fence:
            flush()
            end = i + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            language = f' class="language-{fence.group(1)}"' if fence.group(1) else ""
            code = html.escape("\n".join(lines[i + 1 : end]), quote=False)
            out.append(f"<pre><code{language}>{code}</code></pre>")
            i = end + 1
            continue
        if not stripped:
            flush()
            i += 1
            continue
        heading = _HEADING.match(stripped)
        if heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        if (
            stripped.startswith("|")
            and i + 1 < len(lines)
            and _TABLE_RULE.match(lines[i + 1].strip())
        ):
            flush()
            header = split_row(stripped)
            rows = []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(split_row(lines[i]))
                i += 1
            out.append(html_table(header, rows))
            continue
        if _LIST_ITEM.match(stripped):
            flush()
            items = []
            while i < len(lines) and (item := _LIST_ITEM.match(lines[i].strip())):
                items.append(item.group(1))
                i += 1
            out.append(
                "<ul>\n" + "\n".join(f"<li>{inline(item)}</li>" for item in items) + "\n</ul>"
            )
            continue
        paragraph.append(stripped)
        i += 1
    flush()
    return "\n".join(out)


_FIRST_H1 = re.compile(r"^<h1>(.*?)</h1>$", re.MULTILINE)
_TAG = re.compile(r"<[^>]+>")


def markdown_to_html(text: str, title: str | None = None) -> str:
    """A whole self-contained HTML page of Markdown `text`. Its `<title>` is the document's
    first `# heading`, else `title`; a document without a `#` heading shows `title` as one."""
    body = markdown_body(text)
    first = _FIRST_H1.search(body)  # a heading, not a `# ...` line inside a code block
    if first is not None:
        page_title = html.unescape(_TAG.sub("", first.group(1)))
    else:
        page_title = title or ""
        if title:
            body = f"<h1>{html.escape(title, quote=False)}</h1>\n{body}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(page_title, quote=False)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            "<main>",
            body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


def write_html(markdown_text: str, path: str | Path, title: str | None = None) -> None:
    """Write the page of `markdown_text` (see `markdown_to_html`) to `path`, atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(markdown_to_html(markdown_text, title), encoding="utf-8")
