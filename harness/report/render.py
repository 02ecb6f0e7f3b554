"""Writing a document (harness.report.section) as HTML and Markdown through the jinja2 templates.

The document is built once and shared, so the two formats cannot drift apart: they differ
only in markup. HTML autoescapes everything; Markdown escapes through explicit filters. The
templates draw the frame and every block type generically, so any scenario's sections render.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from harness.report.section import Document

TEMPLATES = Path(__file__).parent / "templates"


# -- markup filters -----------------------------------------------------------------------------

_CODE = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EM = re.compile(r"(?<![\w*])\*([^*]+)\*(?![\w*])")


def _marks(text: str) -> str:
    return _EM.sub(r"<em>\1</em>", _STRONG.sub(r"<strong>\1</strong>", text))


def html_inline(text: str) -> Markup:
    """Escape, then turn the three inline Markdown marks our own sentences use into HTML.

    Bold and italic apply only outside code spans: a quoted log line such as
    `*** FATAL ... ***` must stay literal.
    """
    out = str(escape(text))
    pieces = _CODE.split(out)  # even: prose, odd: code span contents
    return Markup("".join(_marks(piece) if i % 2 == 0 else f"<code>{piece}</code>" for i, piece in enumerate(pieces)))


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(value: object) -> str:
    """Data as literal Markdown text: `a__b__1` must not turn bold, a `|` must not split a cell."""
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


def md_code(value: object) -> str:
    """Inline code that survives backticks in the value (fence longer than any run inside)."""
    text = str(value).replace("\n", " ")
    if text == "":
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def md_fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=0)
    return "`" * max(3, longest + 1)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        # HTML escapes by default; Markdown has its own filters (HTML entities would show in it).
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True, default=False),
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the build instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["inline"] = html_inline
    env.filters["md"] = md_escape
    env.filters["mdcode"] = md_code
    env.filters["fence"] = md_fence
    # A chart's file is named after its trial, and config names are free text: keep links intact.
    env.filters["url"] = lambda path: quote(str(path), safe="/+")
    return env


HTML_TEMPLATE = "report.html"
MD_TEMPLATE = "report.md"


def render_document(document: Document, out_dir: Path, html_name: str = "report.html",
                    md_name: str = "report.md") -> dict[str, Path]:
    """Write `document` as `out_dir/html_name` and `out_dir/md_name`; return the paths by those names."""
    env = environment()
    paths = {}
    for template, name in ((HTML_TEMPLATE, html_name), (MD_TEMPLATE, md_name)):
        path = Path(out_dir) / name
        path.write_text(env.get_template(template).render(d=document), encoding="utf-8")
        paths[name] = path
    return paths
