"""Rich text whose numbers change at every step (the equation panel): the small HTML subset
the panels write, parsed once per template, laid out once per shape of its numbers, and
painted run by run (:class:`RichLines`)."""

from __future__ import annotations

import html
import re

from PySide6 import QtCore, QtGui, QtWidgets

_TAG = re.compile(r"(<[^>]+>)")
_SLOT = "\x00"
_ZEROS = str.maketrans("123456789", "000000000")
_PARA = re.compile(r"<p([^>]*)>(.*?)</p>", re.S)
_NUMBER = re.compile(r"\d[\d.]")
_DIGIT = re.compile(r"\d")
_AFTER_SPACE = re.compile(r"(?<= )")
_COLOR = re.compile(r"color:\s*(#[0-9a-fA-F]{3,8}|[a-z]+)")


def html_runs(text: str) -> list[list[tuple[str, bool, bool, bool, str | None]]]:
    """Paragraphs of ``(text, bold, italic, sub, color)`` runs from the small HTML subset
    the panels write (``<p>``, ``<b>``, ``<i>``, ``<sub>``, ``<span>``, inline colours)."""
    paras = _PARA.findall(text) or [("", text)]
    out = []
    for attrs, para in paras:
        m = _COLOR.search(attrs)
        runs, stack = [], [(False, False, False, m.group(1) if m else None)]
        for part in _TAG.split(para):
            if not part:
                continue
            if part.startswith("<"):
                name = part[1:].split()[0].rstrip(">").lower() if len(part) > 2 else ""
                if name.startswith("/"):
                    if len(stack) > 1:
                        stack.pop()
                    continue
                if name == "br":
                    continue
                b, i, s, c = stack[-1]
                m = _COLOR.search(part)
                stack.append((b or name == "b", i or name == "i", s or name == "sub",
                              m.group(1) if m else c))
            else:
                runs.append((html.unescape(part), *stack[-1]))
        out.append(runs)
    return out


# a number's sign is part of it: tanh(-0.0137) and tanh(0.0137) are one template
_VALUE_OUTSIDE_TAGS = re.compile(r"-?\d+\.\d+(?![^<>]*>)")


_VALUE_SPLIT = re.compile(f"({_VALUE_OUTSIDE_TAGS.pattern})")


def _template(text: str) -> tuple[str, list[str]]:
    """``text`` with every decimal number outside the tags replaced by a slot, and the
    numbers in order (one pass: the split keeps the numbers between the rest)."""
    parts = _VALUE_SPLIT.split(text)
    return _SLOT.join(parts[0::2]), parts[1::2]


def _run_html(run) -> str:
    text, bold, italic, sub, color = run
    h = html.escape(text, quote=False).replace("/", "/\u2060")   # <nobr> still breaks at '/'
    for on, tag in ((sub, "sub"), (italic, "i"), (bold, "b")):
        if on:
            h = f"<{tag}>{h}</{tag}>"
    return f"<span style='color:{color}'>{h}</span>" if color else h


class RichLines(QtWidgets.QWidget):
    """Rich text for values that change at every step (the equation panel), painted run by
    run with cached fonts and word widths: no QTextDocument parse or layout per step.

    ``setText`` takes the same small HTML subset as :func:`html_runs`; words wrap at the
    widget's width; :meth:`text` returns the HTML given.
    """

    def __init__(self, point_size: float = 11, background: str = "white",
                 number_color: str = "#1f4e9c", parent=None):
        super().__init__(parent)
        self._text = ""
        self._paras: list = []
        f = self.font()
        f.setPointSizeF(point_size)
        self.setFont(f)
        self.background = QtGui.QColor(background)
        self._fonts: dict = {}
        self._cache: dict = {}
        self._ops_for: tuple = ("", -1)
        self._draws: tuple = ([], [])
        self._templates: dict = {}
        self._template = ""
        self._formats: list = []
        self._filled: list[str] = []
        self._colors: dict = {}
        self._advances: dict = {}
        self._digits_even: bool | None = None
        self._plans: dict = {}
        self._values: list[str] = []
        self._line_h = 0.0
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                           QtWidgets.QSizePolicy.Policy.Expanding)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            # The same formulas come back at every step with other numbers: parse and group
            # each template once, then only put this step's numbers in.
            template, values = _template(text)
            entry = self._templates.get(template)
            if entry is None:
                if len(self._templates) > 200:
                    self._templates.clear()
                entry = self._templates[template] = self._entry(template)
            paras, slots, formats = entry
            if slots != len(values):   # a number no run shows (outside the paragraphs)
                paras, _, formats = self._entry(text)
                values, template = [], text
            new_shape = template != self._template
            self._paras, self._values, self._template = paras, values, template
            self._formats = formats
            if new_shape:   # only the numbers changed: the same lines, the same height
                self._fit_height()
            self.update()

    def _entry(self, template: str) -> tuple[list, int, list]:
        """A template's paragraphs of pieces, its number of slots, and for each plain
        piece a format string (its slots as ``{}``) with its count of slots."""
        paras = [self._pieces(runs) for runs in html_runs(template)]
        formats = []
        for pieces in paras:
            for piece, key, _ in pieces:
                if key is not None:
                    k = piece.count(_SLOT)
                    formats.append((piece.replace("{", "{{").replace("}", "}}")
                                    .replace(_SLOT, "{}") if k else piece, k))
        return paras, sum(k for _, k in formats), formats

    def _fit_height(self) -> None:
        """Ask for the height the lines take at this width (in a scroll area the last line
        is then reached, never cut); unchanged while only the numbers change."""
        fm0 = self._font(False, False, False)[1]
        ops = []
        if self.width() > 20:
            self._layout(self.width() - 8)
            ops = self._draws[1]
        h = int(max((y for _, y, *_ in ops), default=0.0) + fm0.height() * 1.3 + 6)
        if abs(h - self.minimumHeight()) > 1:
            self.setMinimumHeight(h)

    def changeEvent(self, ev) -> None:
        """A new font: every cached piece, width and plan was made in the old one."""
        super().changeEvent(ev)
        if ev.type() == QtCore.QEvent.Type.FontChange:
            self._fonts, self._cache, self._templates, self._plans = {}, {}, {}, {}
            self._advances, self._digits_even = {}, None
            text, self._text, self._template = self._text, "", ""
            self._ops_for = ("", -1)
            self.setText(text)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if ev.oldSize().width() != ev.size().width():
            self._fit_height()

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(200, 120)

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(10, 10)

    def _font(self, bold: bool, italic: bool, sub: bool):
        key = (bold, italic, sub)
        if key not in self._fonts:
            f = QtGui.QFont(self.font())
            f.setBold(bold)
            f.setItalic(italic)
            if sub:
                f.setPointSizeF(f.pointSizeF() * 0.72)
            self._fonts[key] = (f, QtGui.QFontMetricsF(f))
        return self._fonts[key]

    def _static(self, text: str, key, font, rich: bool = False) -> QtGui.QStaticText:
        """A QStaticText per (text, style), shaped once: the formula fragments repeat at
        every step; only the changing numbers make new ones."""
        st = self._cache.get((text, key))
        if st is None:
            if len(self._cache) > 5_000:
                self._cache.clear()
            st = QtGui.QStaticText(text)
            st.setTextFormat(QtCore.Qt.TextFormat.RichText if rich else
                             QtCore.Qt.TextFormat.PlainText)
            st.prepare(QtGui.QTransform(), font)
            self._cache[(text, key)] = st
        return st

    def _pieces(self, runs) -> list:
        """Runs grouped: consecutive runs without a number become one cached rich-text
        piece (the formula), runs with numbers stay plain pieces in their own font."""
        out, group = [], []

        def flush():
            if group:
                html_ = "".join(_run_html(r) for r in group)
                html_ = f"<nobr>{html_}</nobr>"
                out.append((self._static(html_, "rich", self.font(), rich=True), None, None))
                group.clear()

        for r in runs:
            if _SLOT in r[0] or _NUMBER.search(r[0]):
                flush()
                out.append((r[0], r[1:4], r[4]))   # plain text, drawn directly
            else:
                group.append(r)
        flush()
        return out

    def _tabular(self) -> bool:
        """Whether every digit has one width in every font used (then numbers of the same
        shape, e.g. -0.0158 and -0.9031, take the same room)."""
        if self._digits_even is None:
            self._digits_even = all(
                len({self._font(*k)[1].horizontalAdvance(d) for d in "0123456789"}) == 1
                for k in ((b, i, s) for b in (False, True) for i in (False, True)
                          for s in (False, True)))
        return self._digits_even

    def _layout(self, width: float) -> None:
        """Lay the current text out at ``width``: a piece that does not fit starts a new,
        indented line, plain ones between their words.

        The places depend on the template, the width and the widths of the numbers only:
        planned once per such shape (numbers written with 0 for every digit, when the
        digits have one width), then only this step's words are put in."""
        self._draws = self._plan_for(width)

    @property
    def _ops(self) -> list:
        """What the last paint drew, ``(x, y, piece, font key, colour)``: a cached rich
        QStaticText (top-left at x, y) or plain text (its baseline at y)."""
        return [(x, y, piece if i is None else self._filled[i][a:b], k, c)
                for x, y, piece, i, a, b, k, c in self._draws[1]]

    def _plan_for(self, width: float) -> tuple:
        """The plan of the current text at ``width`` (made once per shape of its numbers)
        and the current text's plain pieces with the numbers in (``self._filled``)."""
        values = self._values
        shape = "\x01".join(values).translate(_ZEROS) if self._tabular() else \
            "\x01".join(values)
        key = (self._template, width, shape)
        filled, n = [], 0
        for fmt, k in self._formats:
            filled.append(fmt.format(*values[n:n + k]) if k else fmt)
            n += k
        self._filled = filled
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 500:
                self._plans.clear()
            plan = self._plans[key] = self._draw_plan(self._plan(width, filled), filled)
        return plan

    def _color(self, name: str | None) -> QtGui.QColor | None:
        if name is None:
            return None
        c = self._colors.get(name)
        if c is None:
            c = self._colors[name] = QtGui.QColor(name)
        return c

    def _draw_plan(self, ops: list, filled: list[str]) -> tuple:
        """``(draws, ops)``: for each of ``ops`` what paint does, ready: ``(y, point,
        static text or None, font, colour or None, plain piece index, start, end)``. Rich
        pieces and plain words without digits (the same in every text of this shape) are
        shaped once as static text; words with digits are drawn as text from
        ``self._filled`` at paint."""
        base, point, fonts, color = self.font(), QtCore.QPointF, {}, self._color
        draws = []
        for x, y, piece, i, a, b, k, c in ops:
            if i is None:
                draws.append((y, point(x, y), piece, base, None, None, 0, 0))
                continue
            f = fonts.get(k)
            if f is None:
                f = fonts[k] = self._font(*k)
            word = filled[i][a:b]
            if _DIGIT.search(word) is None:     # formula text, the same at every step
                if word:
                    draws.append((y, point(x, y - f[1].ascent()), self._static(word, k, f[0]),
                                  f[0], color(c), None, 0, 0))
            else:
                draws.append((y, point(x, y), None, f[0], color(c), i, a, b))
        return draws, ops

    def _advance(self, key, fm: QtGui.QFontMetricsF, text: str) -> float:
        """``fm.horizontalAdvance(text)``, measured once per font and shape of the text (its
        digits as 0 when every digit has one width): a new sign or new digits of the same
        shape take the same room."""
        k = (key, text.translate(_ZEROS) if self._digits_even else text)   # (set by _plan_for)
        w = self._advances.get(k)
        if w is None:
            if len(self._advances) > 5_000:
                self._advances.clear()
            w = self._advances[k] = fm.horizontalAdvance(text)
        return w

    def _plan(self, width: float, filled: list[str]) -> list:
        """The layout of the current text (``filled``: its plain pieces with the numbers
        in): ``(x, y, rich piece or None, plain piece index, start, end, font key, colour)``."""
        fm0 = self._font(False, False, False)[1]
        line_h = self._line_h = fm0.height() * 1.3
        ops, y = [], 4.0
        n = 0
        for pieces in self._paras:
            x = 4.0
            for piece, key, color in pieces:
                if key is None:
                    w = piece.size().width()
                    if x + w > width and x > 4.0:
                        x, y = 24.0, y + line_h
                    ops.append((x, y, piece, None, 0, 0, None, None))
                    x += w
                    continue
                piece = filled[n]
                fm = self._font(*key)[1]
                dy = fm0.ascent() + (fm0.ascent() * 0.3 if key[2] else 0.0)
                words = [piece]
                if x + self._advance(key, fm, piece) > width and x > 4.0:
                    words = _AFTER_SPACE.split(piece)
                a = 0
                for word in words:
                    w = self._advance(key, fm, word)
                    if x + w > width and x > 4.0:
                        x, y = 24.0, y + line_h
                    ops.append((x, y + dy, None, n, a, a + len(word), key, color))
                    a += len(word)
                    x += w
                n += 1
            y += line_h + 4
        return ops

    def paintEvent(self, ev) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(ev.rect(), self.background)
        black = self.palette().color(QtGui.QPalette.ColorRole.WindowText)
        if self._ops_for != (self._text, self.width()):
            self._layout(self.width() - 8)
            self._ops_for = (self._text, self.width())
        filled = self._filled
        cur_font = cur_color = 0
        # only the lines in the exposed part (a scroll area shows a few of them): each
        # plain run with digits is shaped anew when drawn (~9 us)
        r = ev.rect()
        top, bottom = r.top() - self._line_h, r.bottom() + self._line_h
        for y, point, static, font, color, i, a, b in self._draws[0]:
            if not top <= y <= bottom:
                continue
            if font is not cur_font:
                p.setFont(font)
                cur_font = font
            if color is not cur_color:
                p.setPen(black if color is None else color)
                cur_color = color
            if static is not None:
                p.drawStaticText(point, static)
            else:
                p.drawText(point, filled[i][a:b])
        p.end()
