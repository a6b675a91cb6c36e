"""The mock OS's screen: where each control of the accessibility tree is drawn, and the picture of it.

:func:`layout` places the controls the agent sees (the taskbar, then the focused window's controls, or a dialog)
in a fixed flow layout and gives each its bounding box; :func:`render` draws them with Pillow, optionally with
set-of-marks labels (the control's label in a tag at its top-left corner).  The layout is a pure function of the
controls and the window title, so it is the same for a fixed seed and moves when the layout perturbations move
or rename controls.  A point resolves to the control whose box holds it (:meth:`Screen.hit`); a point between
controls hits nothing, as on a real screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

WIDTH, HEIGHT = 1024, 768
TASKBAR = 40  # the taskbar's height, at the bottom
MARGIN = 12
TITLE = 30  # a window's title bar
ROW = 26  # one line of controls
GAP = 6
LINE = 17  # a line of wrapped text
FONT_SIZE = 14
MAX_LINES = 4  # wrapped text beyond this is cut with an ellipsis
INLINE = frozenset(("button", "tab", "checkbox", "combobox"))
"""Roles placed side by side in a row; the others take a row of their own."""

Box = tuple[int, int, int, int]


@lru_cache(maxsize=1)
def _font() -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=FONT_SIZE)  # embedded in Pillow: the same pixels everywhere


_GLYPHS = str.maketrans({"—": "-", "–": "-", "…": "...", "\u2028": " ", "\u2029": " ", "\t": " ", "\r": " "})
"""Characters the embedded font lacks, drawn as their plain equivalents."""


def shown(text: str) -> str:
    return str(text).translate(_GLYPHS)


@lru_cache(maxsize=4096)
def text_width(text: str) -> int:
    return int(round(_font().getlength(text)))


def _fit(text: str, width: int) -> str:
    """``text`` cut with an ellipsis to fit ``width`` pixels."""
    if text_width(text) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if text_width(text[:mid] + "...") <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "..."


def _wrap(text: str, width: int, max_lines: int = MAX_LINES) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        words, cur = para.split(" "), ""
        for w in words:
            cand = w if not cur else f"{cur} {w}"
            if text_width(cand) <= width:
                cur = cand
                continue
            if cur:
                lines.append(cur)
            cur = w if text_width(w) <= width else _fit(w, width)
        lines.append(cur)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _fit(lines[-1] + " ...", width)
    return lines


@dataclass(slots=True)
class Item:
    """One control as drawn: its box, and what is written where."""

    role: str
    label: str
    name: str
    value: str
    box: Box | None
    """None when the control did not fit on the screen (it stays in the accessibility tree)."""
    lines: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Screen:
    """The laid-out screen: one :class:`Item` per control, in the accessibility tree's order."""

    items: list[Item]
    title: str
    window: Box | None
    dialog: bool
    open_apps: list[str]
    size: tuple[int, int] = (WIDTH, HEIGHT)

    def hit(self, x: int, y: int) -> int | None:
        """Index of the control at the point (the topmost: a dialog's buttons before the dialog), or None."""
        for i in range(len(self.items) - 1, -1, -1):
            b = self.items[i].box
            if b is not None and b[0] <= x < b[2] and b[1] <= y < b[3]:
                return i
        return None

    def on_screen(self, x: int, y: int) -> bool:
        return 0 <= x < self.size[0] and 0 <= y < self.size[1]

    def boxes(self) -> list[Box | None]:
        return [it.box for it in self.items]


def layout(controls: list[dict[str, Any]], title: str, open_apps: list[str], n_taskbar: int) -> Screen:
    """Place ``controls`` (the observation's control dicts; the first ``n_taskbar`` are the taskbar's)."""
    items: list[Item] = []
    x = 8
    controls = [{**c, "name": shown(c["name"]), "value": shown(c.get("value", ""))} for c in controls]
    for c in controls[:n_taskbar]:  # the taskbar, left to right
        w = text_width(c["name"]) + 28
        items.append(Item(c["role"], c["label"], c["name"], c["value"],
                          (x, HEIGHT - TASKBAR + 6, x + w, HEIGHT - 6)))
        x += w + GAP
    rest = controls[n_taskbar:]
    dialog = bool(rest) and rest[0]["role"] == "dialog"
    window = None
    if dialog:
        items.extend(_dialog(rest))
    elif title:
        window = (2 * MARGIN, MARGIN, WIDTH - 2 * MARGIN, HEIGHT - TASKBAR - MARGIN)
        items.extend(_flow(rest, window))
    return Screen(items, shown(title), window, dialog, open_apps)


def control_boxes(controls: list[dict[str, Any]]) -> list[Box | None]:
    """The boxes the layout gives an observation's controls (the taskbar's first; the title and open windows change
    no box), without drawing anything."""
    from lambench.sandboxes.mockos.core import APPS

    boxes = layout(controls, "window", [], len(APPS)).boxes() if controls else []
    return boxes + [None] * (len(controls) - len(boxes))  # (every control gets an answer)


def _flow(controls: list[dict[str, Any]], window: Box) -> list[Item]:
    left, right, bottom = window[0] + MARGIN, window[2] - MARGIN, window[3] - MARGIN
    x, y, row_h = left, window[1] + TITLE + MARGIN, 0
    out = []

    def newline() -> None:
        nonlocal x, y, row_h
        if x > left:
            y += row_h + GAP
        x, row_h = left, 0

    for c in controls:
        role, name, value = c["role"], c["name"], str(c.get("value", ""))
        if role in INLINE:
            if role == "checkbox":
                w = 26 + text_width(name)
            elif role == "combobox":
                w = text_width(name) + 16 + max(120, min(260, text_width(value) + 40))
            else:
                w = min(right - left, text_width(name) + 24)
            if x + w > right:
                newline()
            box, lines = (x, y, x + w, y + ROW), []
            x += w + GAP
            row_h = max(row_h, ROW)
        else:
            newline()
            if role == "edit":  # the name, then the field: the field is what takes clicks
                label_w = max(110, text_width(name) + 14)
                lines = _wrap(value, right - left - label_w - 12, 3) if value else [""]
                h = max(ROW, 8 + LINE * len(lines))
                box = (left + label_w, y, right, y + h)
            elif role == "listitem":
                lines = [_fit(f"{name}    {value}" if value else name, right - left - 16)]
                h = ROW
                box = (left, y, right, y + h)
            else:  # text, paragraph: read-only lines
                shown = f"{name}: {value}" if value else name
                lines = _wrap(shown, right - left - 8)
                h = max(ROW - 6, 4 + LINE * len(lines))
                box = (left, y, right, y + h)
            y += h + GAP
        out.append(Item(role, c["label"], name, value, box if box[3] <= bottom else None, lines))
    return out


def _dialog(controls: list[dict[str, Any]]) -> list[Item]:
    d = controls[0]
    w, text_w = 520, 520 - 2 * MARGIN
    lines = _wrap(str(d.get("value", "")), text_w, 6)
    h = TITLE + MARGIN + LINE * len(lines) + MARGIN + ROW + MARGIN
    x0, y0 = (WIDTH - w) // 2, (HEIGHT - TASKBAR - h) // 2
    out = [Item("dialog", d["label"], d["name"], str(d.get("value", "")), (x0, y0, x0 + w, y0 + h), lines)]
    bx = x0 + w - MARGIN
    buttons = []
    for c in reversed(controls[1:]):  # right-aligned, in order
        bw = text_width(c["name"]) + 32
        buttons.append(Item(c["role"], c["label"], c["name"], "", (bx - bw, y0 + h - MARGIN - ROW, bx, y0 + h - MARGIN)))
        bx -= bw + GAP
    return out + buttons[::-1]


# ---------------------------------------------------------------------------- drawing
_BG, _WINDOW, _TITLEBAR, _INK, _MUTED = (58, 110, 165), (246, 246, 246), (45, 62, 80), (20, 20, 20), (95, 95, 95)
_BUTTON, _EDGE, _FIELD, _TASKBAR, _MARK = (225, 228, 233), (150, 155, 160), (255, 255, 255), (30, 33, 38), (214, 39, 40)


def render(screen: Screen, *, marks: bool = False) -> Any:
    """The screen as an RGB :class:`PIL.Image.Image`; with ``marks``, each control's label in a tag (set-of-marks)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", screen.size, _BG)
    d = ImageDraw.Draw(img)
    font = _font()
    d.rectangle((0, HEIGHT - TASKBAR, WIDTH, HEIGHT), fill=_TASKBAR)
    if screen.window is not None or screen.dialog:
        win = screen.window or (2 * MARGIN, MARGIN, WIDTH - 2 * MARGIN, HEIGHT - TASKBAR - MARGIN)
        d.rectangle(win, fill=_WINDOW, outline=_EDGE)
        d.rectangle((win[0], win[1], win[2], win[1] + TITLE), fill=_TITLEBAR)
        d.text((win[0] + 10, win[1] + 7), _fit(screen.title, win[2] - win[0] - 20), font=font, fill=(255, 255, 255))
        if screen.dialog:  # the window behind a dialog is dimmed and takes no clicks
            overlay = Image.new("RGB", screen.size, (0, 0, 0))
            img = Image.blend(img, overlay, 0.35)
            d = ImageDraw.Draw(img)
    for it in screen.items:
        if it.box is not None:
            _draw(d, it, font)
    if marks:
        draw_marks(img, [(it.label, it.box) for it in screen.items if it.box is not None and it.role != "dialog"])
    return img


def draw_marks(img: Any, marks: list[tuple[str, Any]]) -> Any:
    """Set-of-marks: each ``(label, box)``'s label in a tag at the box's top-left corner, drawn on ``img`` (a PIL
    image, changed in place and returned)."""
    from PIL import ImageDraw

    d, font = ImageDraw.Draw(img), _font()
    for tag, box in marks:
        x0, y0 = box[0], max(0, box[1] - 6)
        d.rectangle((x0, y0, x0 + text_width(tag) + 6, y0 + 15), fill=_MARK)
        d.text((x0 + 3, y0), tag, font=font, fill=(255, 255, 255))
    return img


def _draw(d: Any, it: Item, font: Any) -> None:
    x0, y0, x1, y1 = it.box
    if it.role in ("button", "tab"):
        taskbar = y0 >= HEIGHT - TASKBAR
        fill = (60, 66, 75) if taskbar else _BUTTON
        if it.role == "tab" and it.value:  # the tab shown
            fill = (255, 255, 255)
        d.rounded_rectangle(it.box, 4, fill=fill, outline=_EDGE)
        ink = (235, 235, 235) if taskbar else _INK
        d.text(((x0 + x1 - text_width(it.name)) // 2, y0 + (y1 - y0 - FONT_SIZE) // 2 - 1), it.name, font=font,
               fill=ink)
        if taskbar and it.value == "open":
            d.rectangle((x0 + 6, y1 - 3, x1 - 6, y1 - 1), fill=(120, 180, 240))
    elif it.role == "checkbox":
        d.rectangle((x0 + 2, y0 + 5, x0 + 18, y0 + 21), fill=_FIELD, outline=_INK)
        if it.value.lower() in ("on", "true", "checked", "yes", "1"):
            d.line((x0 + 5, y0 + 13, x0 + 9, y0 + 18, x0 + 16, y0 + 8), fill=_INK, width=2)
        d.text((x0 + 26, y0 + 5), it.name, font=font, fill=_INK)
    elif it.role == "combobox":
        nw = text_width(it.name) + 8
        d.text((x0, y0 + 5), it.name, font=font, fill=_INK)
        d.rectangle((x0 + nw, y0, x1, y1), fill=_FIELD, outline=_EDGE)
        d.text((x0 + nw + 6, y0 + 5), _fit(it.value, x1 - x0 - nw - 28), font=font, fill=_INK)
        d.polygon(((x1 - 18, y0 + 10), (x1 - 8, y0 + 10), (x1 - 13, y0 + 16)), fill=_INK)
    elif it.role == "edit":
        label_x = x0 - (max(110, text_width(it.name) + 14))
        d.text((label_x, y0 + 5), _fit(it.name, x0 - label_x - 6), font=font, fill=_MUTED)
        d.rectangle(it.box, fill=_FIELD, outline=_EDGE)
        for i, line in enumerate(it.lines):
            d.text((x0 + 6, y0 + 4 + i * LINE), line, font=font, fill=_INK)
    elif it.role == "listitem":
        d.rectangle(it.box, fill=(232, 240, 250), outline=(210, 220, 232))
        d.text((x0 + 8, y0 + 5), it.lines[0] if it.lines else it.name, font=font, fill=_INK)
    elif it.role == "dialog":
        d.rectangle(it.box, fill=_WINDOW, outline=_INK)
        d.rectangle((x0, y0, x1, y0 + TITLE), fill=(120, 40, 40))
        d.text((x0 + 10, y0 + 7), _fit(it.name, x1 - x0 - 20), font=font, fill=(255, 255, 255))
        for i, line in enumerate(it.lines):
            d.text((x0 + MARGIN, y0 + TITLE + MARGIN + i * LINE), line, font=font, fill=_INK)
    else:  # text, paragraph
        for i, line in enumerate(it.lines):
            d.text((x0 + 2, y0 + 2 + i * LINE), line, font=font, fill=_MUTED if it.role == "text" else _INK)
