"""Small widgets shared by the window and the panels."""

from __future__ import annotations

import html
import re

from PySide6 import QtCore, QtGui, QtWidgets


class LiveText(QtWidgets.QWidget):
    """Text that changes at every step without re-laying out the window.

    A QLabel asks its layout to recompute on every ``setText``; in a dock that ripples up to
    the main window, which then repaints its separators and tab bars. This widget has a
    constant size hint and ``setText`` only schedules a repaint of itself.
    """

    def __init__(self, rich: bool = False, lines: int = 1, align=None, color: str = "#333",
                 point_size: float | None = None, mono: bool = False, background=None,
                 parent=None):
        super().__init__(parent)
        self._text = ""
        self.rich = rich
        self.lines = lines
        self.align = align if align is not None else (
            QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.color = QtGui.QColor(color)
        self.background = QtGui.QColor(background) if background else None
        f = self.font()
        if point_size:
            f.setPointSizeF(point_size)
        if mono:
            f.setFamily("monospace")
        self.setFont(f)
        self._doc = QtGui.QTextDocument() if rich else None
        if self._doc is not None:
            self._doc.setDefaultFont(f)
            if lines == 1:   # one line: never wrap (a wrapped highlight looks like two)
                opt = self._doc.defaultTextOption()
                opt.setWrapMode(QtGui.QTextOption.WrapMode.NoWrap)
                self._doc.setDefaultTextOption(opt)
        # it paints every pixel: Qt need not repaint the dock and window behind it
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                           QtWidgets.QSizePolicy.Policy.Fixed if lines else
                           QtWidgets.QSizePolicy.Policy.Expanding)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            if self._doc is not None:
                self._doc.setHtml(text)   # laid out once here, not at every paint
            self.update()

    def event(self, ev) -> bool:
        """Hovering shows the whole text (a line may be cut to fit): made on demand, so
        a text that changes at every step costs nothing more."""
        if ev.type() == QtCore.QEvent.Type.ToolTip and self._text and self._doc is None:
            QtWidgets.QToolTip.showText(ev.globalPos(), self._text, self)
            return True
        return super().event(ev)

    def sizeHint(self) -> QtCore.QSize:
        h = self.fontMetrics().height() * max(self.lines, 1) + 6
        return QtCore.QSize(120, h)

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(10, self.sizeHint().height() if self.lines else 10)

    def paintEvent(self, ev) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(ev.rect(), self.background if self.background is not None
                   else self.palette().window())
        if self._doc is not None:
            if self._doc.textWidth() != self.width() - 4:
                self._doc.setTextWidth(self.width() - 4)
            if self.align & QtCore.Qt.AlignmentFlag.AlignVCenter:
                p.translate(2, max(0.0, (self.height() - self._doc.size().height()) / 2))
            else:
                p.translate(2, 2)
            self._doc.drawContents(p, QtCore.QRectF(0, 0, self.width(), self.height()))
        else:
            p.setPen(self.color)
            r = self.rect().adjusted(2, 0, -2, 0)
            p.drawText(r, int(self.align), self.fontMetrics().elidedText(
                self._text, QtCore.Qt.TextElideMode.ElideRight, r.width()))
        p.end()


class Scrubber(QtWidgets.QSlider):
    """A horizontal slider that paints itself in a few calls: the step scrubber moves at
    every step, and the style's slider (gradients, a shaded handle) cost ~0.3 ms a repaint.
    Input (drag, click, keys, wheel) stays QSlider's; the handle is drawn where the style
    places it, so that it is grabbed where it is seen."""

    def __init__(self, parent=None):
        super().__init__(QtCore.Qt.Orientation.Horizontal, parent)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._opt = QtWidgets.QStyleOptionSlider()
        self._handle_x: float | None = None     # where the handle was last painted

    def _handle(self) -> QtCore.QRect:
        opt = self._opt
        self.initStyleOption(opt)
        CC, SC = QtWidgets.QStyle.ComplexControl, QtWidgets.QStyle.SubControl
        return self.style().subControlRect(CC.CC_Slider, opt, SC.SC_SliderHandle, self)

    def sliderChange(self, change) -> None:
        """A new value repaints the track between the old handle and the new one only (a
        step moves it a pixel or two of a slider as wide as the window)."""
        if (change != QtWidgets.QAbstractSlider.SliderChange.SliderValueChange
                or self._handle_x is None):
            super().sliderChange(change)
            return
        handle = self._handle()
        x0, x1 = sorted((self._handle_x, float(handle.center().x())))
        pad = max(handle.width(), handle.height()) / 2.0 + 4.0
        self.update(QtCore.QRectF(x0 - pad, 0.0, x1 - x0 + 2 * pad,
                                  float(self.height())).toAlignedRect())

    def paintEvent(self, ev) -> None:
        opt = self._opt
        handle = self._handle()
        pal = self.palette()
        on = self.isEnabled()
        accent = pal.color(QtGui.QPalette.ColorRole.Highlight) if on else \
            pal.color(QtGui.QPalette.ColorRole.Mid)
        p = QtGui.QPainter(self)
        p.fillRect(ev.rect(), pal.color(QtGui.QPalette.ColorRole.Window))
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        cy = self.height() / 2.0
        r = max(4.0, min(handle.height(), handle.width(), self.height() - 2) / 2.0 - 0.5)
        x0, x1 = r + 1.0, self.width() - r - 1.0
        hx = float(handle.center().x())
        self._handle_x = hx
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(pal.color(QtGui.QPalette.ColorRole.Mid))
        p.drawRoundedRect(QtCore.QRectF(x0, cy - 2.0, x1 - x0, 4.0), 2.0, 2.0)
        p.setBrush(accent)         # the part already passed: right of the handle in RTL
        a, b = (hx, x1) if opt.upsideDown else (x0, hx)
        p.drawRoundedRect(QtCore.QRectF(a, cy - 2.0, max(0.0, b - a), 4.0), 2.0, 2.0)
        p.setBrush(pal.color(QtGui.QPalette.ColorRole.Base))
        p.setPen(QtGui.QPen(accent, 2.5 if self.hasFocus() else 1.5))
        p.drawEllipse(QtCore.QPointF(hx, cy), r, r)
        p.end()


class TokenStrip(QtWidgets.QWidget):
    """The typed sequence on one line, the current token on a red badge.

    Painted with three ``drawText`` calls per step (left context, badge, right context; the
    badge kept in view, centred once the left context is wider than half the strip):
    no HTML is parsed or laid out when the step moves. :meth:`text` gives the same strip
    as HTML (``html_of(tokens, t)``) for tests and copying.
    """

    def __init__(self, html_of, shown=str, window: int = 40, point_size: float = 13,
                 parent=None):
        super().__init__(parent)
        self.html_of, self.shown, self.window = html_of, shown, window
        self.tokens: list[str] = []
        self.spaced = False
        self._shown: list[str] = []
        self.t = 0
        f = self.font()
        f.setFamily("monospace")
        f.setStyleHint(QtGui.QFont.StyleHint.Monospace)
        f.setPointSizeF(point_size)
        self.setFont(f)
        self.bold = QtGui.QFont(f)
        self.bold.setBold(True)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                           QtWidgets.QSizePolicy.Policy.Fixed)

    def set_tokens(self, tokens: list[str]) -> None:
        tokens = list(tokens)
        if tokens == self.tokens:
            return
        self.tokens = tokens
        distinct = set(tokens)     # a vocabulary's few symbols: each made up once
        # characters side by side ("hello"); words and numbers apart ("0.5 1 0.5")
        self.spaced = any(len(s) > 1 for s in distinct)
        end = " " if self.spaced else ""
        shown = {s: self.shown(s) + end for s in distinct}
        self._shown = list(map(shown.__getitem__, tokens))
        self.update()

    def set_step(self, t: int) -> None:
        if t != self.t:
            self.t = t
            self.update()

    def text(self) -> str:
        return self.html_of(self.tokens, self.t)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(120, self.fontMetrics().height() + 10)

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(10, self.sizeHint().height())

    def paintEvent(self, ev) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(ev.rect(), self.palette().window())
        n = len(self.tokens)
        if n:
            t = min(max(self.t, 0), n - 1)
            lo, hi = max(0, t - self.window), min(n, t + self.window + 1)
            left = ("… " if lo else "") + "".join(self._shown[lo:t])
            cur = "\u00a0" + self.shown(self.tokens[t]) + "\u00a0"
            right = (" " if self.spaced else "") + \
                "".join(self._shown[t + 1:hi]) + (" …" if hi < n else "")
            fm, fb = self.fontMetrics(), QtGui.QFontMetrics(self.bold)
            y = (self.height() + fm.ascent() - fm.descent()) // 2
            w = fb.horizontalAdvance(cur)
            lw = fm.horizontalAdvance(left)
            x = 2 if lw + w // 2 < self.width() // 2 else self.width() // 2 - w // 2 - lw
            p.setPen(QtGui.QColor("#333"))
            p.drawText(x, y, left)
            x += lw
            p.fillRect(QtCore.QRect(x, y - fm.ascent() - 1, w, fm.height() + 2),
                       QtGui.QColor("#d62728"))
            p.setFont(self.bold)
            p.setPen(QtGui.QColor("white"))
            p.drawText(x, y, cur)
            p.setFont(self.font())
            p.setPen(QtGui.QColor("#333"))
            p.drawText(x + w, y, right)
        p.end()


_TAG = re.compile(r"(<[^>]+>)")
_SLOT = "\x00"
_SLOT_RE = re.compile(_SLOT)
_ZEROS = str.maketrans("123456789", "000000000")
_PARA = re.compile(r"<p([^>]*)>(.*?)</p>", re.S)
_NUMBER = re.compile(r"\d[\d.]")
_DIGIT = re.compile(r"\d")
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


_VALUE_OUTSIDE_TAGS = re.compile(r"\d+\.\d+(?![^<>]*>)")


def _template(text: str) -> tuple[str, list[str]]:
    """``text`` with every decimal number outside the tags replaced by a slot, and the
    numbers in order."""
    return _VALUE_OUTSIDE_TAGS.sub(_SLOT, text), _VALUE_OUTSIDE_TAGS.findall(text)


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
        self._ops: list = []
        self._ops_for: tuple = ("", -1)
        self._templates: dict = {}
        self._template = ""
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
                paras = [self._pieces(runs) for runs in html_runs(template)]
                slots = sum(piece.count(_SLOT) for pieces in paras
                            for piece, key, _ in pieces if key is not None)
                entry = self._templates[template] = (paras, slots)
            paras, slots = entry
            if slots != len(values):   # a number no run shows (outside the paragraphs)
                paras, values = [self._pieces(runs) for runs in html_runs(text)], []
                template = text
            new_shape = template != self._template
            self._paras, self._values, self._template = paras, values, template
            if new_shape:   # only the numbers changed: the same lines, the same height
                self._fit_height()
            self.update()

    def _fit_height(self) -> None:
        """Ask for the height the lines take at this width (in a scroll area the last line
        is then reached, never cut); unchanged while only the numbers change."""
        fm0 = self._font(False, False, False)[1]
        ops = self._layout(self.width() - 8) if self.width() > 20 else []
        h = int(max((y for _, y, *_ in ops), default=0.0) + fm0.height() * 1.3 + 6)
        if abs(h - self.minimumHeight()) > 1:
            self.setMinimumHeight(h)

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

    def _layout(self, width: float) -> list:
        """Draw operations ``(x, y, piece, font key, colour)``: a cached rich QStaticText
        (top-left at x, y) or plain text (its baseline at y); a piece that does not fit
        starts a new, indented line, plain ones between their words.

        The places depend on the template, the width and the widths of the numbers only:
        planned once per such shape (numbers written with 0 for every digit, when the
        digits have one width), then only this step's words are put in."""
        values = self._values
        shape = tuple(v.translate(_ZEROS) for v in values) if self._tabular() else \
            tuple(values)
        key = (self._template, width, shape)
        filled, vals = [], iter(values)
        for pieces in self._paras:
            for piece, k, _ in pieces:
                if k is not None:
                    filled.append(piece if _SLOT not in piece else
                                  _SLOT_RE.sub(lambda _: next(vals, "?"), piece))
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 500:
                self._plans.clear()
            plan = self._plans[key] = self._plan(width, filled)
        return [(x, y, piece if i is None else filled[i][a:b], k, c)
                for x, y, piece, i, a, b, k, c in plan]

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
                if x + fm.horizontalAdvance(piece) > width and x > 4.0:
                    words = re.split(r"(?<= )", piece)
                a = 0
                for word in words:
                    w = fm.horizontalAdvance(word)
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
            self._ops = self._layout(self.width() - 8)
            self._ops_for = (self._text, self.width())
        cur_key, cur_color = 0, 0
        # only the lines in the exposed part (a scroll area shows a few of them): each
        # plain run is shaped anew when drawn (~12 us)
        r = ev.rect()
        top, bottom = r.top() - self._line_h, r.bottom() + self._line_h
        for x, y, piece, key, color in self._ops:
            if not top <= y <= bottom:
                continue
            if key != cur_key:
                p.setFont(self._font(*key)[0] if key else self.font())
                cur_key = key
            if color != cur_color:
                p.setPen(QtGui.QColor(color) if color else black)
                cur_color = color
            if key is None:
                p.drawStaticText(QtCore.QPointF(x, y), piece)
            elif _DIGIT.search(piece) is None:    # formula text, the same at every step
                if piece:
                    font, fm = self._font(*key)
                    p.drawStaticText(QtCore.QPointF(x, y - fm.ascent()),
                                     self._static(piece, key, font))
            else:
                p.drawText(QtCore.QPointF(x, y), piece)
        p.end()


def scrolling(widget: QtWidgets.QWidget) -> QtWidgets.QScrollArea:
    area = QtWidgets.QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(widget)
    return area


def guide_label() -> QtWidgets.QScrollArea:
    """The lesson text, word-wrapped, in a scroll area (long lessons are read, not cut)."""
    label = QtWidgets.QLabel()
    label.setObjectName("guide")
    label.setWordWrap(True)
    label.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
    label.setTextFormat(QtCore.Qt.TextFormat.RichText)
    label.setContentsMargins(6, 4, 6, 4)
    area = QtWidgets.QScrollArea()
    area.setObjectName("guideArea")
    area.setWidgetResizable(True)
    area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
    area.setWidget(label)
    return area


class Placeholder(QtWidgets.QWidget):
    """What a dock shows until its widget can be made (the window paints before PyTorch
    and pyqtgraph are loaded): the panels' white ground and one grey line of text. Its
    size hints are small, so the docks keep the sizes the layout gives them."""

    def __init__(self, text: str = "Loading PyTorch…", parent=None):
        super().__init__(parent)
        self._text = text
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        self._text = text
        self.update()

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(120, 60)

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(10, 10)

    def paintEvent(self, ev) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(ev.rect(), QtGui.QColor("white"))
        p.setPen(QtGui.QColor("#999"))
        p.drawText(self.rect().adjusted(8, 8, -8, -8),
                   int(QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextWordWrap),
                   self._text)
        p.end()
