"""Inline SVG charts drawn on the server: a small builder, a horizontal bar chart and a progress
bar. Callers pass plain strings and numbers; the builder escapes every text and attribute, so
the result is safe to put into a page as is."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from django.utils.safestring import SafeString, mark_safe

WAN = Decimal(10_000)
YI = Decimal(100_000_000)

FONT = "'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei','PingFang SC',sans-serif"
INK, MUTED, GRID = "#1f2933", "#616e7c", "#d9dee3"
BAR, GOOD, BEHIND, NEGATIVE = "#2f6fa3", "#2e8b57", "#d9822b", "#c0392b"


def format_cny(amount: Decimal) -> str:
    """An amount as read in Chinese reports: 1.25亿元, 3.00万元, 980.00元."""
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    if value >= YI:
        return f"{sign}{value / YI:,.2f}亿元"
    if value >= WAN:
        return f"{sign}{value / WAN:,.2f}万元"
    return f"{sign}{value:,.2f}元"


def _text_width(text: str, font_size: float) -> float:
    """Rough rendered width: CJK characters are square, others about half as wide."""
    return sum(font_size if ord(ch) > 0x2E80 else font_size * 0.6 for ch in text)


class Svg:
    """Collects SVG elements and renders them as one inline <svg>."""

    def __init__(self, width: float, height: float, *, title: str):
        self.width, self.height, self.title = width, height, title
        self.parts: list[str] = []

    def add(self, tag: str, text: str | None = None, **attributes) -> None:
        """`font_size=12` becomes font-size="12"; `class_` becomes class."""
        attrs = "".join(
            f" {name.rstrip('_').replace('_', '-')}={quoteattr(str(value))}"
            for name, value in attributes.items()
        )
        body = "" if text is None else escape(text)
        self.parts.append(f"<{tag}{attrs}>{body}</{tag}>")

    @contextmanager
    def group(self, *, tooltip: str = "") -> Iterator[None]:
        """A <g> whose <title> browsers show on hover."""
        self.parts.append("<g>" + (f"<title>{escape(tooltip)}</title>" if tooltip else ""))
        yield
        self.parts.append("</g>")

    @contextmanager
    def link(self, href: str) -> Iterator[None]:
        """An <a> around what is drawn inside, when there is somewhere to go."""
        if href:
            self.parts.append(f"<a href={quoteattr(href)}>")
        yield
        if href:
            self.parts.append("</a>")

    def text(self, x: float, y: float, text: str, **attributes) -> None:
        attributes.setdefault("font_size", 13)
        attributes.setdefault("fill", INK)
        self.add("text", text, x=_n(x), y=_n(y), **attributes)

    def rect(self, x: float, y: float, width: float, height: float, **attributes) -> None:
        self.add("rect", x=_n(x), y=_n(y), width=_n(width), height=_n(height), **attributes)

    def line(self, x1: float, y1: float, x2: float, y2: float, **attributes) -> None:
        self.add("line", x1=_n(x1), y1=_n(y1), x2=_n(x2), y2=_n(y2), **attributes)

    def render(self) -> SafeString:
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(self.width)}" '
            f'height="{_n(self.height)}" viewBox="0 0 {_n(self.width)} {_n(self.height)}" '
            f'role="img" aria-label={quoteattr(self.title)} font-family={quoteattr(FONT)}>'
            f"<title>{escape(self.title)}</title>"
        )
        # Everything inside was escaped by add().
        return mark_safe(head + "".join(self.parts) + "</svg>")  # noqa: S308


def _n(value: float) -> str:
    """Coordinates with at most one decimal: short markup, stable in tests."""
    return f"{value:.1f}".removesuffix(".0")


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    detail: str = ""  # shown as a tooltip, e.g. the number of entries
    href: str = ""  # the drill-down: the page filtered by this bar's value


def bar_chart(bars: Sequence[Bar], *, title: str, width: int = 560) -> SafeString:
    """One horizontal bar per row: label on the left, the amount at the end of the bar.
    Negative amounts (refunds exceeding purchases) are drawn left of a zero line."""
    row, bar_height, pad = 28, 18, 8
    if not bars:
        svg = Svg(width, 48, title=title)
        svg.text(width / 2, 29, "暂无数据", text_anchor="middle", fill=MUTED)
        return svg.render()
    label_width = min(max(_text_width(b.label, 13) for b in bars) + 12, 180)
    value_width = max(_text_width(format_cny(b.value), 12) for b in bars) + 10
    plot_left, plot_width = label_width, width - label_width - value_width
    low = min(Decimal(0), *(b.value for b in bars))
    high = max(Decimal(0), *(b.value for b in bars))
    span = (high - low) or Decimal(1)

    def x(value: Decimal) -> float:
        return plot_left + float((value - low) / span) * plot_width

    svg = Svg(width, pad * 2 + row * len(bars), title=title)
    for index, bar in enumerate(bars):
        top = pad + index * row
        middle = top + row / 2
        start, end = sorted((x(Decimal(0)), x(bar.value)))
        with svg.link(bar.href):
            svg.text(
                label_width - 8, middle, bar.label, text_anchor="end", dominant_baseline="middle"
            )
            with svg.group(tooltip=f"{bar.label}：{format_cny(bar.value)} {bar.detail}".strip()):
                svg.rect(
                    start,
                    middle - bar_height / 2,
                    max(end - start, 1),
                    bar_height,
                    fill=NEGATIVE if bar.value < 0 else BAR,
                    rx=2,
                )
            svg.text(
                max(end, x(Decimal(0))) + 6,
                middle,
                format_cny(bar.value),
                font_size=12,
                fill=MUTED,
                dominant_baseline="middle",
            )
    zero = x(Decimal(0))
    svg.line(zero, pad / 2, zero, pad * 1.5 + row * len(bars), stroke=GRID)
    return svg.render()


def progress_bar(
    *, percent: Decimal, elapsed_percent: Decimal, on_track: bool, title: str, width: int = 720
) -> SafeString:
    """Achieved share of a target as a filled bar (green on track, orange behind), with a
    marker at the share of the period already passed."""
    left, right, top, height = 4, 64, 22, 22
    track = width - left - right
    svg = Svg(width, top + height + 8, title=title)
    svg.rect(left, top, track, height, fill="#eef1f4", rx=4)
    filled = track * min(max(float(percent), 0.0), 100.0) / 100
    svg.rect(left, top, max(filled, 0), height, fill=GOOD if on_track else BEHIND, rx=4)
    svg.text(left + track + 8, top + height / 2, f"{percent}%", dominant_baseline="middle")
    marker = left + track * min(float(elapsed_percent), 100.0) / 100
    svg.line(marker, top - 4, marker, top + height + 4, stroke=INK, stroke_width=2)
    svg.text(
        min(max(marker, left + 60), left + track - 60),
        top - 8,
        f"时间进度 {elapsed_percent}%",
        font_size=11,
        fill=MUTED,
        text_anchor="middle",
    )
    return svg.render()
