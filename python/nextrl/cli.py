"""The `nextrl` command: build facts, benchmarks and training runs."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain text
        print(title)
        widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
        for r in [columns, *rows]:
            print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))
        return
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(*[str(c) for c in r])
    Console().print(table)


def cmd_info(args: argparse.Namespace) -> int:
    import nextrl

    info = nextrl.build_info()
    if args.json:
        print(json.dumps(info))
    else:
        _table("nextrl build", ["key", "value"], [[k, v] for k, v in info.items()])
    return 0


def _fmt_time(s: float) -> str:
    return f"{s * 1e6:.1f} us" if s < 1e-3 else (f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s")


def cmd_bench(args: argparse.Namespace) -> int:
    """Statevector and vector-env benchmarks of nextrl against its peers, in one run."""
    import importlib.util

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from nextrl.experiments import envs_bench as eb
    from nextrl.experiments import statevector_bench as sb

    console = Console()
    peers = ["qiskit-aer"] + (["qulacs"] if importlib.util.find_spec("qulacs") else [])
    if "qulacs" not in peers and args.suite in ("all", "quantum"):
        console.print("[yellow]qulacs is not installed (pip install 'nextrl[bench]'); comparing with Aer only[/]")
    if not importlib.util.find_spec("pennylane") and args.suite in ("all", "quantum"):
        console.print(
            "[yellow]PennyLane is not installed (pip install 'nextrl[bench]'); variational circuits against Aer only[/]"
        )
    cfg = sb.BenchConfig(threads=args.threads)
    info = sb.machine_info()
    console.print(
        f"machine: {info['cpu']}, {info['cores']} cores; nextrl {info['nextrl']} ({info['simd']}); "
        f"{args.threads} threads for the simulators, 1 for the envs (per-core figures)"
    )
    results, env_results = [], []
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("starting", total=None)

        def progress(msg: str) -> None:
            bar.update(task, description=msg)

        if args.suite in ("all", "quantum"):
            layered = range(16, (26 if args.full else 22) + 1, 2)
            results += sb.bench_layered(layered, cfg, peers=peers, progress=progress)
            results += sb.bench_small(sb.SMALL_QUBITS, cfg, peers=peers, progress=progress)
            if args.full:
                results += sb.bench_gate_1q(sb.GATE_QUBITS, cfg, progress=progress)
            # Batched variational circuits (SK-4, 1 thread, B = 1024): Aer EstimatorV2, PennyLane when installed.
            from nextrl.experiments import vqc_bench as vb

            vcfg = vb.VQCConfig(batch=1024, repeats=3, threads=1, latency_calls=500)
            results += vb.bench_aer((4,), vcfg, progress=progress)
            if importlib.util.find_spec("pennylane"):
                results += vb.bench_pennylane((4,), vcfg, devices=("default.qubit",), progress=progress)
            results += [
                r for r in vb.bench_latency((4,), vcfg, pennylane=False, progress=progress) if r.peer != "none"
            ]  # the goal rows (forward); forward + backward has no peer here
        if args.suite in ("all", "envs"):
            env_peers = ["gymnasium-sync"] + (["envpool"] if importlib.util.find_spec("envpool") else [])
            env_results += eb.bench_frozenlake((1024, 4096), threads=1, rounds=3, progress=progress, peers=env_peers)
            env_results += eb.bench_cartpole((4096,), threads=1, rounds=3, progress=progress)
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            if cores > 1:  # and with every core (Gymnasium's NumPy CartPole has one thread either way)
                env_results += eb.bench_cartpole((4096,), threads=cores, rounds=3, progress=progress)
    if results:
        rows = [
            [r.bench, r.case, r.extra["n"], _fmt_time(r.ours_s), r.peer, _fmt_time(r.peer_s), f"{r.ratio:.1f}x"]
            for r in results
        ]
        _table(
            "simulators: nextrl vs peers (ratio = peer time / nextrl time; > 1: nextrl faster)",
            ["bench", "case", "n", "nextrl", "peer", "peer time", "ratio"],
            rows,
        )
    if env_results:
        rows = [
            [
                r.case,
                r.extra["num_envs"],
                r.extra["threads"],
                f"{r.extra['steps_per_s']:.3g}",
                r.peer,
                f"{r.extra['peer_steps_per_s']:.3g}",
                f"{r.ratio:.1f}x",
            ]
            for r in env_results
        ]
        _table(
            "vector envs: steps/s summed over envs (ratio = nextrl / peer; peers run on one thread)",
            ["env", "num_envs", "threads", "nextrl steps/s", "peer", "peer steps/s", "ratio"],
            rows,
        )
    if args.out:
        from nextrl.experiments import benchmark

        benchmark.write_jsonl(args.out, [*results, *env_results], **benchmark.stamp())
        console.print(f"wrote {len(results) + len(env_results)} JSON lines to {args.out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Trains one algorithm on one env and writes a run folder (nextrl.experiments.train)."""
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from nextrl.experiments import train as runner

    if args.threads < 1:
        args.parser.error(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    console = Console()
    # Resolve everything that can be misspelled before training starts.
    try:
        _, config_cls = runner.resolve_algorithm(args.algo)
        total = config_cls(**runner.parse_overrides(config_cls, args.set)).total_timesteps
        runner.make_env(args.env, 1).close()
    except ValueError as e:
        args.parser.error(str(e))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} steps"),
        TextColumn("{task.fields[ret]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"{args.algo} {args.env}", total=total, ret="")

        def log(step: int, metrics: dict[str, float]) -> None:
            ret = metrics.get("charts/episode_return")
            bar.update(task, completed=min(step, total), ret="" if ret is None else f"return {ret:.1f}")

        out = runner.run(args.algo, args.env, overrides=args.set, seed=args.seed, out_dir=args.out, log=log)
    s = out.summary
    rows = [
        ["algorithm", s["algo"]],
        ["env", s["env"]],
        ["seed", s["seed"]],
        ["env steps", f"{s['global_steps']:,}"],
        ["wall time", _fmt_time(s["wall_time_s"])],
        ["episodes", s["episodes"]],
        ["mean return (last 20)", f"{s['mean_return_last_20']:.2f}"],
        ["best return", f"{s['best_return']:.2f}"],
    ]
    rows += [[f"time in {k[5:-2]}", _fmt_time(v)] for k, v in s.items() if k.startswith("time_")]
    _table("nextrl train", ["", "value"], rows)
    console.print(f"run folder: {out.run_dir}", soft_wrap=True, highlight=False)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Runs one experiment over seeds and writes its run folder (nextrl.experiments.runner)."""
    from rich.console import Console

    from nextrl.experiments import runner

    console = Console()
    if args.list:
        _table("nextrl run: experiments", ["name", "what it measures"], runner.list_experiments())
        for name in sorted(runner.EXPERIMENTS):
            rows = [
                [f, ",".join(map(str, d)) if isinstance(d, tuple) else d, doc]
                for f, d, doc in runner.config_fields(name)
            ]
            _table(f"{name}: settings (--set KEY=VALUE)", ["key", "default", "meaning"], rows)
        return 0
    if args.name is None:
        args.parser.error(f"give an experiment NAME or --list; experiments: {', '.join(sorted(runner.EXPERIMENTS))}")
    if args.threads < 1:
        args.parser.error(f"--threads must be >= 1, got {args.threads}")
    try:
        plan = runner.plan(args.name, seeds=args.seeds, out_dir=args.out, overrides=args.set, quick=args.quick)
    except ValueError as e:
        args.parser.error(str(e))
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    torch.set_num_threads(args.threads)
    total = plan.total_work
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(args.name, total=total)

        def progress(units: int, description: str) -> None:
            bar.update(task, advance=units, description=description)

        argv = [
            "run",
            args.name,
            "--seeds",
            str(args.seeds),
            *(["--quick"] if args.quick else []),
            *[a for kv in args.set for a in ("--set", kv)],
            "--out",
            str(plan.out_dir),
        ]
        out = runner.execute(plan, progress=progress, argv=argv)
    res = out.result
    rows = [
        [
            s.task.split("/")[-1],
            s.agent,
            s.metric,
            f"{s.iqm.point:.1f}",
            f"[{s.iqm.low:.1f}, {s.iqm.high:.1f}]" if s.iqm.num_runs > 1 else "-",
            "-" if s.reference is None else f"{s.reference.value:g}",
        ]
        for s in res.scores
    ]
    _table(
        f"nextrl run {args.name}: {len(res.seeds)} seeds, {res.wall_time_s:.0f} s (IQM over seeds)",
        ["task", "agent", "metric", "IQM", f"{round(res.bootstrap.confidence * 100)}% CI", "reference"],
        rows,
    )
    console.print(
        f"run folder: {out.run_dir} (report.md, metrics.json, {len(out.files) - 2} plots)",
        soft_wrap=True,
        highlight=False,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nextrl", description="nextrl: compiled deep-RL toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="version, compiler, SIMD level, OpenMP threads, CUDA")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("bench", help="time nextrl against Qiskit Aer, qulacs, Gymnasium and EnvPool (a few minutes)")
    p.add_argument(
        "--suite", choices=["all", "quantum", "envs"], default="all", help="simulators, vector envs, or both (default)"
    )
    p.add_argument("--threads", type=int, default=2, help="threads for nextrl and every peer (default 2)")
    p.add_argument("--full", action="store_true", help="up to 26 qubits and the single-gate bandwidth case")
    p.add_argument("--out", help="append one JSON line per case to this file")
    p.set_defaults(func=cmd_bench)
    from nextrl.experiments.train import ALGORITHMS

    p = sub.add_parser(
        "train",
        help="train an agent on a Gymnasium or nextrl env; writes a run folder",
        description="Train ALGO on ENV_ID. Writes config.json, metrics.csv, episodes.csv, metrics.json "
        "and learning_curve.png to the run folder.",
    )
    p.add_argument("algo", metavar="ALGO", help=f"one of: {', '.join(sorted(ALGORITHMS))}")
    p.add_argument(
        "--env",
        required=True,
        metavar="ENV_ID",
        help="any registered Gymnasium id (e.g. CartPole-v1) or a nextrl/... id",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field (repeatable), e.g. --set total_timesteps=50000",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of networks, sampling and envs (default 0)")
    p.add_argument("--out", help="run folder (default runs/<algo>-<env>-<seed>-<timestamp>/)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: fastest for small networks)")
    p.set_defaults(func=cmd_train, parser=p)
    p = sub.add_parser(
        "run",
        help="run an experiment over seeds; writes report.md, plots and metrics.json",
        description="Run experiment NAME with seeds 0 .. K-1 and write a run folder: report.md "
        "(setup, results with 95% confidence intervals over seeds, findings), PNG plots "
        "and metrics.json. `nextrl run --list` names the experiments.",
    )
    p.add_argument("name", metavar="NAME", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--seeds", type=int, default=5, metavar="K", help="number of seeds, 0 .. K-1 (default 5)")
    p.add_argument("--out", metavar="DIR", help="run folder, new or empty (default runs/<name>-<timestamp>/)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an experiment setting (repeatable), e.g. --set cartpole_ppo_steps=100000",
    )
    p.add_argument("--quick", action="store_true", help="the experiment's smoke-test budget (seconds)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.set_defaults(func=cmd_run, parser=p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "bench":
        if args.threads < 1:
            build_parser().error(f"--threads must be >= 1, got {args.threads}")
        # qulacs takes its thread count from OMP_NUM_THREADS when it is first loaded.
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
