"""Small widgets shared by the window and the panels."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

_ELIDE_RIGHT = QtCore.Qt.TextElideMode.ElideRight   # read once (paint runs every step)


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
        self._elided: tuple = ("", -1, "")     # (text, width, the text cut to that width)
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

    @property
    def align(self):
        return self._alignment

    @align.setter
    def align(self, flags) -> None:
        self._alignment = flags
        self._align = int(flags)     # as paint passes it (an enum is read through Python)
        self.update()

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

    def changeEvent(self, ev) -> None:
        if ev.type() == QtCore.QEvent.Type.FontChange:
            self._elided = ("", -1, "")        # cut again in the new font
        super().changeEvent(ev)

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
            if self._elided[:2] != (self._text, r.width()):    # once per text and width
                self._elided = (self._text, r.width(), self.fontMetrics().elidedText(
                    self._text, _ELIDE_RIGHT, r.width()))
            p.drawText(r, self._align, self._elided[2])
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
        self._drawn: tuple | None = None      # what the last repaint asked for shows
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
        self._changed()

    def set_step(self, t: int) -> None:
        if t != self.t:
            self.t = t
            self._changed()

    def _changed(self) -> None:
        """Repaint if what the strip shows changed: the tokens around the step (a token
        typed far to the right of it changes nothing on screen)."""
        n = len(self.tokens)
        t = min(max(self.t, 0), n - 1)
        lo, hi = max(0, t - self.window), min(n, t + self.window + 1)
        drawn = (t, lo, hi < n, self.spaced, self._shown[lo:hi])
        if drawn != self._drawn:
            self._drawn = drawn
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
