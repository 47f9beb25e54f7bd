"""Fuzzed experiment files (issue 15, item 1): variants of the bundled presets, loaded,
validated, built and trained one step, fail only with the core's typed errors and in
seconds, never with an untyped exception, a hang or a huge allocation."""

from __future__ import annotations

import json
import random
import time

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from playground.errors import PlaygroundError
from playground.files.experiment import PRESETS_DIR, load

PRESETS = sorted(p.name for p in PRESETS_DIR.glob("*.json"))
SECONDS = 15.0   # a guard against a hang on a loaded machine, not a measure of speed

# Values an adversary puts where a preset has a number, a string or an object.
HOSTILE = [10 ** 400, -10 ** 400, 10 ** 30, 2 ** 63, 2 ** 31, 10 ** 8, 100_000, -1, 0, 0.5,
           1e308, -1e308, float("nan"), float("inf"), True, None, "", "x" * 5000, "lstm",
           [], {}, [1, 2], {"a": 1}, [[[[[]]]]], 65536, 4096 * 4096]


def _leaves(obj, path=()):
    """Every (path, value) in a JSON tree, containers included."""
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))


def _set(obj, path, value):
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def _delete(obj, path):
    for k in path[:-1]:
        obj = obj[k]
    del obj[path[-1]]


def mutate(data: dict, rng: random.Random, n: int) -> dict:
    """``n`` random edits: a leaf replaced by a hostile value or by another leaf's value,
    a key removed, a node repeated."""
    data = json.loads(json.dumps(data))
    for _ in range(n):
        leaves = [p for p, _ in _leaves(data) if p]
        path = rng.choice(leaves)
        r = rng.random()
        if r < 0.6:
            _set(data, path, rng.choice(HOSTILE))
        elif r < 0.75:
            _set(data, path, json.loads(json.dumps(dict(_leaves(data))[rng.choice(leaves)])))
        elif r < 0.9:
            _delete(data, path)
        elif isinstance(data.get("graph"), dict) and isinstance(data["graph"].get("nodes"), list) \
                and data["graph"]["nodes"]:
            data["graph"]["nodes"].append(json.loads(json.dumps(rng.choice(
                data["graph"]["nodes"]))))
    return data


def run_pipeline(path) -> None:
    """What opening and training an experiment does: load, dataset, build, one step."""
    from playground.train import Trainer

    exp = load(path, weights=False)
    dataset = exp.make_dataset()
    model = exp.build_model()
    Trainer(model, dataset, exp.train).train_step()


def check_file(path) -> None:
    t0 = time.perf_counter()
    try:
        run_pipeline(path)
    except PlaygroundError as e:
        assert str(e).strip(), "a typed error with no message"
    took = time.perf_counter() - t0
    assert took < SECONDS, f"{took:.1f} s"


@seed(15)
@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(PRESETS), edits=st.integers(1, 3), rnd=st.integers(0, 2 ** 32 - 1))
def test_fuzzed_presets_fail_only_with_typed_errors(tmp_path, name, edits, rnd):
    data = json.loads((PRESETS_DIR / name).read_text())
    bad = mutate(data, random.Random(rnd), edits)
    path = tmp_path / "fuzzed.json"
    path.write_text(json.dumps(bad, allow_nan=True))
    check_file(path)


@pytest.mark.parametrize("text, says", [
    ("[" * 100_000 + "]" * 100_000, "nested"),               # RecursionError in json
    ('{"version": ' + "9" * 5000 + "}", "digits"),           # int over 4,300 digits
    ('{"version": 1, "name": "x", "lr": ' + "1" + "0" * 400 + "}", "too large"),
], ids=["deep", "digits", "huge"])
def test_structure_attacks_are_named(tmp_path, text, says):
    path = tmp_path / "attack.json"
    path.write_text(text)
    with pytest.raises(PlaygroundError) as e:
        load(path)
    assert says in str(e.value) and "attack.json" in str(e.value)


def _preset(name):
    return json.loads((PRESETS_DIR / f"{name}.json").read_text())


@pytest.mark.parametrize("where, value, says", [
    (("train", "lr"), 10 ** 400, "train.lr"),
    (("train", "batch_size"), 10 ** 8, "train.batch_size"),
    (("train", "batch_size"), 2 ** 40, "train.batch_size"),
    (("seed",), 10 ** 400, "seed"),
], ids=["lr", "batch-1e8", "batch-2^40", "seed"])
def test_huge_numbers_name_their_field(tmp_path, where, value, says):
    data = _preset("hello_rnn")
    _set(data, where, value)
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlaygroundError) as e:
        run_pipeline(path)
    assert says in str(e.value)


def test_a_node_position_too_large_for_a_float_is_named(tmp_path):
    data = _preset("hello_rnn")
    node = data["graph"]["nodes"][0]
    node["pos"] = [10 ** 400, 0]
    path = tmp_path / "pos.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlaygroundError) as e:
        run_pipeline(path)
    assert "graph.nodes" in str(e.value)


def test_many_nodes_are_refused_quickly(tmp_path):
    data = _preset("hello_rnn")
    nodes = data["graph"]["nodes"]
    extra = [dict(json.loads(json.dumps(nodes[1])), id=f"n{i}") for i in range(20_000)]
    data["graph"]["nodes"] = nodes + extra
    path = tmp_path / "many.json"
    path.write_text(json.dumps(data))
    t0 = time.perf_counter()
    with pytest.raises(PlaygroundError) as e:
        run_pipeline(path)
    assert time.perf_counter() - t0 < SECONDS
    assert "nodes" in str(e.value)


def test_a_model_too_big_for_memory_is_refused_before_it_is_built(tmp_path):
    data = _preset("hello_rnn")
    for node in data["graph"]["nodes"]:
        if node.get("kind") in ("rnn", "lstm", "gru"):
            node.setdefault("params", {}).update(hidden_size=8192, num_layers=16)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlaygroundError) as e:
        run_pipeline(path)
    assert "memory" in str(e.value)

