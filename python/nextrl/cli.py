"""The `nextrl` command: build facts, benchmarks and training runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import typing
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block), exit status 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(str(message).split())}\n")


def _fail(prog: str, message: str, status: int = 2) -> typing.NoReturn:
    """One line on stderr, then exit with `status`: how every user error ends."""
    sys.stderr.write(f"{prog}: error: {' '.join(str(message).split())}\n")
    raise SystemExit(status)


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

    from nextrl.experiments import benchmark
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
    out = Path(args.out) if args.out else benchmark.default_out("bench")
    cfg = sb.BenchConfig(threads=args.threads)
    info = sb.machine_info()
    cores = info["usable_cores"]
    console.print(
        f"machine: {info['cpu']}, {cores} usable cores, load {info['loadavg_1m']:.2f} (1-minute average); "
        f"nextrl {info['nextrl']} ({info['simd']}); {args.threads} threads for the simulators, 1 for the envs "
        "(per-core figures)",
        highlight=False,
    )
    warning = benchmark.load_warning(info["loadavg_1m"], cores, args.threads)
    if warning:
        console.print(f"[yellow]warning: {warning}[/]", highlight=False)
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
            if cores > 1:  # and with every core (Gymnasium's NumPy CartPole has one thread either way)
                env_results += eb.bench_cartpole((4096,), threads=cores, rounds=3, progress=progress)
    all_results = [*results, *env_results]
    for table in benchmark.summary_tables(all_results):
        print()
        print(table)
    if all_results:
        # Each row's load includes this run's own threads while it measured; the largest thread count is taken off.
        own = max(r.machine.get("threads", 1) for r in all_results)
        loads = [x for r in all_results if (x := r.machine.get("loadavg_1m")) is not None and x == x]
        if loads:
            print(f"\nload during the run (1-minute average, this run included): {min(loads):.2f} to {max(loads):.2f}")
            warning = benchmark.load_warning(max(loads), cores, args.threads, own=own)
            if warning:
                console.print(f"[yellow]warning: {warning}[/]", highlight=False)
        out.parent.mkdir(parents=True, exist_ok=True)
        benchmark.write_jsonl(out, all_results, **benchmark.stamp())
        console.print(f"wrote {len(all_results)} JSON lines to {out}", highlight=False)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Trains one algorithm on one env and writes a run folder (nextrl.experiments.train)."""
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from nextrl._checks import check_seed
    from nextrl.experiments import train as runner

    prog = args.parser.prog
    if args.threads < 1:
        _fail(prog, f"--threads must be >= 1, got {args.threads}")
    if args.eval_episodes < 0:
        _fail(prog, f"--eval-episodes must be >= 0, got {args.eval_episodes}")
    if args.eval_every is not None and args.eval_every < 1:
        _fail(prog, f"--eval-every must be >= 1 env steps, got {args.eval_every}")
    if args.eval_every is not None and args.eval_episodes == 0:
        _fail(prog, "--eval-every needs --eval-episodes >= 1")
    try:
        check_seed("--seed", args.seed)
    except ValueError as e:
        _fail(prog, str(e))
    torch.set_num_threads(args.threads)
    console = Console()
    # Resolve everything that can be misspelled or mismatched before training starts.
    try:
        _, cfg, _ = runner.prepare(args.algo, args.env, args.set)
    except (ValueError, TypeError) as e:
        _fail(prog, str(e))
    total = runner.config_value(cfg, "total_timesteps")
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

        try:
            out = runner.run(
                args.algo,
                args.env,
                overrides=args.set,
                seed=args.seed,
                out_dir=args.out,
                log=log,
                eval_episodes=args.eval_episodes,
                eval_every=args.eval_every,
                tensorboard=args.tensorboard,
            )
        except (ImportError, OSError) as e:  # TensorBoard missing, run folder not writable
            _fail(prog, str(e))
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
    if s["eval_episodes"]:
        final = out.evaluations[-1]
        rows.append(
            [
                f"greedy return ({s['eval_episodes']} episodes)",
                f"{final['mean_return']:.2f} +- {final['std_return']:.2f} (min {min(final['returns']):.2f})",
            ]
        )
    if "best_eval_mean_return" in s:
        best = max(out.evaluations, key=lambda e: e["mean_return"])
        rows.append(["best greedy return", f"{best['mean_return']:.2f} at step {best['global_step']:,} (best.pt)"])
    rows += [[f"time in {k[5:-2]}", _fmt_time(v)] for k, v in s.items() if k.startswith("time_")]
    _table("nextrl train", ["", "value"], rows)
    console.print(f"run folder: {out.run_dir}", soft_wrap=True, highlight=False)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Reloads a `nextrl train` checkpoint and evaluates its deterministic policy; --video records episodes."""
    from nextrl._checks import check_seed
    from nextrl.experiments import train as runner

    prog = args.parser.prog
    if args.episodes < 1:
        _fail(prog, f"--episodes must be >= 1, got {args.episodes}")
    if args.threads < 1:
        _fail(prog, f"--threads must be >= 1, got {args.threads}")
    import torch

    torch.set_num_threads(args.threads)
    try:
        info, _, cfg, modules = runner.load_run(args.run_dir, args.checkpoint)
    except (ValueError, TypeError) as e:
        _fail(prog, str(e))
    env_id, algo = info["env"], info["algo"]
    seed = args.seed if args.seed is not None else info.get("eval_seed") or info["seed"] + runner.EVAL_SEED_OFFSET
    try:
        check_seed("--seed", seed)
    except ValueError as e:
        _fail(prog, str(e))
    probe = runner.make_env(env_id, 1)
    space = probe.single_action_space
    probe.close()
    act = runner.deterministic_policy(algo, modules, space, cfg)
    if args.video is not None:
        _record_video(prog, env_id, act, args.video, min(args.episodes, args.video_episodes), seed)
    ev = runner.evaluate_policy(act, env_id, args.episodes, seed)
    r = ev["returns"]
    rows = [
        ["run", str(args.run_dir)],
        ["checkpoint", f"{args.checkpoint}.pt"],
        ["algorithm", algo],
        ["env", env_id],
        ["seed", seed],
        ["episodes", len(r)],
        ["greedy return", f"{ev['mean_return']:.2f} +- {ev['std_return']:.2f}"],
        ["min / max", f"{min(r):.2f} / {max(r):.2f}"],
    ]
    _table("nextrl eval", ["", "value"], rows)
    if args.json:
        print(json.dumps({"algo": algo, "env": env_id, "seed": seed, "checkpoint": args.checkpoint, **ev}))
    return 0


def _record_video(prog: str, env_id: str, act, video_dir: str, episodes: int, seed: int) -> None:
    """Plays `episodes` episodes of `act` on gym.make(env_id, render_mode="rgb_array") under Gymnasium's
    RecordVideo (one file per episode in `video_dir`). Exits 2 with one line if the env cannot render."""
    import warnings

    import gymnasium as gym
    import numpy as np

    env = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # Gymnasium only warns about a render_mode the env does not declare
            env = gym.make(env_id, render_mode="rgb_array")
    except Exception:  # whatever stops a rendering env from being built: this env does not render (yet)
        pass
    if env is None or env.render_mode != "rgb_array":
        if env is not None:
            env.close()
        sys.stderr.write(f"eval: {env_id} cannot render yet\n")
        raise SystemExit(2)
    try:
        from gymnasium.wrappers import RecordVideo

        env = RecordVideo(env, video_folder=video_dir, episode_trigger=lambda _: True, disable_logger=True)
    except gym.error.DependencyNotInstalled as e:
        env.close()
        _fail(prog, f"--video: {e}")
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            done = False
            while not done:
                obs, _, term, trunc, _ = env.step(act(np.asarray(obs)[None])[0])
                done = term or trunc
    except gym.error.DependencyNotInstalled as e:  # the renderer's own dependency (pygame for Gymnasium's envs)
        _fail(prog, f"--video: {e}")
    finally:
        env.close()
    print(f"eval: {episodes} episode video(s) in {video_dir}")


def cmd_list(args: argparse.Namespace) -> int:
    """Names what the other commands take: env ids, algorithms, experiments."""
    if args.what == "envs":
        import gymnasium as gym

        import nextrl  # noqa: F401  (registers the nextrl/... ids)

        ours = sorted(i for i in gym.registry if i.startswith("nextrl/"))
        rows = [[i, _entry_kind(gym.registry[i])] for i in ours]
        if args.all:
            rows += [[i, "Gymnasium"] for i in sorted(gym.registry) if not i.startswith("nextrl/")]
        _table("nextrl list envs (`nextrl train ALGO --env ID`)", ["id", "kind"], rows)
        if not args.all:
            print(f"and every other registered Gymnasium id ({len(gym.registry) - len(ours)}: --all lists them)")
    elif args.what == "algos":
        from nextrl.experiments import train as runner

        rows = []
        for name in sorted(runner.ALGORITHMS):
            module, config_cls = runner.resolve_algorithm(name)
            doc = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
            rows.append([name, " or ".join(runner.ACTION_SPACES[name]), doc])
        _table("nextrl list algos (`nextrl train ALGO --help` lists settings)", ["algo", "actions", "what"], rows)
    else:
        from nextrl.experiments import runner

        _table("nextrl list experiments (`nextrl run NAME`)", ["name", "what it measures"], runner.list_experiments())
    return 0


def _entry_kind(spec) -> str:
    return "vector (C++)" if spec.vector_entry_point is not None else "single"


class _TrainHelp(argparse.Action):
    """`nextrl train [ALGO] --help`: the usual help, then ALGO's config keys with defaults and meanings."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from nextrl.experiments import train as runner

        algo = getattr(namespace, "algo", None)
        if algo is not None:
            try:
                _, config_cls = runner.resolve_algorithm(algo)
            except ValueError as e:
                _fail(parser.prog, str(e))
        parser.print_help()
        if algo is not None:
            env = getattr(namespace, "env", None)
            preset = runner.preset(algo, env) if env else {}
            rows = []
            for key, default, doc in runner.settings(config_cls):
                d = preset.get(key, default)
                rows.append([key, _fmt_default(d) + (" (preset)" if key in preset else ""), doc])
            print()
            _table(f"{algo} settings ({config_cls.__name__}; --set KEY=VALUE)", ["key", "default", "meaning"], rows)
            presets = [(e, v) for (a, e), v in runner.PRESETS.items() if a == algo]
            for env_name, values in presets:
                items = ", ".join(f"{k}={_fmt_default(v)}" for k, v in values.items())
                print(f"preset on {env_name} (also nextrl/{env_name}), over the defaults above: {items}")
        parser.exit()


def _fmt_default(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, tuple) else str(v)


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
    import nextrl

    parser = _Parser(prog="nextrl", description="nextrl: compiled deep-RL toolkit")
    parser.add_argument("--version", action="version", version=f"nextrl {nextrl.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="version, compiler, SIMD level, OpenMP threads, CUDA")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser(
        "bench",
        help="time nextrl against Qiskit Aer, qulacs, PennyLane, Gymnasium and EnvPool (about 4 min on 2 cores)",
    )
    p.add_argument(
        "--suite", choices=["all", "quantum", "envs"], default="all", help="simulators, vector envs, or both (default)"
    )
    p.add_argument("--threads", type=int, default=2, help="threads for nextrl and every peer (default 2)")
    p.add_argument("--full", action="store_true", help="up to 26 qubits and the single-gate bandwidth case")
    p.add_argument(
        "--out", help="append one JSON line per case to this file (default runs/bench-<timestamp>.jsonl, a new file)"
    )
    p.set_defaults(func=cmd_bench)
    from nextrl.experiments.train import ALGORITHMS

    p = sub.add_parser(
        "train",
        help="train an agent on a Gymnasium or nextrl env; writes a run folder",
        description="Train ALGO on ENV_ID. Writes config.json, metrics.csv, episodes.csv, metrics.json, "
        "learning_curve.png and the final checkpoint final.pt to the run folder, and evaluates the deterministic "
        "(greedy) policy at the end. `nextrl train ALGO --help` lists ALGO's settings; `nextrl list envs` "
        "the env ids.",
        add_help=False,
    )
    p.add_argument("-h", "--help", action=_TrainHelp, help="show this help (and ALGO's settings) and exit")
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
    p.add_argument(
        "--eval-episodes",
        type=int,
        default=10,
        metavar="N",
        help="greedy-evaluation episodes at the end, one env, seed + 10000 (default 10; 0: none)",
    )
    p.add_argument(
        "--eval-every",
        type=int,
        metavar="K",
        help="also evaluate every K env steps and keep the best policy in best.pt",
    )
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="write TensorBoard scalars to the run folder (pip install 'nextrl[tensorboard]')",
    )
    p.set_defaults(func=cmd_train, parser=p)
    p = sub.add_parser(
        "eval",
        help="reload a `nextrl train` checkpoint and evaluate its greedy policy",
        description="Reload RUN_DIR/final.pt (or best.pt) and evaluate the deterministic policy on one env, "
        "episodes one after another; by default with the seed the training run evaluated with, so the "
        "numbers match its summary.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by nextrl train")
    p.add_argument("--episodes", type=int, default=10, metavar="N", help="episodes (default 10)")
    p.add_argument("--seed", type=int, help="env seed (default: the run's evaluation seed)")
    p.add_argument("--checkpoint", choices=["final", "best"], default="final", help="which checkpoint (default final)")
    p.add_argument("--video", metavar="DIR", help="also record episodes with Gymnasium's RecordVideo into DIR")
    p.add_argument("--video-episodes", type=int, default=1, metavar="M", help="episodes to record (default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--json", action="store_true", help="also print the returns as one JSON object")
    p.set_defaults(func=cmd_eval, parser=p)
    p = sub.add_parser("list", help="list env ids, algorithms or experiments")
    p.add_argument("what", choices=["envs", "algos", "experiments"], help="what to list")
    p.add_argument("--all", action="store_true", help="envs: every registered Gymnasium id too")
    p.set_defaults(func=cmd_list, parser=p)
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
            _fail("nextrl bench", f"--threads must be >= 1, got {args.threads}")
        # qulacs takes its thread count from OMP_NUM_THREADS when it is first loaded.
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        sys.stderr.write(f"nextrl {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
