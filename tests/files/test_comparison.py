"""Comparison files: round trip, bundled ones, and one-line errors naming what is wrong
(a missing member, members that cannot share one input, a bad field)."""

from __future__ import annotations

import errno
import json
import os
import shutil

import pytest

from playground.errors import FileAccessError, FileFormatError
from playground.files import comparison as C
from playground.files import experiment


def write(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def base(**changes) -> dict:
    d = {"format": C.FORMAT, "version": 1, "name": "pair", "description": "d",
         "members": [{"file": "adding_rnn", "weights": "trained", "label": "RNN"},
                     {"file": "adding_lstm", "weights": "untrained", "label": "LSTM"}]}
    d.update(changes)
    return d


def test_a_comparison_round_trips_to_the_same_bytes(tmp_path):
    comp = C.load(write(tmp_path / "a.comparison.json", base(input=None) | {"input": "x"}))
    out = comp.save(tmp_path / "b.comparison.json")
    again = C.load(out)
    assert again == comp and again.to_dict() == base(input="x")
    assert out.read_text() == again.to_json()
    assert C.is_comparison(out)
    assert not C.is_comparison(experiment.resolve("adding_rnn"))


def test_bundled_comparisons_load_share_an_input_and_are_no_experiment_presets():
    names = C.preset_names()
    assert {"rnn_vs_lstm_adding", "init_orthogonal_vs_normal"} <= set(names)
    for n in names:
        comp = C.load(C.resolve(n))
        exps = C.load_members(comp)
        datasets = [e.make_dataset() for e in exps]
        C.check_members(comp, datasets)
        batch = C.shared_batch(comp, datasets)
        assert batch.size == 1
    assert not any(n in experiment.preset_names() for n in names)
    assert all(not C.is_comparison(experiment.resolve(n)) for n in experiment.preset_names())


def test_a_missing_member_is_named_in_one_line(tmp_path):
    d = base()
    d["members"][1] = {"file": "nowhere/lost.json", "label": "lost"}
    comp = C.load(write(tmp_path / "c.comparison.json", d))
    with pytest.raises(FileFormatError) as e:
        C.load_members(comp)
    msg = str(e.value)
    assert "\n" not in msg and "members[1]" in msg and "lost" in msg and "c.comparison" in msg


def test_members_whose_inputs_do_not_fit_one_input_are_named(tmp_path):
    d = base()
    d["members"] += [{"file": "hello_rnn", "label": "hello"}]
    comp = C.load(write(tmp_path / "c.comparison.json", d))
    datasets = [e.make_dataset() for e in C.load_members(comp)]
    with pytest.raises(FileFormatError) as e:
        C.check_members(comp, datasets)
    msg = str(e.value)
    assert "\n" not in msg and "one shared input" in msg and "hello" in msg
    assert "LSTM" not in msg.split("than")[0]


def test_member_paths_are_read_beside_the_comparison_file(tmp_path):
    shutil.copy(experiment.resolve("adding_rnn"), tmp_path / "mine.json")
    d = base()
    d["members"][0] = {"file": "mine.json", "label": "mine"}
    comp = C.load(write(tmp_path / "c.comparison.json", d))
    assert comp.member_path(0) == tmp_path / "mine.json"
    assert C.load_members(comp)[0].path == tmp_path / "mine.json"


@pytest.mark.parametrize("change, field", [
    ({"format": "other"}, "format"),
    ({"version": 9}, "version"),
    ({"members": [{"file": "adding_rnn"}]}, "members"),
    ({"members": [{"file": "adding_rnn"}, {"file": "adding_lstm", "weights": "half"}]},
     "members[1].weights"),
    ({"members": [{"file": "adding_rnn"}, {"nofile": 1}]}, "members[1].nofile"),
    ({"extra": 1}, "extra"),
    ({"name": ""}, "name"),
])
def test_bad_fields_are_one_line_naming_the_field(tmp_path, change, field):
    with pytest.raises(FileFormatError) as e:
        C.load(write(tmp_path / "bad.comparison.json", base(**change)))
    assert e.value.path == field and "\n" not in str(e.value)
    assert "bad.comparison.json" in str(e.value)


def test_from_names_labels_by_file_and_checks_the_count():
    comp = C.from_names(["adding_rnn", "adding_lstm"])
    assert [m.label for m in comp.members] == ["adding_rnn", "adding_lstm"]
    with pytest.raises(FileFormatError):
        C.from_names(["adding_rnn"])


@pytest.mark.parametrize("exc, words", [
    (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
    (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
    (MemoryError(), "not enough memory"),
])
def test_a_failed_save_is_typed_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch,
                                                                      exc, words):
    path = tmp_path / "pair.comparison.json"
    comp = C.load(write(path, base()))
    before = path.read_bytes()
    comp.name = "renamed"

    def fail(*a, **k):
        raise exc

    monkeypatch.setattr(os, "replace", fail)   # the temporary is written, the move fails
    with pytest.raises(FileAccessError) as e:
        comp.save()
    monkeypatch.undo()
    msg = str(e.value)
    assert isinstance(e.value, OSError) and "\n" not in msg
    assert str(path) in msg and "cannot save it" in msg and words in msg
    assert path.read_bytes() == before                       # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]   # no temporary


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes into a read-only folder")
def test_saving_into_a_read_only_folder_is_said(tmp_path):
    comp = C.from_names(["adding_rnn", "adding_lstm"])
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(FileAccessError) as e:
            C.save(comp, tmp_path / "x.comparison.json")
        assert "permission denied" in str(e.value) and "x.comparison.json" in str(e.value)
    finally:
        tmp_path.chmod(0o700)
    assert list(tmp_path.iterdir()) == []


def test_saving_elsewhere_keeps_members_read_beside_the_old_file(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(experiment.resolve("adding_rnn"), tmp_path / "a" / "mine.json")
    d = base()
    d["members"][0] = {"file": "mine.json", "label": "mine"}
    comp = C.load(write(tmp_path / "a" / "c.comparison.json", d))
    out = comp.save(tmp_path / "b" / "c.comparison.json")
    again = C.load(out)
    assert again.members[0].file == "../a/mine.json" and again.members[1].file == "adding_lstm"
    assert again.member_path(0).resolve() == (tmp_path / "a" / "mine.json").resolve()
    assert [m.label for m in again.members] == ["mine", "LSTM"]
