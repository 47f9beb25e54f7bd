"""Small widgets shared by the window and the panels."""

from __future__ import annotations

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
