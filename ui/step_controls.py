"""Step controls: the view of a :class:`playground.timeline.Timeline`.

First / previous / play-pause / next / last, a speed box, a scrubber over the steps and a
backward (BPTT) mode. Playback drops frames rather than falling behind: the next tick is
scheduled only after the last step has been handled (and drawn).
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from playground.timeline import BACKWARD, FORWARD, Timeline

from .widgets import LiveText, Scrubber


class TimelineView(QtWidgets.QWidget):
    """Buttons, scrubber and speed for a Timeline; listens to its events."""

    def __init__(self, timeline: Timeline, parent=None):
        super().__init__(parent)
        self.timeline = timeline
        # opaque: the scrubber moves at every step, and Qt then need not repaint the dock
        # and the window behind it
        self.setAutoFillBackground(True)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        style = self.style()
        SP = QtWidgets.QStyle.StandardPixmap

        def button(icon, tip, slot, name):
            b = QtWidgets.QToolButton()
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tip)
            b.setObjectName(name)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            lay.addWidget(b)
            return b

        self.first_btn = button(SP.SP_MediaSkipBackward, "First step (Home)", timeline.first,
                                "first")
        self.prev_btn = button(SP.SP_MediaSeekBackward, "Previous step (Left)", timeline.prev,
                               "prev")
        self.play_btn = button(SP.SP_MediaPlay, "Play / pause (Space)", timeline.toggle, "play")
        self.next_btn = button(SP.SP_MediaSeekForward, "Next step (Right)", timeline.next, "next")
        self.last_btn = button(SP.SP_MediaSkipForward, "Last step (End)", timeline.last, "last")
        self.back_btn = QtWidgets.QToolButton(text="◀ BPTT")
        self.back_btn.setCheckable(True)
        self.back_btn.setToolTip("Backward mode: walk the gradient from the last step to the "
                                 "first, as backpropagation through time does")
        self.back_btn.toggled.connect(self._on_back_toggled)
        lay.addWidget(self.back_btn)
        self.label = LiveText(align=QtCore.Qt.AlignmentFlag.AlignCenter)
        self.label.setFixedWidth(130)
        self.label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Fixed,
                                 QtWidgets.QSizePolicy.Policy.Fixed)
        f = self.label.font()
        f.setBold(True)
        self.label.setFont(f)
        lay.addWidget(self.label)
        self.slider = Scrubber()
        self.slider.setToolTip("Scrub through the time steps")
        self.slider.valueChanged.connect(self._on_slider)
        lay.addWidget(self.slider, 1)
        lay.addWidget(QtWidgets.QLabel("speed"))
        self.speed = QtWidgets.QDoubleSpinBox()
        self.speed.setRange(Timeline.MIN_SPEED, Timeline.MAX_SPEED)
        self.speed.setSuffix(" steps/s")
        self.speed.setDecimals(1)
        self.speed.setValue(timeline.speed)
        self.speed.valueChanged.connect(self._on_speed)
        lay.addWidget(self.speed)
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)
        ev = timeline.events
        ev.step.connect(self._on_step)
        ev.n_steps.connect(self._on_n)
        ev.playing.connect(self._on_playing)
        ev.speed.connect(self._on_speed_changed)
        ev.direction.connect(self._on_direction)
        self._on_n(timeline.n_steps)
        self._on_step(timeline.step)

    def add_layer_choice(self) -> LayerChoice:
        """A "layer" box at the end of the controls: which recurrent layer the panels show."""
        combo = LayerChoice()
        combo.setObjectName("layerChoice")
        combo.setToolTip("the recurrent layer the panels show (or click a node)")
        combo.setMinimumContentsLength(16)
        self.layout().addWidget(QtWidgets.QLabel("layer"))
        self.layout().addWidget(combo)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred,
                           QtWidgets.QSizePolicy.Policy.Fixed)
        return combo

    def install_shortcuts(self, window: QtWidgets.QWidget) -> None:
        """Left/Right, Space, Home/End on ``window`` (text fields keep their own keys)."""
        tl = self.timeline
        for key, fn in ((QtCore.Qt.Key.Key_Left, tl.prev), (QtCore.Qt.Key.Key_Right, tl.next),
                        (QtCore.Qt.Key.Key_Space, tl.toggle), (QtCore.Qt.Key.Key_Home, tl.first),
                        (QtCore.Qt.Key.Key_End, tl.last)):
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), window)
            sc.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(fn)

    def stop(self) -> None:
        self.timeline.pause()
        self._timer.stop()

    # -- timeline -> view -------------------------------------------------------------------
    def _on_step(self, t: int) -> None:
        self.label.setText(f"t = {t} / {self.timeline.n_steps - 1}")
        if self.slider.value() != t:
            self.slider.blockSignals(True)
            self.slider.setValue(t)
            self.slider.blockSignals(False)

    def _on_n(self, n: int) -> None:
        self.slider.setRange(0, n - 1)
        self.slider.setPageStep(max(1, n // 10))
        self._on_step(self.timeline.step)

    def _on_playing(self, on: bool) -> None:
        SP = QtWidgets.QStyle.StandardPixmap
        self.play_btn.setIcon(self.style().standardIcon(SP.SP_MediaPause if on
                                                        else SP.SP_MediaPlay))
        if on:
            self._timer.start(self.timeline.interval_ms())
        else:
            self._timer.stop()

    def _on_speed_changed(self, v: float) -> None:
        if abs(self.speed.value() - v) > 1e-9:
            self.speed.blockSignals(True)
            self.speed.setValue(v)
            self.speed.blockSignals(False)

    def _on_direction(self, d: str) -> None:
        self.back_btn.blockSignals(True)
        self.back_btn.setChecked(d == BACKWARD)
        self.back_btn.blockSignals(False)

    # -- view -> timeline -------------------------------------------------------------------
    def _on_slider(self, v: int) -> None:
        self.timeline.step = v

    def _on_speed(self, v: float) -> None:
        self.timeline.speed = v

    def _on_back_toggled(self, on: bool) -> None:
        if on:
            self.timeline.start_backward()
        else:
            self.timeline.direction = FORWARD
            self.timeline.pause()

    def _tick(self) -> None:
        if not self.timeline.playing:
            return
        self.timeline.advance()
        if self.timeline.playing:  # re-armed after this step is handled: frames drop, not pile
            self._timer.start(self.timeline.interval_ms())


class LayerChoice(QtWidgets.QComboBox):
    """Which recurrent layer (node, layer, direction[, call]) the panels show;
    ``chosen(sel)`` when the user picks another."""

    chosen = QtCore.Signal(tuple)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.currentIndexChanged.connect(self._picked)
        self._sel = None
        self._shown: tuple | None = None      # (choices, sel) last set

    def set_choices(self, choices, sel) -> None:
        """``choices``: (node, layer, direction[, call], label), the key then its label;
        ``sel`` the selected key. The same again changes nothing (and repaints nothing: a
        new trace of the same model names the same layers)."""
        shown = ([tuple(ch) for ch in choices], None if sel is None else tuple(sel))
        cur = self.currentData()
        if shown == self._shown and self.count() == len(choices) and \
                (None if cur is None else tuple(cur)) == shown[1]:
            return
        self._shown = shown
        self.blockSignals(True)
        self.clear()
        for ch in choices:
            self.addItem(ch[-1], tuple(ch[:-1]))
        self.setCurrentIndex(next((i for i, ch in enumerate(choices)
                                   if sel and tuple(ch[:-1]) == tuple(sel)), -1))
        self.setEnabled(bool(choices))
        self._sel = None if sel is None else tuple(sel)
        self.blockSignals(False)

    def _picked(self, idx: int) -> None:
        data = self.itemData(idx)
        if data is not None and tuple(data) != self._sel:
            self._sel = tuple(data)
            self.chosen.emit(tuple(data))
