"""The tasks of playground.data.more_tasks against plain-Python references: string reversal
over several lengths (padded sources) and tagging with the letter some steps ahead."""

import numpy as np
import pytest

from playground.data import TASKS, make_task
from playground.errors import FileFormatError, SequenceError


def reversal_reference(string: list[int], max_length: int, pad: int, start: int, end: int):
    """(src, tgt, targets, mask) of one string, written out by hand."""
    S = max(max_length, len(string))
    src = [pad] * (S - len(string)) + list(string)
    rev = list(reversed(string))
    return src, [start] + rev, rev + [end], [1.0] * (len(string) + 1)


def test_reverse_lengths_pads_sources_in_front_and_masks_the_tail():
    assert "reverse_lengths" in TASKS and "lookahead_tag" in TASKS
    ds = make_task("reverse_lengths", {"min_length": 2, "max_length": 7, "symbols": 4}, seed=3)
    assert ds.shape == "seq2seq" and ds.roles == ("src", "tgt")
    assert list(ds.vocab.symbols) == ["a", "b", "c", "d", "_", "<s>", "</s>"]
    assert ds.output_size == 7
    b = ds.sample(50, np.random.default_rng(0))
    seen = set()
    for i in range(b.size):
        src = b.inputs["src"][i].tolist()
        string = [s for s in src if s != ds.pad_id]
        seen.add(len(string))
        assert 2 <= len(string) <= 7 and all(0 <= s < 4 for s in string)
        r_src, r_tgt, r_y, r_mask = reversal_reference(string, 7, ds.pad_id, ds.start_id,
                                                       ds.end_id)
        assert src == r_src
        n = len(r_y)
        assert b.inputs["tgt"][i, :n].tolist() == r_tgt
        assert b.targets[i, :n].tolist() == r_y
        assert b.mask[i].tolist() == r_mask + [0.0] * (b.mask.shape[1] - n)
    assert len(seen) >= 5                                      # lengths really vary


def test_reverse_lengths_batches_of_one_length_and_typed_input():
    ds = make_task("reverse_lengths", {"min_length": 4, "max_length": 16}, seed=0)
    for L in (4, 8, 16):
        b = ds.at_length(L)
        assert b.size == ds.validation_size and b.mask.sum(1).tolist() == [L + 1] * b.size
        assert (b.inputs["src"][:, :16 - L] == ds.pad_id).all()
        assert (b.inputs["src"][:, 16 - L:] < 6).all()
        assert np.array_equal(b.targets[:, :L], b.inputs["src"][:, ::-1][:, :L])
        again = ds.at_length(L)
        assert np.array_equal(again.inputs["src"], b.inputs["src"])   # fixed
    typed = ds.encode_input("abc")
    src, tgt, y, mask = reversal_reference([0, 1, 2], 16, ds.pad_id, ds.start_id, ds.end_id)
    assert typed.inputs["src"][0].tolist() == src and typed.targets[0].tolist() == y
    # what the views show (padding included) reads back as the same source
    shown = ds.vocab.join(ds.vocab.decode(typed.inputs["src"][0]))
    assert ds.encode_input(shown).inputs["src"].tolist() == typed.inputs["src"].tolist()
    with pytest.raises(SequenceError, match="position 2"):
        ds.encode_input("a<s>")
    with pytest.raises(FileFormatError, match="params.min_length"):
        make_task("reverse_lengths", {"min_length": 9, "max_length": 5})


def tags_reference(letters: list[int], ahead: int, end: int) -> list[int]:
    return [letters[t + ahead] if t + ahead < len(letters) else end
            for t in range(len(letters))]


@pytest.mark.parametrize("ahead", [1, 2, 5])
def test_lookahead_tags_are_the_letters_ahead(ahead):
    ds = make_task("lookahead_tag", {"length": 9, "symbols": 3, "ahead": ahead}, seed=1)
    assert ds.shape == "many_to_many" and list(ds.classes.symbols) == ["a", "b", "c", "."]
    b = ds.sample(20, np.random.default_rng(ahead))
    assert b.inputs["x"].shape == (20, 9) and (b.mask == 1).all()
    for i in range(20):
        x = b.inputs["x"][i].tolist()
        assert b.targets[i].tolist() == tags_reference(x, ahead, ds.end_id)
    typed = ds.encode_input("abca")
    assert typed.targets[0].tolist() == tags_reference([0, 1, 2, 0], ahead, ds.end_id)
    assert ds.target_labels(typed)[-1] == "."
