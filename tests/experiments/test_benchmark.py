"""nextrl.experiments.benchmark (records, JSON lines, machine facts, timing) and the bench modules and the
`nextrl bench` command on top of it, on tiny sizes."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import pytest

from nextrl.experiments import benchmark
from nextrl.experiments.benchmark import SCHEMA, BenchResult

MACHINE_KEYS = {"cpu", "cores", "usable_cores", "nextrl", "simd", "compiler", "threads", "loadavg_1m"}


def _strict_json(line: str) -> dict:
    """json.loads that refuses NaN / Infinity, which are not JSON."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(line, parse_constant=refuse)


def _check_record(d: dict) -> None:
    assert tuple(d) == SCHEMA
    assert isinstance(d["bench"], str) and isinstance(d["case"], str) and isinstance(d["peer"], str)
    assert d["ours_s"] > 0
    if d["peer"] == benchmark.NO_PEER:
        assert d["peer_s"] is None and d["ratio"] is None
    elif d["peer_s"] is not None:
        assert d["ratio"] == pytest.approx(d["peer_s"] / d["ours_s"], rel=1e-12)
    assert MACHINE_KEYS <= set(d["machine"])


class FakeClock:
    """A clock read in pairs (start, stop): each stop reads the start plus the next of `durations`."""

    def __init__(self, durations):
        self.durations = iter(durations)
        self.now = 0.0
        self.started = False

    def __call__(self) -> float:
        if self.started:
            self.now += next(self.durations)
        self.started = not self.started
        return self.now


# ----------------------------------------------------------------------------------------- records
def test_record_has_the_architecture_schema_and_ratio():
    r = benchmark.result("layered", "fused", 2e-3, "qiskit-aer", 1e-2, n=20, stat="median")
    d = r.to_dict()
    _check_record(d)
    assert d["ratio"] == pytest.approx(5.0)
    assert d["extra"] == {"n": 20, "stat": "median"}
    assert _strict_json(r.to_json()) == d


def test_record_without_peer_writes_null_not_nan():
    r = benchmark.result("grid", "nextrl/GridWorld-v0", 1e-8, num_envs=16, rate=float("inf"))
    assert r.peer == benchmark.NO_PEER and math.isnan(r.ratio)
    d = _strict_json(r.to_json())
    _check_record(d)
    assert d["extra"]["rate"] is None


def test_ratio_is_nan_for_a_missing_peer_time_or_a_zero_time():
    assert math.isnan(BenchResult("b", "c", 1.0, "peer", float("nan"), {}).ratio)
    assert math.isnan(BenchResult("b", "c", 0.0, "peer", 1.0, {}).ratio)
    assert BenchResult("b", "c", 2.0, "peer", 1.0, {}).ratio == 0.5


@pytest.mark.parametrize("ours_s", [0.0, -1.0, float("nan"), "1", None])
def test_result_refuses_a_non_positive_time(ours_s):
    with pytest.raises(ValueError, match=r"result: ours_s must be a positive number of seconds, got"):
        benchmark.result("b", "c", ours_s)


@pytest.mark.parametrize("peer_s", [0.0, -1.0, "2", None])
def test_result_refuses_a_bad_peer_time(peer_s):
    with pytest.raises(ValueError, match=r"result: peer_s must be a positive number of seconds or NaN, got"):
        benchmark.result("b", "c", 1.0, "peer", peer_s)


def test_result_takes_a_given_machine():
    r = benchmark.result("b", "c", 1.0, "peer", float("nan"), machine={"cpu": "x"})
    assert r.machine == {"cpu": "x"} and math.isnan(r.ratio)


def test_write_and_read_jsonl_append_with_stamp(tmp_path):
    path = tmp_path / "out.jsonl"
    rows = [benchmark.result("b", f"c{i}", 1.0 + i, "peer", 2.0, n=i) for i in range(3)]
    assert benchmark.write_jsonl(path, rows[:2], commit="abc", date="2026-12-04") == 2
    assert benchmark.write_jsonl(path, rows[2:], commit=None, load=float("nan")) == 1
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    records = [_strict_json(line) for line in lines]
    assert records == benchmark.read_jsonl(path)
    for rec in records:
        _check_record(rec)
    assert records[0]["extra"] == {"n": 0, "commit": "abc", "date": "2026-12-04"}
    assert records[2]["extra"] == {"n": 2, "commit": None, "load": None}


def test_save_results_keeps_every_run(tmp_path, monkeypatch):
    """Without --out a bench script's results go to a new dated runs/<name>-<time>.jsonl (created with its
    folder); with one they are appended to it."""
    monkeypatch.chdir(tmp_path)
    rows = [benchmark.result("b", f"c{i}", 1.0 + i, "peer", 2.0) for i in range(2)]
    path = benchmark.save_results(None, "envs", rows, commit="abc")
    assert path.parent == Path("runs") and re.fullmatch(r"envs-\d{8}-\d{6}\.jsonl", path.name), path
    assert [r["case"] for r in benchmark.read_jsonl(tmp_path / path)] == ["c0", "c1"]
    given = tmp_path / "deep" / "given.jsonl"
    assert benchmark.save_results(given, "envs", rows[:1]) == given
    assert benchmark.save_results(str(given), "envs", rows[1:]) == given
    assert [r["case"] for r in benchmark.read_jsonl(given)] == ["c0", "c1"]


# ----------------------------------------------------------------------------------------- machine
def test_machine_info_names_the_machine_and_its_load():
    import nextrl

    m = benchmark.machine_info()
    assert set(m) == MACHINE_KEYS
    assert m["cores"] >= 1 and 1 <= m["usable_cores"] <= m["cores"]
    assert m["nextrl"] == nextrl.__version__ and m["simd"] == nextrl.build_info()["simd"]
    assert m["threads"] == nextrl.get_num_threads()
    assert m["loadavg_1m"] >= 0 or math.isnan(m["loadavg_1m"])
    assert json.dumps(m)


def test_versions_and_commit(tmp_path):
    import numpy as np

    assert benchmark.version("numpy") == np.__version__
    assert benchmark.version("no-such-distribution-nextrl") is None
    assert benchmark.git_commit(tmp_path) is None  # not a checkout
    assert set(benchmark.stamp()) == {"commit", "date"}


# ----------------------------------------------------------------------------------------- timing
def test_reduce_times():
    assert benchmark.reduce_times([3.0, 1.0, 2.0]) == 2.0
    assert benchmark.reduce_times([3.0, 1.0, 2.0], "min") == 1.0
    with pytest.raises(ValueError, match=r"reduce_times: stat must be one of median, min, got 'mean'"):
        benchmark.reduce_times([1.0], "mean")
    with pytest.raises(ValueError, match=r"reduce_times: times must not be empty"):
        benchmark.reduce_times([])


def test_time_once_runs_setup_untimed_and_syncs_around_the_run():
    calls = []
    clock = FakeClock([0.5])
    t = benchmark.time_once(
        lambda: calls.append("run"), setup=lambda: calls.append("setup"), sync=lambda: calls.append("sync"), clock=clock
    )
    assert t == 0.5
    assert calls == ["setup", "sync", "run", "sync"]


def test_interleaved_is_round_robin_after_warmups():
    calls = []
    contenders = {name: (lambda name=name: calls.append(name)) for name in ("ours", "peer")}
    messages = []
    times = benchmark.interleaved(
        contenders,
        3,
        warmup=2,
        setup={"peer": lambda: calls.append("setup")},
        before_each=lambda: calls.append("gc"),
        progress=messages.append,
        label="case",
    )
    warm = ["ours", "ours", "setup", "peer", "setup", "peer"]
    rounds = ["gc", "ours", "gc", "setup", "peer"] * 3
    assert calls == warm + rounds
    assert {k: len(v) for k, v in times.items()} == {"ours": 3, "peer": 3}
    assert messages == ["case: round 1/3", "case: round 2/3", "case: round 3/3"]


def test_interleaved_times_with_the_given_clock():
    clock = FakeClock(itertools.count(1))  # 1, 2, 3, ... seconds per call, warm-ups included
    times = benchmark.interleaved({"a": lambda: None, "b": lambda: None}, 2, warmup=1, clock=clock)
    assert times == {"a": [3, 5], "b": [4, 6]}


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"rounds": 0}, r"interleaved: rounds must be an int >= 1, got 0"),
        ({"rounds": 1.5}, r"interleaved: rounds must be an int >= 1, got 1.5"),
        ({"rounds": 1, "warmup": -1}, r"interleaved: warmup must be an int >= 0, got -1"),
    ],
)
def test_interleaved_refuses_bad_counts(kw, message):
    with pytest.raises(ValueError, match=message):
        benchmark.interleaved({"a": lambda: None}, **kw)


def test_interleaved_refuses_no_contenders_and_unknown_setups():
    with pytest.raises(ValueError, match=r"interleaved: contenders must not be empty"):
        benchmark.interleaved({}, 1)
    with pytest.raises(ValueError, match=r"interleaved: setup names unknown contenders \['b'\]; known: \['a'\]"):
        benchmark.interleaved({"a": lambda: None}, 1, setup={"b": lambda: None})


def test_measure_median_and_best_of():
    assert benchmark.measure(lambda: None, 3, warmup=1, clock=FakeClock([9, 5, 1, 3])) == 3
    assert benchmark.measure(lambda: None, 3, warmup=1, stat="min", clock=FakeClock([9, 5, 1, 3])) == 1


def test_measure_checks_stat_before_running():
    calls = []
    with pytest.raises(ValueError, match=r"reduce_times: stat must be one of median, min, got 'max'"):
        benchmark.measure(lambda: calls.append(1), 3, stat="max")
    assert calls == []


def test_per_call_counts_calls():
    calls = []
    t = benchmark.per_call(lambda: calls.append(1), 7, warmup=3)
    assert len(calls) == 10 and t >= 0
    with pytest.raises(ValueError, match=r"per_call: calls must be an int >= 1, got 0"):
        benchmark.per_call(lambda: None, 0)


def test_format_time_and_ratio():
    assert benchmark.format_time(2.5) == "2.500 s"
    assert benchmark.format_time(2.5e-3) == "2.50 ms"
    assert benchmark.format_time(2.5e-6) == "2.50 us"
    assert benchmark.format_time(float("nan")) == benchmark.format_time(None) == "-"
    assert benchmark.format_ratio(3.14159) == "3.14x"
    assert benchmark.format_ratio(float("nan")) == "-"


# ----------------------------------------------------------------------------------------- bench modules
def _check_results(results, bench: str) -> None:
    assert results
    for r in results:
        assert isinstance(r, BenchResult) and r.bench == bench
        _check_record(_strict_json(r.to_json()))


def test_envs_bench_records():
    from nextrl.experiments import envs_bench as eb

    grid = eb.bench_grid((16,), rounds=1, ids=("nextrl/GridWorld-v0",), budget=320)
    _check_results(grid, "grid")
    assert grid[0].extra["num_envs"] == 16 and grid[0].extra["steps_per_s"] == pytest.approx(1 / grid[0].ours_s)
    lake = eb.bench_frozenlake((16,), rounds=1, peers=("gymnasium-sync",), budget=320)
    _check_results(lake, "frozenlake")
    assert lake[0].peer == "gymnasium-sync"
    assert lake[0].ratio == pytest.approx(lake[0].extra["steps_per_s"] / lake[0].extra["peer_steps_per_s"])
    _check_results(eb.bench_cartpole((16,), rounds=1, budget=320), "cartpole")
    _check_results(eb.bench_dataset(2000, num_envs=16, rounds=1), "dataset")


def test_envs_bench_refuses_unknown_peer():
    from nextrl.experiments import envs_bench as eb

    with pytest.raises(ValueError, match=r"bench_frozenlake: unknown peer 'gym'; known: gymnasium-sync, envpool"):
        eb.bench_frozenlake((16,), rounds=1, peers=("gym",))


def test_statevector_bench_records():
    from nextrl.experiments import statevector_bench as sb

    cfg = sb.BenchConfig(threads=1, repeats=1, small_calls=2, small_gates=20, gates_1q=2)
    layered = sb.bench_layered((6,), cfg, peers=("qiskit-aer",))
    _check_results(layered, "layered")
    assert {(r.case, r.peer) for r in layered} == {("fused", "nextrl-unfused"), ("fused", "qiskit-aer")}
    assert all(r.extra["n"] == 6 and r.machine["threads"] == 1 for r in layered)
    _check_results(sb.bench_small((4,), cfg, peers=("qiskit-aer",)), "small")
    _check_results(sb.bench_gate_1q((8,), cfg), "gate_1q")
    _check_results(sb.tune_fusion((8,), cfg, fusion_values=(4,)), "tune")
    with pytest.raises(ValueError, match=r"bench_layered: unknown peer 'aer'; known: qiskit-aer, qulacs"):
        sb.bench_layered((6,), cfg, peers=("aer",))


def test_vqc_bench_records():
    from nextrl.experiments import vqc_bench as vb

    cfg = vb.VQCConfig(batch=8, layers=1, repeats=1, latency_calls=4)
    throughput = vb.bench_throughput((4,), cfg)
    _check_results(throughput, "throughput")
    assert [r.peer for r in throughput] == ["goal 2e+05/s/core", "goal 6e+04/s/core"]
    _check_results(vb.bench_aer((4,), cfg), "aer")
    latency = vb.bench_latency((4,), cfg, pennylane=False)
    _check_results(latency, "latency")
    assert latency[-1].peer == benchmark.NO_PEER


def test_nextrl_bench_envs_table_and_json_lines(tmp_path, monkeypatch, capsys):
    """`nextrl bench --suite envs` on the shared records (the sizes shrunk to seconds)."""
    from nextrl.cli import main
    from nextrl.experiments import envs_bench as eb

    real_lake, real_cartpole = eb.bench_frozenlake, eb.bench_cartpole
    monkeypatch.setattr(
        eb,
        "bench_frozenlake",
        lambda sizes, **kw: real_lake((16,), **kw | {"peers": ["gymnasium-sync"], "budget": 320}),
    )
    monkeypatch.setattr(eb, "bench_cartpole", lambda sizes, **kw: real_cartpole((16,), **kw, budget=320))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the command sets it; monkeypatch puts it back
    monkeypatch.setenv("COLUMNS", "80")
    out = tmp_path / "bench.jsonl"
    assert main(["bench", "--suite", "envs", "--threads", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "FrozenLake 4x4" in text and "CartPole" in text and "Gym sync" in text
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    records = [_strict_json(line) for line in out.read_text().splitlines()]
    assert [r["bench"] for r in records][:2] == ["frozenlake", "cartpole"]
    for r in records:
        _check_record(r)
        assert {"commit", "date", "num_envs", "threads"} <= set(r["extra"])


def test_nextrl_bench_quantum_table_and_json_lines(tmp_path, monkeypatch, capsys):
    """`nextrl bench --suite quantum` on the shared records (every measurement shrunk to a tiny size)."""
    from dataclasses import replace

    from nextrl.cli import main
    from nextrl.experiments import statevector_bench as sb
    from nextrl.experiments import vqc_bench as vb

    real = {name: getattr(sb, name) for name in ("bench_layered", "bench_small")}
    real |= {name: getattr(vb, name) for name in ("bench_aer", "bench_latency", "bench_pennylane")}
    monkeypatch.setattr(
        sb, "bench_layered", lambda q, cfg, **kw: real["bench_layered"]((6,), replace(cfg, repeats=1), **kw)
    )
    monkeypatch.setattr(
        sb,
        "bench_small",
        lambda q, cfg, **kw: real["bench_small"]((4,), replace(cfg, repeats=1, small_calls=2, small_gates=10), **kw),
    )
    tiny = {"batch": 8, "layers": 1, "repeats": 1, "latency_calls": 4}
    for name in ("bench_aer", "bench_latency", "bench_pennylane"):
        monkeypatch.setattr(vb, name, lambda q, cfg, name=name, **kw: real[name](q, replace(cfg, **tiny), **kw))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("COLUMNS", "80")
    out = tmp_path / "bench.jsonl"
    assert main(["bench", "--suite", "quantum", "--threads", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    simulators, ablation = text.split("\nSimulators:")[1], text.split("\nAblation:")[1]
    sim_lines = simulators.split("Ablation:")[0].splitlines()
    assert "Aer" in simulators and not any(" unfused " in x.replace("layered unfused", "") for x in sim_lines)
    assert "goal" in ablation and "SK-4 B=1 fwd" in ablation and "unfused" in ablation
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    records = [_strict_json(line) for line in out.read_text().splitlines()]
    assert {r["bench"] for r in records} >= {"layered", "small", "aer", "latency"}
    for r in records:
        _check_record(r)
        assert r["extra"]["n"] in (4, 6)


# ----------------------------------------------------------------------------------------- bench output
def _fake_results() -> list[BenchResult]:
    """One record of every kind `nextrl bench` (with --full) prints, with the longest names and numbers."""
    m = {"threads": 2, "loadavg_1m": 1.0}
    rows = []

    def add(bench, case, ours, peer=benchmark.NO_PEER, peer_s=float("nan"), **extra):
        rows.append(benchmark.result(bench, case, ours, peer, peer_s, machine=m, **extra))

    for n in (16, 26):
        add("layered", "fused", 1.229, "nextrl-unfused", 5.12, n=n)
        add("layered", "fused", 1.229, "qiskit-aer", 7.168, n=n)
        add("layered", "unfused", 5.12, "qulacs", 6.144, n=n)
    for case in ("new-state", "reset"):
        add("small", case, 44e-6, "qiskit-aer", 1.4e-3, n=12)
        add("small", case, 144e-6, "qulacs", 59e-6, n=4)
    add("gate_1q", "ry q=25", 0.021, "copy-floor", 0.02, n=26)
    add("aer", "forward", 8.1e-7, "qiskit-aer-estimatorv2", 7.8e-4, n=4, circuit="SK-4", batch=1024)
    add("pennylane", "forward+backward", 1.5e-6, "pennylane-default.qubit-backprop", 3.5e-5, n=4, circuit="SK-4")
    add("pennylane", "forward+backward", 1.5e-6, "pennylane-lightning.qubit-adjoint", 2.2e-3, n=12, circuit="SK-12")
    add("pennylane", "forward", 8.1e-7, "pennylane-default.qubit", 1.5e-5, n=4, circuit="SK-4")
    add("latency", "forward", 4.4e-5, "goal 30 us", 3e-5, n=4, circuit="SK-4")
    add("latency", "forward (no_grad)", 1.46e-5, "goal 30 us", 3e-5, n=4, circuit="SK-4")
    add("throughput", "vjp", 1.8e-6, "goal 6e+04/s/core", 1.6e-5, n=4, circuit="SK-4")
    for peer, peer_s in (("gymnasium-sync", 1.1e-5), ("envpool", 9e-7)):
        add("frozenlake", "FrozenLake 4x4 slippery", 7e-9, peer, peer_s, num_envs=65536, threads=1,
            steps_per_s=1 / 7e-9, peer_steps_per_s=1 / peer_s)  # fmt: skip
    add("cartpole", "CartPole-v1", 1e-8, "gymnasium-numpy", 1.1e-7, num_envs=4096, threads=2, steps_per_s=1e8,
        peer_steps_per_s=9e6)  # fmt: skip
    return rows


def test_summary_tables_fit_80_columns_and_cut_no_name():
    tables = benchmark.summary_tables(_fake_results())
    assert [t.splitlines()[0].split(":")[0] for t in tables] == ["Simulators", "Vector envs", "Ablation"]
    for table in tables:
        lines = table.splitlines()
        assert max(map(len, lines)) <= 80, table
        assert "…" not in table and "..." not in table
    text = "\n".join(tables)
    for name in ("Aer Estimator", "PennyLane", "PL lightning", "qulacs", "Gym sync", "EnvPool", "Gym NumPy",
                 "FrozenLake 4x4", "CartPole", "small, new state", "SK-4 fwd+bwd", "SK-4 B=1 no_grad", "copy floor",
                 "1q gate q=25"):  # fmt: skip
        assert name in text, name


def test_summary_tables_mark_units_and_keep_self_comparisons_apart():
    simulators, envs, ablation = benchmark.summary_tables(_fake_results())

    def rows(table):
        return table.splitlines()[
            table.splitlines().index(next(x for x in table.splitlines() if x.startswith("-"))) + 1 :
        ]

    sim_rows, abl_rows = rows(simulators), rows(ablation)
    assert len(sim_rows) == 12 and len(abl_rows) == 6 and len(rows(envs)) == 3
    # per-sample rows say so; circuits per circuit, B = 1 per call, the 1-qubit gate per gate
    assert all(" sample " in r for r in sim_rows if r.startswith("SK-"))
    assert all(" circuit " in r for r in sim_rows if r.startswith(("layered", "small")))
    assert all(" call " in r for r in abl_rows if "B=1" in r) and " gate " in abl_rows[2]
    # nextrl against itself or a goal only in the ablation table, never beside the other libraries
    assert not any(" unfused " in r.replace("layered unfused", "") or " goal " in r for r in sim_rows)
    assert sum(" unfused " in r for r in abl_rows) == 2 and sum(" goal " in r for r in abl_rows) == 3
    assert "speed-up" in simulators.splitlines()[2] and "nextrl /s" in envs
    assert "1571x" in envs and "0.41x" in simulators  # qulacs 59 us against nextrl 144 us


def test_text_table_aligns_and_refuses_a_bad_alignment():
    table = benchmark.text_table("t", ["a", "bb"], [["x", 1], ["yyy", 22]], align="lr")
    assert table.splitlines() == ["t", "a    bb", "---  --", "x     1", "yyy  22"]
    with pytest.raises(ValueError, match=r"text_table: align must be one 'l' or 'r' per column, got 'l'"):
        benchmark.text_table("t", ["a", "b"], [], align="l")


def test_format_speedup_and_rate():
    assert [benchmark.format_speedup(r) for r in (0.4123, 12.34, 1467.2)] == ["0.41x", "12.3x", "1467x"]
    assert benchmark.format_speedup(float("nan")) == benchmark.format_rate(None) == "-"
    assert benchmark.format_rate(1.43e8) == "1.43e+08"


@pytest.mark.parametrize(
    ("load", "cores", "threads", "own", "busy"),
    [
        (0.3, 2, 2, 0, False),  # an idle 2-core machine
        (0.8, 2, 2, 0, True),  # others keep most of a core busy while the run wants both
        (1.2, 2, 1, 0, False),  # one core free for the one thread
        (1.8, 2, 1, 0, True),
        (2.4, 2, 2, 2, False),  # during the run: its own 2 threads taken off
        (3.1, 2, 2, 2, True),
        (10.0, 64, 2, 0, False),  # a big machine has room
        (float("nan"), 2, 2, 0, False),  # no load average on this OS
    ],
)
def test_load_warning(load, cores, threads, own, busy):
    warning = benchmark.load_warning(load, cores, threads, own=own)
    assert (warning is not None) == busy
    if busy:
        assert warning.startswith("the machine is busy: load ") and "\n" not in warning


def test_default_out_is_dated():
    path = benchmark.default_out("bench", "runs")
    assert path.parent.name == "runs"
    assert re.fullmatch(r"bench-\d{8}-\d{6}\.jsonl", path.name), path.name


def test_nextrl_bench_saves_a_dated_file_and_warns_on_a_busy_machine(tmp_path, monkeypatch, capsys):
    """Without --out the results go to runs/bench-<timestamp>.jsonl; a high load is printed as a warning before
    the run and after it."""
    from nextrl.cli import main
    from nextrl.experiments import envs_bench as eb

    monkeypatch.setattr(eb, "bench_frozenlake", lambda sizes, **kw: [])
    real_cartpole = eb.bench_cartpole
    monkeypatch.setattr(
        eb, "bench_cartpole", lambda sizes, **kw: real_cartpole((16,), **kw | {"rounds": 1}, budget=320)
    )
    monkeypatch.setattr(benchmark, "load", lambda: 7.5)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--suite", "envs", "--threads", "1"]) == 0
    text = capsys.readouterr().out
    (out,) = (tmp_path / "runs").glob("bench-*.jsonl")
    assert re.fullmatch(r"bench-\d{8}-\d{6}\.jsonl", out.name)
    assert f"JSON lines to {Path('runs') / out.name}" in text
    assert all(r["machine"]["loadavg_1m"] == 7.5 for r in map(_strict_json, out.read_text().splitlines()))
    flat = " ".join(text.split())  # rich wraps its lines at 80 columns
    assert "load 7.50 (1-minute average)" in flat
    assert flat.count("warning: the machine is busy") == 2
