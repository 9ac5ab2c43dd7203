"""World-model benchmark: latent CEM per action at the PlaNet budget, nextrl's C++ latent rollouts against the same
planner in torch over the same weights, in three cases (all by default; `--cases` picks some).

    python bench/bench_world_models.py                   # 1 thread, 5 rounds, all cases
    python bench/bench_world_models.py --rounds 3 --cases discrete --out bench/results/world_models.jsonl

Unit of work: one action = one plan of one problem from a filtered RSSM state: 1000 candidates x horizon 12 x 10
iterations, top 100, returns = RSSM.imagine_returns (rewards of the state after each action times the continue
probabilities, gamma 1). The RSSM has PlaNet's sizes: deterministic (GRU) state 200, hidden 200, reward and continue
heads of 2 hidden layers (LayerNorm + SiLU, nextrl.models.rssm), a 4-D observation. Cases:
- continuous: Gaussian latent 30 following the prior's mean (PlaNet's planner); CEM, alpha 0, action box [-1, 1]^2;
- discrete: the same RSSM on CartPole's 2 actions, one-hot into img_in (PlaNet with discrete actions,
  nextrl.agents.model_based.planet); CategoricalCEM (alpha 0.1, candidates drawn by inverse CDF of the per-step
  categoricals, the elites' frequencies refit them);
- categorical: DreamerV3's 32 x 32 categorical latents (1% unimix) following the prior's mode, the continuous case's
  CEM and actions.
Contenders, timed round-robin in the same run, 1 thread each:
- nextrl: `CEM.plan(LatentModel.from_rssm(rssm))` (discrete: `CategoricalCEM.plan(LatentModel.from_rssm(rssm,
  num_actions=2))`): sampling, the latent rollouts (GRU cell, prior, heads in float32 through
  csrc/planning/mlp_kernels), elites and refit in one C++ call;
- torch: continuous / categorical: the same CEM in batched PyTorch (torch.randn noise, clamp, topk elites, population
  std) whose objective is the RSSM's own imagine_returns under no_grad on the [1000, 12, 2] candidates (float32): one
  batched [1000]-row step of the torch modules per horizon step, as PlaNet's reference implementation plans;
  discrete: the same CategoricalCEM's torch path (`CategoricalCEM.plan(objective)`) over the objective PlaNet's
  torch path uses (one-hot indices into imagine_returns), which draws the same candidates: the plan is checked equal.
ratio = torch seconds / nextrl seconds per action (> 1: nextrl faster), timed round-robin after one warm-up call each,
median of the rounds, by process CPU time (default, `--clock cpu`: the machine this was written on is shared and
loaded, and CPU time does not count the time a contender waits for a core) and by wall time (both reported).
Also reported: latent steps per second (one candidate advanced one step) and the FLOP rate of the dense layers
against the float32 peak measured in the same run (bench_planning.gemm_peak: one thread's torch.mm of 1024^3,
timed by the same clock); FLOPs per latent step = 2 (sum of in x out over the dense layers of img_in, the GRU, the
prior and both heads).
Measured (2026-12-06, 2 vCPUs AMD EPYC (Zen 4, AVX-512), load 17-19, 5 rounds, median by CPU time; continuous case
only): 1.34 s vs 1.77 s per action (1.32x; 1.35x by wall time), 9.0e4 latent steps/s = 84.5 GFLOP/s = 93% of the 91
GFLOP/s 1-thread sgemm peak, the torch loop 70%; returns equal to 9e-7; a second run (load 20-24): 1.35 s vs 1.86 s
(1.38x; 96% vs 69%). All three cases (2026-12-06, same machine, 5 rounds, CPU time; run 1 at load 3.6-4.0, run 2 at
load 2.2-2.6): continuous 1.29 / 1.21 s vs 1.76 / 1.73 s (1.36x / 1.43x; 92-94% vs 65-69% of the peak); discrete
1.32 / 1.19 s vs 1.73 / 1.66 s (1.31x / 1.39x; 92-94% vs 68-70%; the same plan as the torch path, returns equal to
1.3e-6); categorical 32 x 32 3.68 / 3.29 s vs 4.94 / 4.79 s (1.35x / 1.46x; 89-91% vs 63-66%; returns equal to
5.5e-7; the 1024-wide latent, img_in's input and the prior's output, makes a latent step 2.5 MFLOP against 0.94).
The issue's goal (1.5x) is missed in every case, and cannot be met by a faster kernel alone at this budget: with the
torch loop at 63-70% of the peak, 100% would be 1.43x to 1.59x.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_planning

N, H, ITERS, K, A = 1000, 12, 10, 100, 2


def torch_latent_cem(rssm, state, low, high, gen, n=N, iters=ITERS):
    """CEM over [n, H, A] sequences scored by rssm.imagine_returns from one state; returns the final mean."""
    mean = ((low + high) / 2).expand(H, A).clone()
    std = (0.5 * (high - low)).expand(H, A).clone()
    start = {k: v.expand(n, -1) for k, v in state.items()}
    with torch.no_grad():
        for _ in range(iters):
            pop = (mean + std * torch.randn(n, H, A, generator=gen)).clamp(low, high)
            ret = rssm.imagine_returns(start, pop)
            elites = pop[torch.topk(ret, K).indices]
            mean, std = elites.mean(0), elites.std(0, unbiased=False)
    return mean


def gemm_peak(clock: str) -> float:
    """bench_planning.gemm_peak (one thread's float32 torch.mm of 1024^3, best of 5) timed by `clock`."""
    if clock == "wall":
        return bench_planning.gemm_peak()
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(5):
        t0 = time.process_time()
        torch.mm(a, b)
        best = min(best, time.process_time() - t0)
    return 2 * 1024**3 / best


def dense_flops(rssm) -> int:
    """2 * sum of in x out over the dense layers one latent step runs."""
    mods = [rssm.img_in, rssm.prior_net, rssm.reward_head, rssm.cont_head]
    macs = sum(m.in_features * m.out_features for s in mods for m in s.modules() if isinstance(m, torch.nn.Linear))
    g = rssm.gru
    macs += 3 * g.hidden_size * (g.input_size + g.hidden_size)
    return 2 * macs


CASES = ("continuous", "discrete", "categorical")


def torch_categorical_objective(rssm, state, gamma):
    """PlaNet's torch path for discrete actions (agents.model_based.planet.plan_actions): [M, H, 1] action indices ->
    one-hot -> RSSM.imagine_returns from the one filtered state."""
    n = rssm.action_dim

    def objective(actions):
        s = {k: v.expand(actions.shape[0], -1) for k, v in state.items()}
        return rssm.imagine_returns(s, torch.nn.functional.one_hot(actions[..., 0].long(), n).float(), gamma=gamma)

    return objective


def run_case(name: str, args, peak: float, benchmark):
    """Times one case; returns its BenchResult."""
    from nextrl.models.rssm import RSSM, RSSMConfig
    from nextrl.planning import CEM, CategoricalCEM
    from nextrl.planning.latent import LatentModel

    discrete = name == "discrete"
    if name == "categorical":  # DreamerV3's 32 x 32 categorical latents at PlaNet's other sizes, prior-mode rollouts
        cfg = RSSMConfig(deter=200, hidden=200, embed=200, layers=2, latent="categorical", groups=32, classes=32)
    else:
        cfg = RSSMConfig(deter=200, stoch=30, hidden=200, embed=200, layers=2, kl_mode="free_nats", free_nats=3.0)
    torch.manual_seed(0)
    obs_dim, act_dim = 4, 2  # discrete: CartPole's 4-D observation and 2 actions, one-hot into the RSSM
    rssm = RSSM(obs_dim, act_dim, cfg).eval()
    g = torch.Generator().manual_seed(1)
    deter = torch.tanh(torch.randn(1, cfg.deter, generator=g))
    if name == "categorical":
        classes = torch.randint(0, cfg.classes, (1, cfg.groups), generator=g)
        stoch = torch.nn.functional.one_hot(classes, cfg.classes).float().reshape(1, -1)
    else:
        stoch = torch.randn(1, cfg.stoch, generator=g)
    state = {"deter": deter, "stoch": stoch}
    latent = LatentModel.from_rssm(rssm, num_actions=act_dim if discrete else None)
    latent.set_states(state)
    # the C++ latent returns equal the torch objective's on the same candidates (a check of what is timed)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        start = {k: v.expand(64, -1) for k, v in state.items()}
        if discrete:
            cand = rng.integers(0, act_dim, (1, 64, H, 1)).astype(np.float64)
            one_hot = torch.nn.functional.one_hot(torch.as_tensor(cand[0, ..., 0]).long(), act_dim).float()
            ref = rssm.imagine_returns(start, one_hot)
        else:
            cand = rng.uniform(-1, 1, (1, 64, H, A))
            ref = rssm.imagine_returns(start, torch.as_tensor(cand[0]).float())
    max_err = float(np.abs(latent.evaluate(cand)[0] - ref.numpy()).max())
    counter = iter(range(10**9))
    if discrete:
        planner = CategoricalCEM(horizon=H, population=N, num_elites=K, iterations=ITERS, alpha=0.1, gamma=1.0)
        objective = torch_categorical_objective(rssm, state, 1.0)

        def torch_plan():
            with torch.no_grad():
                return planner.plan(objective, num_actions=act_dim, num_problems=1, seed=0, dtype=torch.float32)

        contenders = {
            "nextrl": lambda: planner.plan(latent, seed=0, round=next(counter)),
            "torch": torch_plan,
        }
        # the same seed: both paths draw the same candidates (inverse CDF of the same uniforms)
        a, b = planner.plan(latent, seed=0), torch_plan()
        agreement = {
            "same_plan_as_torch": bool(np.array_equal(a.actions, b.actions.numpy())),
            "max_abs_prob_diff_vs_torch": float(np.abs(a.std - b.std.numpy()).max()),
        }
        planner_name, peer_name = "CategoricalCEM", "torch path (CategoricalCEM over one-hot RSSM.imagine_returns)"
    else:
        planner = CEM(horizon=H, population=N, num_elites=K, iterations=ITERS, alpha=0.0, gamma=1.0, init_std=0.5)
        low, high = -np.ones(A), np.ones(A)
        gen = torch.Generator().manual_seed(0)
        low_t, high_t = torch.as_tensor(low, dtype=torch.float32), torch.as_tensor(high, dtype=torch.float32)
        contenders = {
            "nextrl": lambda: planner.plan(latent, low=low, high=high, seed=0, round=next(counter)),
            "torch": lambda: torch_latent_cem(rssm, state, low_t, high_t, gen),
        }
        agreement = {}
        planner_name, peer_name = "CEM", "torch loop (RSSM.imagine_returns)"
    wall, cpu = {k: [] for k in contenders}, {k: [] for k in contenders}
    for run in contenders.values():  # warm-up
        run()
    for _ in range(args.rounds):  # round-robin, both clocks per call
        for key, run in contenders.items():
            w0, c0 = time.perf_counter(), time.process_time()
            run()
            cpu[key].append(time.process_time() - c0)
            wall[key].append(time.perf_counter() - w0)
    times = cpu if args.clock == "cpu" else wall
    ours, peer = benchmark.reduce_times(times["nextrl"]), benchmark.reduce_times(times["torch"])
    steps = N * H * ITERS
    flops = dense_flops(rssm)
    latent_desc = f"categorical {cfg.groups}x{cfg.classes}, mode" if name == "categorical" else f"stoch {cfg.stoch}"
    actions_desc = f"{act_dim} discrete actions" if discrete else f"{A}-D box actions"
    return benchmark.result(
        "world_models",
        f"PlaNet latent {planner_name} {N}x{H}x{ITERS} (deter {cfg.deter}, {latent_desc}; {actions_desc})",
        ours,
        peer_name,
        peer,
        candidates=N,
        horizon=H,
        iterations=ITERS,
        elites=K,
        deter=cfg.deter,
        stoch=cfg.stoch_size,
        latent=cfg.latent,
        num_actions=act_dim if discrete else 0,
        hidden=cfg.hidden,
        threads=1,
        latent_steps_per_action=steps,
        latent_steps_per_s=steps / ours,
        torch_latent_steps_per_s=steps / peer,
        flops_per_latent_step=flops,
        gflops=steps * flops / ours / 1e9,
        torch_gflops=steps * flops / peer / 1e9,
        peak_gflops_1thread_sgemm=peak / 1e9,
        peak_clock=args.clock,
        fraction_of_peak=steps * flops / ours / peak,
        torch_fraction_of_peak=steps * flops / peer / peak,
        max_abs_return_error_vs_torch=max_err,
        clock=args.clock,
        wall_s={k: benchmark.reduce_times(v) for k, v in wall.items()},
        cpu_s={k: benchmark.reduce_times(v) for k, v in cpu.items()},
        wall_ratio=benchmark.reduce_times(wall["torch"]) / benchmark.reduce_times(wall["nextrl"]),
        cpu_ratio=benchmark.reduce_times(cpu["torch"]) / benchmark.reduce_times(cpu["nextrl"]),
        isa=latent.isa,
        torch=torch.__version__,
        rounds=args.rounds,
        stat="median",
        **agreement,
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per contender (median reported)")
    p.add_argument("--out", help="append one JSON line per case to this file")
    p.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="the reported times: process CPU seconds (default: robust on a shared, loaded machine; both contenders "
        "run one thread) or wall seconds; the other clock's ratio is reported too",
    )
    p.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES), help="cases to run (default: all)")
    args = p.parse_args(argv)

    import nextrl
    from nextrl.experiments import benchmark

    nextrl.set_num_threads(1)
    torch.set_num_threads(1)
    peak = gemm_peak(args.clock)
    results = [run_case(name, args, peak, benchmark) for name in args.cases]
    print(f"{'case':<96} {'nextrl ms/action':>17} {'torch ms/action':>16} {'ratio':>7}")
    for r in results:
        e = r.extra
        print(f"{r.case:<96} {r.ours_s * 1e3:17.1f} {r.peer_s * 1e3:16.1f} {r.ratio:7.2f}")
        print(
            f"    latent steps/s: nextrl {e['latent_steps_per_s']:.3g}, torch {e['torch_latent_steps_per_s']:.3g}; "
            f"{e['gflops']:.1f} vs {e['torch_gflops']:.1f} GFLOP/s = {e['fraction_of_peak']:.0%} vs "
            f"{e['torch_fraction_of_peak']:.0%} of the 1-thread sgemm peak ({e['peak_gflops_1thread_sgemm']:.1f} "
            f"GFLOP/s), kernel {e['isa']}; max |return error| vs torch {e['max_abs_return_error_vs_torch']:.1e}"
        )
        ratios = f"ratio by CPU time {e['cpu_ratio']:.2f}, by wall time {e['wall_ratio']:.2f}"
        same = f"; same plan as torch: {e['same_plan_as_torch']}" if "same_plan_as_torch" in e else ""
        print(f"    {ratios} (reported: {e['clock']}){same}")
    print("results saved to", benchmark.save_results(args.out, "world_models", results, **benchmark.stamp()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
