"""A self-contained HTML document: inline style, tables, figures embedded as base64 PNG.

Nothing is loaded from elsewhere (no scripts, fonts or style sheets), so the file opens
offline in any browser and can be mailed as one attachment.
"""

from __future__ import annotations

import base64
import html
import numbers
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salessim.kpis import format_plain

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.6em 0 1.2em; display: block;
        max-width: 100%; overflow-x: auto; }
caption { text-align: left; }
th, td { overflow-wrap: break-word; }
td.num { white-space: nowrap; font-variant-numeric: tabular-nums; }
section.summary { background: #f6f8fb; border: 1px solid #d8dee8; padding: 0.2em 1em 0.6em;
                  border-radius: 4px; } section.summary h2 { margin-top: 0.6em; }
p.redesign { margin: 0.5em 0; } ul.warnings li { margin: 0.4em 0; }
ul.warnings .todo { color: #1f4e9c; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
th { background: #f2f4f7; } td:first-child, th:first-child { text-align: left; }
tr.met td { background: #eaf7ea; } tr.missed td { background: #fbeaea; }
tr.unsure td { background: #fdf6e3; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; } .note { font-size: 0.9em; color: #444; }
code { background: #f4f4f4; padding: 0 3px; }
"""


@dataclass
class HtmlDocument:
    """An HTML page built part by part; :meth:`render` returns the whole text."""

    title: str
    parts: list[str] = field(default_factory=list)

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> None:
        """A section heading."""
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self.parts.append(f"<h{level}{ident}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, css: str | None = None) -> None:
        """A paragraph of plain text (escaped)."""
        cls = f' class="{css}"' if css else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def summary_start(self) -> None:
        """Open the summary: the part a reader sees first."""
        self.parts.append('<section class="summary" id="summary"><h2>Summary</h2>')

    def summary_end(self) -> None:
        """Close the summary."""
        self.parts.append("</section>")

    def warnings(self, items: list[tuple[str, str]]) -> None:
        """A list of warnings, each what was found and what to do."""
        body = "".join(f'<li>{html.escape(what)} <span class="todo">{html.escape(todo)}</span>'
                       "</li>" for what, todo in items)
        self.parts.append(f'<ul class="warnings">{body}</ul>')

    def items(self, lines: list[str]) -> None:
        """A bulleted list of plain text lines."""
        body = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        self.parts.append(f"<ul>{body}</ul>")

    def table(self, frame: pd.DataFrame, ident: str, caption: str,
              row_class: str | None = None) -> None:
        """A table with an id and a caption; ``row_class`` names a column whose value becomes
        the row's CSS class (used to colour verdicts)."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
        rows = []
        for _, row in frame.iterrows():
            cls = f' class="{html.escape(str(row[row_class]))}"' if row_class else ""
            cells = "".join(_td(_cell(v), _is_number(v)) for v in row)
            rows.append(f"<tr{cls}>{cells}</tr>")
        self.parts.append(
            f'<table id="{html.escape(ident)}"><caption>{html.escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")

    def figure(self, ident: str, png: bytes, caption: str) -> None:
        """A PNG figure embedded as a data URI."""
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(
            f'<figure id="{html.escape(ident)}"><img id="img-{html.escape(ident)}" '
            f'alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def render(self) -> str:
        """The whole page."""
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head>\n<body>\n"
            f"<h1>{html.escape(self.title)}</h1>\n" + "\n".join(self.parts) + "\n</body></html>\n")


#: Text that is one figure: 1,234.5; -3.2%; €12,000 (a figure with its interval may wrap
#: between the two, never inside a figure: break-word breaks no word a column can hold).
_FIGURE = re.compile(r"[-+−]?[$€£]?\d[\d,.]*%?")


def _td(text: str, number: bool) -> str:
    """A cell; a figure never wraps (its column widens, and the table scrolls if it must)."""
    if number or _FIGURE.fullmatch(text.strip()):
        return f'<td class="num">{html.escape(text)}</td>'
    return f"<td>{html.escape(text)}</td>"


def _is_number(value: object) -> bool:
    """A cell that holds a number (a bool is a yes or no, not a number)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _cell(value: object) -> str:
    """A cell's text as a client reads it: thousands separators, no scientific notation,
    about four significant digits, yes/no for a flag (a cell never shows ``1.5e+04`` or
    ``True``)."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return format_plain(float(value))
    return str(value)
