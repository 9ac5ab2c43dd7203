"""Federated benchmark: the server's hot vector operations over many clients' flat updates, nextrl.federated against
Flower's own aggregation functions (flwr.server.strategy.aggregate) and plain NumPy loops, in the same run.

    python bench/bench_federated.py                          # 100 clients x 1M float32 parameters, 1 thread
    python bench/bench_federated.py --clients 100 --dim 100000 --rounds 5 --out bench/results/federated.jsonl
    python bench/bench_federated.py --ops --flower-rounds 5      # only the Flower round on loopback

Unit of work: one server round's operation over n client updates of d float32 parameters (the updates already in
memory: nextrl as one [n, d] tensor, Flower as its list of per-client NDArrays, the same buffers), 1 thread each:
- fedavg        strategies.fedavg (weights by sample count)   vs flwr aggregate (reduce np.add of weighted copies);
- median        strategies.median (torch sort)                vs flwr aggregate_median (np.median);
- trimmed mean  strategies.trimmed_mean, beta 0.1 (k = 10)    vs flwr aggregate_trimmed_avg (np.partition);
- krum          strategies.krum, f = n // 4 (float64 Gram)    vs flwr aggregate_krum (pairwise norm loop);
- clip          privacy.clip_updates, C = 1                   vs a NumPy loop over clients (norm, scale);
- dp-fedavg     privacy.dp_fedavg (clip, sum / m, Gaussian)   vs the same in a NumPy loop with np.random;
- top-k         compression.encode + decode, ratio 0.01, per client, summed over the n clients
                                                              vs torch.topk on |u| + scatter (values float32);
- qsgd          compression.encode + decode, 16 levels, dense, per client, summed over n clients ("enc+dec": the
                codec incl. bit packing to 6-bit codes and the wire message)
                                                              vs NumPy stochastic rounding to int8 levels and back
                                                              (no packing: less work than the codec);
- qsgd quantize compression.qsgd_quantize + qsgd_dequantize (the same levels, unpacked uint16 codes, float32 out)
                                                              vs the same NumPy rounding: like for like.
- flower round  (--flower-rounds R > 0) R rounds of the example Flower App (examples/flower_cartpole: PPO on
                CartPole, 2 clients, 512 env steps each per round) through a real SuperLink and 2 SuperNodes on
                127.0.0.1 (separate processes, `flwr run`); per round the median of the ServerApp's send-and-receive
                round trip, split by the apps' own timers into the nodes' evaluation + local training (the slower
                node), message building, update unpacking and aggregation; the rest is transport, serialization and
                Flower's polling (an idle SuperNode pulls every 3 s, the ServerApp's send_and_receive polls every 3 s)
                                                              vs the same rounds in process (client.run, the 2 clients
                                                              one after the other).
Each pair is timed round-robin (benchmark.interleaved, median of --rounds), and its outputs are checked against each
other (equal, or equal up to float rounding; krum: the same selected update) before timing.
ratio = peer seconds / nextrl seconds (> 1: nextrl faster).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from functools import reduce
from pathlib import Path

import numpy as np
import torch


def numpy_clip(xs: list[np.ndarray], c: float) -> list[np.ndarray]:
    out = []
    for u in xs:
        n = float(np.linalg.norm(u))
        out.append(u * min(1.0, c / max(n, 1e-30)))
    return out


def numpy_dp_fedavg(xs: list[np.ndarray], c: float, z: float, m: float, rng: np.random.Generator) -> np.ndarray:
    total = reduce(np.add, numpy_clip(xs, c))
    return total / m + rng.standard_normal(total.shape).astype(np.float32) * (z * c / m)


def torch_topk(u: torch.Tensor, ratio: float) -> torch.Tensor:
    k = max(1, math.ceil(ratio * u.numel()))
    idx = u.abs().topk(k, sorted=False).indices
    return torch.zeros_like(u).scatter_(0, idx, u[idx])


def numpy_qsgd(u: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
    norm = float(np.linalg.norm(u))
    r = np.abs(u) / norm * levels
    low = np.floor(r)
    lv = (low + (rng.random(u.shape) < r - low)).astype(np.int8)
    return (np.sign(u) * lv).astype(np.float32) * (norm / levels)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc, log: Path, timeout_s: float = 60.0) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"port {port} not open after {timeout_s} s:\n{log.read_text()}")


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def flower_round(rounds: int, nodes: int = 2) -> dict:
    """Runs `rounds` rounds of examples/flower_cartpole on a SuperLink and `nodes` SuperNodes (127.0.0.1, insecure,
    own FLWR_HOME, telemetry off); returns the ServerApp's timing arrays and the wall time of `flwr run`."""
    app_dir = Path(__file__).resolve().parents[1] / "examples" / "flower_cartpole"
    with tempfile.TemporaryDirectory(prefix="nextrl_bench_flower_") as tmp:
        tmp = Path(tmp)
        (tmp / "home").mkdir()
        env = dict(os.environ, FLWR_TELEMETRY_ENABLED="0", FLWR_HOME=str(tmp / "home"), PYTHONUNBUFFERED="1")
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        procs = []

        def start(name, args):
            with open(tmp / f"{name}.log", "wb") as out:
                p = subprocess.Popen(
                    args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                    start_new_session=True,
                )  # fmt: skip
            procs.append(p)
            return p, tmp / f"{name}.log"

        try:
            link = _free_port()
            p, log = start(
                "superlink",
                [_tool("flower-superlink"), "--insecure", "--host", "127.0.0.1", "--port", str(link),
                 "--disable-runtime-dependency-installation"],
            )  # fmt: skip
            _wait_port(link, p, log)
            for i in range(nodes):
                port = _free_port()
                p, log = start(
                    f"supernode{i}",
                    [_tool("flower-supernode"), "--insecure", "--superlink", f"127.0.0.1:{link}", "--host",
                     "127.0.0.1", "--port", str(port), "--node-config", f"partition-id={i}"],
                )  # fmt: skip
                _wait_port(port, p, log)
            (tmp / "home" / "config.toml").write_text(
                f'[superlink]\ndefault = "bench"\n\n[superlink.bench]\naddress = "127.0.0.1:{link}"\ninsecure = true\n'
            )
            app = tmp / "app"
            shutil.copytree(app_dir, app, ignore=shutil.ignore_patterns("__pycache__"))
            result = tmp / "result.npz"
            run_config = f"num-server-rounds={rounds} num-supernodes={nodes} result-path='{result}'"
            cmd = [_tool("flwr"), "run", str(app), "bench", "--stream", "--run-config", run_config]
            t0 = time.perf_counter()
            run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
            wall = time.perf_counter() - t0
            if run.returncode != 0 or not result.exists():
                logs = "\n".join(f"--- {f.name}\n{f.read_text()[-2000:]}" for f in sorted(tmp.glob("*.log")))
                raise RuntimeError(f"flwr run failed ({run.returncode})\n{run.stdout}\n{run.stderr}\n{logs}")
            with np.load(result) as f:
                out = {k: f[k] for k in f.files}
            out["flwr_run_s"] = wall
            return out
        finally:
            for p in procs:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=10)


def bench_flower(rounds: int, benchmark) -> object:
    """The Flower round against the same rounds in process (see the module docstring)."""
    import importlib

    from nextrl.federated import client as fc

    app_dir = Path(__file__).resolve().parents[1] / "examples" / "flower_cartpole"
    t = flower_round(rounds)
    med = {k: float(np.median(t[k])) for k in ("round_s", "build_s", "unpack_s", "aggregate_s")}
    node = np.asarray(t["client_eval_s"]) + np.asarray(t["client_train_s"])  # [rounds, nodes]
    slowest = float(np.median(node.max(axis=1)))
    train = float(np.median(np.asarray(t["client_train_s"]).max(axis=1)))
    evals = float(np.median(np.asarray(t["client_eval_s"]).max(axis=1)))
    rest = float(np.median(np.asarray(t["round_s"]) - node.max(axis=1)))
    # the node whose reply came last (least uplink) of each round: its downlink + eval + training + uplink ~ round
    downlink, uplink = np.asarray(t["downlink_s"]), np.asarray(t["uplink_s"])
    last = (np.arange(len(uplink)), uplink.argmin(axis=1))
    down = float(np.median(downlink[last]))  # server send -> that ClientApp starts (polls, process start, imports)
    up = float(np.median(uplink[last]))  # that ClientApp replies -> the server has it (push, polls)
    sys.path.insert(0, str(app_dir))
    try:
        task = importlib.import_module("nextrl_flower_cartpole.app")
    finally:
        sys.path.remove(str(app_dir))
    t0 = time.perf_counter()
    clients = [task.make_client(i) for i in range(2)]
    fc.run(task.make_model, clients, fc.FederatedConfig(rounds, eval_episodes=2), seed=0)
    in_process = (time.perf_counter() - t0) / rounds
    print(
        f"flower round (median of {rounds}): {med['round_s']:.2f} s send-and-receive; nodes' eval + training "
        f"{slowest:.2f} s (training {train:.2f}, eval {evals:.2f}); transport + serialization + polling {rest:.2f} s "
        f"(send -> ClientApp start {down:.2f} s, ClientApp reply -> server {up:.2f} s); "
        f"building {med['build_s'] * 1e3:.2f} ms, unpacking {med['unpack_s'] * 1e3:.2f} ms, aggregation "
        f"{med['aggregate_s'] * 1e3:.2f} ms; flwr run {t['flwr_run_s']:.1f} s in all; in process {in_process:.2f} s"
    )
    print("  per round: round_s", np.round(t["round_s"], 2), "downlink_s", np.round(t["downlink_s"], 2).tolist())
    return benchmark.result(
        "federated",
        f"flower round loopback 2 nodes cartpole-ppo d={t['x'].size}",
        med["round_s"],
        "in-process client.run",
        in_process,
        rounds=rounds,
        stat="median",
        nodes_eval_train_s=slowest,
        nodes_train_s=train,
        nodes_eval_s=evals,
        transport_serialization_polling_s=rest,
        downlink_s=down,
        uplink_s=up,
        build_s=med["build_s"],
        unpack_s=med["unpack_s"],
        aggregate_s=med["aggregate_s"],
        flwr_run_s=t["flwr_run_s"],
        flwr=benchmark.version("flwr"),
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=100, help="client updates per round n")
    p.add_argument("--dim", type=int, default=1_000_000, help="parameters per update d")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds per contender (median reported)")
    p.add_argument("--ops", nargs="*", default=None, help="subset of the operations (default: all; none: --ops)")
    p.add_argument("--flower-rounds", type=int, default=0, help="also time R rounds of a Flower App on loopback")
    p.add_argument("--out", help="append one JSON line per case to this file (default: a new runs/federated-*.jsonl)")
    args = p.parse_args(argv)

    from flwr.server.strategy import aggregate as fl

    import nextrl
    from nextrl.experiments import benchmark
    from nextrl.federated import compression, privacy, strategies

    nextrl.set_num_threads(1)
    torch.set_num_threads(1)
    try:  # NumPy's BLAS (np.linalg.norm, matmul) on 1 thread too, for both sides
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        print("threadpoolctl missing: NumPy's BLAS may use several threads")
    n, d = args.clients, args.dim
    f = n // 4
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((n, d), dtype=np.float32) * 0.01).astype(np.float32)
    x = torch.from_numpy(arr)  # nextrl's [n, d] view of the same memory
    rows = [arr[i] for i in range(n)]
    results_fl = [([r], 100 + i) for i, r in enumerate(rows)]  # Flower: (NDArrays, num_examples)
    weights = [w for _, w in results_fl]
    gen = torch.Generator().manual_seed(0)
    per_client = max(1, n // 10)  # encode / decode: timed over the first n/10 clients, scaled to n

    def check_close(a, b, what, rtol=1e-5, atol=1e-7):
        np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol, atol)
        print(f"  check {what}: ok")

    def topk_nextrl():
        for u in x[:per_client]:
            compression.decode(compression.encode(u, ratio=0.01))

    def topk_torch():
        for u in x[:per_client]:
            torch_topk(u, 0.01)

    def qsgd_nextrl():
        for i, u in enumerate(x[:per_client]):
            compression.decode(compression.encode(u, levels=16, seed=i))

    def qsgd_quantize_nextrl():
        for i, u in enumerate(rows[:per_client]):
            norm, code = compression.qsgd_quantize(u, 16, np.random.default_rng(i))
            compression.qsgd_dequantize(norm, code, 16, np.float32)

    def qsgd_numpy():
        g = np.random.default_rng(0)
        for u in rows[:per_client]:
            numpy_qsgd(u, 16, g)

    ops = {
        "fedavg": (
            lambda: strategies.fedavg(x, weights),
            "flwr aggregate",
            lambda: fl.aggregate(results_fl)[0],
        ),
        "median": (lambda: strategies.median(x), "flwr aggregate_median", lambda: fl.aggregate_median(results_fl)[0]),
        "trimmed mean": (
            lambda: strategies.trimmed_mean(x, beta=0.1),
            "flwr aggregate_trimmed_avg",
            lambda: fl.aggregate_trimmed_avg(results_fl, 0.1)[0],
        ),
        "krum": (
            lambda: strategies.krum(x, f),
            "flwr aggregate_krum",
            lambda: fl.aggregate_krum(results_fl, f, 0)[0],
        ),
        "clip": (lambda: privacy.clip_updates(x, 1.0)[0], "numpy loop", lambda: numpy_clip(rows, 1.0)),
        "dp-fedavg": (
            lambda: privacy.dp_fedavg(x, 1.0, 1.0, n, generator=gen),
            "numpy loop",
            lambda: numpy_dp_fedavg(rows, 1.0, 1.0, n, rng),
        ),
        "top-k 0.01 enc+dec": (topk_nextrl, "torch topk + scatter", topk_torch),
        "qsgd 16 enc+dec": (qsgd_nextrl, "numpy int8 rounding", qsgd_numpy),
        "qsgd 16 quantize": (qsgd_quantize_nextrl, "numpy int8 rounding", qsgd_numpy),
    }
    selected = list(ops) if args.ops is None else args.ops
    unknown = set(selected) - set(ops)
    if unknown:
        raise SystemExit(f"bench_federated: unknown ops {sorted(unknown)}; known: {list(ops)}")

    print(f"{n} clients x {d} float32 parameters, 1 thread, load {benchmark.load():.1f}")
    # outputs agree before anything is timed
    if "fedavg" in selected:
        check_close(ops["fedavg"][0](), ops["fedavg"][2](), "fedavg = flwr aggregate")
    if "median" in selected:
        check_close(ops["median"][0](), ops["median"][2](), "median = flwr aggregate_median", 0, 0)
    if "trimmed mean" in selected:
        check_close(ops["trimmed mean"][0](), ops["trimmed mean"][2](), "trimmed mean = flwr aggregate_trimmed_avg")
    if "krum" in selected:
        check_close(ops["krum"][0](), ops["krum"][2](), "krum selects flwr's update", 0, 0)
    if "clip" in selected:
        check_close(ops["clip"][0]()[:3], np.stack(numpy_clip(rows[:3], 1.0)), "clip = numpy loop")
    if "top-k 0.01 enc+dec" in selected:
        check_close(compression.decode(compression.encode(x[0], ratio=0.01)), torch_topk(x[0], 0.01), "top-k")

    results = []
    for name in selected:
        ours_fn, peer, peer_fn = ops[name]
        times = benchmark.interleaved({"nextrl": ours_fn, "peer": peer_fn}, args.rounds)
        ours, theirs = benchmark.reduce_times(times["nextrl"]), benchmark.reduce_times(times["peer"])
        if name in ("top-k 0.01 enc+dec", "qsgd 16 enc+dec", "qsgd 16 quantize"):
            ours, theirs = ours * n / per_client, theirs * n / per_client  # per round of n clients
        results.append(
            benchmark.result(
                "federated",
                f"{name} {n}x{d}",
                ours,
                peer,
                theirs,
                clients=n,
                dim=d,
                threads=1,
                rounds=args.rounds,
                stat="median",
                torch=torch.__version__,
                flwr=benchmark.version("flwr"),
                scaled_from_clients=per_client if name.startswith(("top-k", "qsgd")) else n,
            )
        )
        r = results[-1]
        print(f"{r.case:<34} nextrl {r.ours_s * 1e3:10.1f} ms  {peer:<27} {r.peer_s * 1e3:10.1f} ms  x{r.ratio:6.2f}")
    if args.flower_rounds > 0:
        results.append(bench_flower(args.flower_rounds, benchmark))
    path = benchmark.save_results(args.out, "federated", results, **benchmark.stamp())
    print(f"results appended to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
