"""What a report is made of: a document frame around sections, and the blocks a section holds.

A scenario's report code builds sections out of these blocks; the templates draw every block
type once (report.html, report.md), so a new scenario adds sections without a template edit.
Text in blocks may use the three inline Markdown marks of our own sentences (`code`, **bold**,
*italic*): the Markdown report keeps them, the HTML report turns them into markup after escaping.
Data that must stay literal (trial ids in a gallery, table cells) is escaped by the templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal, Union


@dataclass(frozen=True)
class Paragraphs:
    """Running text. `note`: muted (a remark on the block before it); `aside`: muted, and a quote in
    Markdown (something the reader should know about what is missing)."""

    kind: ClassVar[str] = "paragraphs"
    texts: list[str]
    style: Literal["body", "note", "aside"] = "body"


@dataclass(frozen=True)
class Bullets:
    """A list; `ordered` numbers it (steps), `spaced` gives each item room (sentences to read one by one)."""

    kind: ClassVar[str] = "bullets"
    items: list[str]
    ordered: bool = False
    spaced: bool = False


@dataclass(frozen=True)
class Definitions:
    """Named meanings: '**name**: meaning' per item."""

    kind: ClassVar[str] = "definitions"
    items: list[tuple[str, str]]


@dataclass(frozen=True)
class Table:
    """Cells already formatted (harness.report.fmt); data, so never read as markup."""

    kind: ClassVar[str] = "table"
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-align these columns


@dataclass(frozen=True)
class Figure:
    """One image, with its file relative to the report."""

    kind: ClassVar[str] = "figure"
    path: str
    alt: str
    caption: str


@dataclass(frozen=True)
class GalleryItem:
    name: str  # what the image shows (a trial id): shown as code
    path: str | None  # relative to the report; None: not drawn
    caption: str
    alt: str
    note: str | None = None  # why there is no image


@dataclass(frozen=True)
class Gallery:
    """Many small images (one per trial). The intro differs by format: HTML shows a grid of
    thumbnails to click, Markdown a list of links."""

    kind: ClassVar[str] = "gallery"
    items: list[GalleryItem]
    html_intro: str
    md_intro: str


Block = Union[Paragraphs, Bullets, Definitions, Table, Figure, Gallery]


@dataclass(frozen=True)
class Section:
    """A heading, its blocks, then its subsections one heading level down."""

    title: str
    blocks: list[Block]
    anchor: str = ""  # the HTML id; "" for none
    sections: list[Section] = field(default_factory=list)


def nested(parent: str, sections: list[Section]) -> list[Section]:
    """`sections` with every anchor prefixed by `parent`, so two scenarios' sections in one report
    keep distinct ids."""
    return [replace(s, anchor=f"{parent}-{s.anchor}" if s.anchor else "", sections=nested(parent, s.sections))
            for s in sections]


@dataclass(frozen=True)
class ConfigFile:
    name: str
    description: str | None
    text: str | None  # None: no copy of the file was found


@dataclass(frozen=True)
class Document:
    """A whole report: the run's frame (title, what was measured, environment, config files) around
    the sections."""

    title: str
    run_id: str | None
    description: str
    sections: list[Section]
    environment: list[tuple[str, str]]  # flat 'key: value' pairs
    configs: list[ConfigFile]
