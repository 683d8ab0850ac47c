"""HTML twins of the Markdown tables (affectrep.html): what the Snakemake report shows inline."""

import re
from html.parser import HTMLParser

from affectrep.html import html_twin, is_numeric, markdown_to_html, split_row, write_html
from affectrep.protocol.separation import write_separation_table
from affectrep.protocol.table2 import write_table2
from affectrep.protocol.tables import markdown_table, write_table1


class Tables(HTMLParser):
    """The text of every table cell, per table and row, and the classes of the cells."""

    def __init__(self):
        super().__init__()
        self.tables, self.classes, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
            self.classes.append([])
        elif tag == "tr":
            self.tables[-1].append([])
            self.classes[-1].append([])
        elif tag in ("th", "td"):
            self._cell = ""
            self.classes[-1][-1].append(dict(attrs).get("class"))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self.tables[-1][-1].append(self._cell)
            self._cell = None


def parsed(page: str) -> Tables:
    tables = Tables()
    tables.feed(page)
    return tables


def test_a_table_page_is_self_contained_and_keeps_every_cell():
    rows = [
        {"model": "tied-fft128-c5", "accuracy": "50.39 *", "spread": "48.10 ± 2.31", "x": ""},
        {"model": "deep-logmel40-c5", "accuracy": "44.07", "spread": "-0.015", "x": ""},
    ]
    text = "# Table 1: held-out `demo`\n\nSome words.\n\n" + markdown_table(rows) + "\n"
    page = markdown_to_html(text)
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page and "<style>" in page
    assert "<title>Table 1: held-out demo</title>" in page
    assert "<h1>Table 1: held-out <code>demo</code></h1>" in page
    assert "<p>Some words.</p>" in page
    # Nothing to fetch: no scripts, stylesheets or images from elsewhere.
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    tables = parsed(page)
    assert tables.tables == [[list(rows[0]), *[list(row.values()) for row in rows]]]
    # Numeric columns (marks, spreads and signs included) are right-aligned, text is not.
    assert tables.classes[0][1] == [None, "num", "num", None]


def test_markdown_subset_escapes_text_and_leaves_code_blocks_alone():
    text = "\n".join(
        [
            "Before <b>&</b> [figure1.png](figures/figure1.png) and `a<b`.",
            "",
            "- `level`: frames",
            "- <i>x</i>",
            "",
            "## Settings",
            "",
            "```yaml",
            "| not: a table |",
            "| --- |",
            "# not a heading <x>",
            "```",
            "",
            "| a | b |",
            "| --- | --- |",
            "| <script>alert(1)</script> | 1 |",
        ]
    )
    page = markdown_to_html(text, title="Activation and valence")
    assert "<title>Activation and valence</title>" in page
    assert "<h1>Activation and valence</h1>" in page  # no `#` heading of its own
    assert "Before &lt;b&gt;&amp;&lt;/b&gt; " in page
    assert '<a href="figures/figure1.png">figure1.png</a>' in page
    assert "<code>a&lt;b</code>" in page
    assert "<ul>\n<li><code>level</code>: frames</li>\n<li>&lt;i&gt;x&lt;/i&gt;</li>\n</ul>" in page
    assert "<h2>Settings</h2>" in page
    assert (
        '<pre><code class="language-yaml">| not: a table |\n| --- |\n'
        "# not a heading &lt;x&gt;</code></pre>"
    ) in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert parsed(page).tables == [[["a", "b"], ["<script>alert(1)</script>", "1"]]]


def test_cells_and_numbers():
    assert split_row("| a | b \\| c |  |") == ["a", "b | c", ""]
    for cell in ("46.23", "23.08 *", "48.10 ± 2.31", "-0.015", "33.3 (32.5)", "2000", "1e-4"):
        assert is_numeric(cell), cell
    for cell in ("640-32-16-4", "n/a", "tied", "fold1-Ses01F", ""):
        assert not is_numeric(cell), cell


def test_the_table_writers_write_the_html_twin_of_their_markdown(tmp_path):
    results = {
        "tied-fft128-c5": {
            "accuracy": 0.5,
            "unweighted_accuracy": 0.4,
            "architecture": [640, 32, 16, 4],
        },
        "softmax-logmel40-c1": {
            "accuracy": 0.25,
            "unweighted_accuracy": 0.25,
            "architecture": [40, 4],
        },
    }
    write_table1(results, tmp_path / "table1.tsv", tmp_path / "table1.md", "Corpus `demo`.")
    table2_rows = [{"measure": "WA", "MLP": "48.10 ± 2.31", "paper IEMOCAP: MLP": "46.75"}]
    write_table2(table2_rows, tmp_path / "table2.tsv", tmp_path / "table2.md", ["Corpus x."])
    write_separation_table([], tmp_path / "separation.tsv", tmp_path / "separation.md")
    assert html_twin(tmp_path / "table2.md") == tmp_path / "table2.html"
    for name in ("table1", "table2", "separation"):
        markdown = (tmp_path / f"{name}.md").read_text(encoding="utf-8")
        page = (tmp_path / f"{name}.html").read_text(encoding="utf-8")
        assert page == markdown_to_html(markdown)
    table1 = parsed((tmp_path / "table1.html").read_text(encoding="utf-8")).tables[0]
    assert table1[0][:5] == ["spectrogram", "autoencoder", "context", "architecture", "model"]
    assert [row[4] for row in table1[1:]] == ["tied-fft128-c5", "softmax-logmel40-c1"]
    assert table1[1][5] == "50.00 *" and table1[1][3] == "640-32-16-4"
    table2 = parsed((tmp_path / "table2.html").read_text(encoding="utf-8")).tables[0]
    assert table2 == [list(table2_rows[0]), list(table2_rows[0].values())]
    assert "(no rows)" in (tmp_path / "separation.html").read_text(encoding="utf-8")


def test_write_html_is_utf8_whatever_the_locale(tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ALL", "C")
    write_html("# ± ü\n", tmp_path / "x.html")
    assert "<h1>± ü</h1>" in (tmp_path / "x.html").read_bytes().decode("utf-8")
