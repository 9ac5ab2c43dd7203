"""The federated loop of nextrl.federated.client on Flower (Message API of flwr 1.42): a ServerApp and a ClientApp.

`server_app(make_model, cfg)` holds the server: it waits for the SuperNodes, sends the global flat vector
(strategies.flatten of the model's parameters) to every node in a "train" message, receives each node's update and
env-step count, drops non-finite updates (counted), aggregates them by cfg.aggregator (strategies.aggregate), applies
the optional FedAdam / FedYogi server step, and then asks every node for the evaluation return of the new global
policy (carried by the next round's train replies, and by one "evaluate" message after the last round).
`client_app(make_model, make_client)` holds a node: `make_client(partition_id)` builds its Client (env and
TrainFn) from the node config's "partition-id", and it runs client.local_update and client.evaluate_policy. Seeds
follow the in-process loop (client i of round r trains with seed + 1000 r + i and evaluates with seed + 7919 r + i),
so n SuperNodes with partition ids 0..n-1 give the same model and returns as
client.run on the same n clients.

The run config (pyproject's [tool.flwr.app.config], or `flwr run --run-config`) may set "num-server-rounds",
"seed", "num-supernodes" (nodes to wait for), "eval-episodes", "aggregator" and "result-path" (an .npz the
ServerApp writes: the final vector "x", "eval_returns" [rounds + 1, n], "dropped" and the per-round timing: "build_s",
"round_s", "unpack_s", "aggregate_s" [rounds], "client_eval_s", "client_train_s", "downlink_s" (server send to the
ClientApp's start) and "uplink_s" (the ClientApp's reply to the server's receipt) [rounds, n]). DP, compression, client
sampling and Byzantine attacks stay with the in-process loop: a config asking for them is refused.

`simulate(make_model, make_client, cfg, num_supernodes)` runs the same two apps in one process through Flower's
simulation engine (flwr.simulation.run_simulation: the ServerApp in a thread, each virtual SuperNode's ClientApp in
a Ray actor) and returns the result the ServerApp wrote; it equals client.run on the same clients.

Flower is the `flower` extra (`pip install "nextrl[flower]"`), imported only when an app is built; the simulation
engine needs Ray, the `flower-sim` extra (`pip install "nextrl[flower-sim]"`, flwr[simulation]==1.42.0).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from nextrl.federated.client import Client, FederatedConfig, _load, evaluate_policy, local_update
from nextrl.federated.strategies import ServerOptimizer, aggregate, drop_nonfinite, flatten


def _flwr():
    try:
        import flwr.app
        import flwr.clientapp
        import flwr.serverapp
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            'nextrl.federated.flower needs Flower: pip install "nextrl[flower]" (the flower extra, flwr==1.42.0)'
        ) from e
    return flwr


def check_config(fn: str, cfg: FederatedConfig) -> None:
    """ValueError for the in-process-only options (see the module docstring)."""
    unsupported = {
        "clients_per_round": cfg.clients_per_round != 0,
        "dp_clip": cfg.dp_clip > 0,
        "compress_ratio": cfg.compress_ratio < 1,
        "compress_levels": cfg.compress_levels > 0,
        "attack": cfg.attack is not None,
    }
    bad = [k for k, v in unsupported.items() if v]
    if bad:
        raise ValueError(f"{fn}: {bad} are options of the in-process loop (client.run), not of the Flower apps")


def config_from_run(cfg: FederatedConfig, run_config) -> FederatedConfig:
    """cfg with "num-server-rounds", "eval-episodes" and "aggregator" of a Flower run config applied."""
    over = {}
    if "num-server-rounds" in run_config:
        over["rounds"] = int(run_config["num-server-rounds"])
    if "eval-episodes" in run_config:
        over["eval_episodes"] = int(run_config["eval-episodes"])
    if "aggregator" in run_config:
        over["aggregator"] = str(run_config["aggregator"])
    return dataclasses.replace(cfg, **over)


def _wait_for_nodes(grid, num_nodes: int, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= num_nodes:
            return nodes
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"flower server: {num_nodes} SuperNodes expected, {len(nodes)} connected in {timeout_s} s"
            )
        time.sleep(0.5)


def _replies(fn: str, replies) -> list:
    out = []
    for msg in replies:
        if msg.has_error():
            raise RuntimeError(f"{fn}: a ClientApp failed: {msg.error.reason}")
        out.append(msg)
    return sorted(out, key=lambda m: int(m.content["meta"]["partition_id"]))


def server_app(
    make_model: Callable[[], nn.Module],
    cfg: FederatedConfig,
    *,
    node_timeout_s: float = 120.0,
    run_config: dict | None = None,
):
    """A flwr ServerApp running cfg's rounds over every connected SuperNode (see the module docstring).
    `run_config` holds defaults of the run config keys (the run's own config overrides them)."""
    check_config("server_app", cfg)
    flwr = _flwr()
    from flwr.app import Array, ArrayRecord, ConfigRecord, Message, RecordDict

    app = flwr.serverapp.ServerApp()

    @app.main()
    def main(grid, context) -> None:
        rc = {**(run_config or {}), **context.run_config}
        run_cfg = config_from_run(cfg, rc)
        check_config("server_app", run_cfg)
        seed = int(rc.get("seed", 0))
        nodes = _wait_for_nodes(grid, int(rc.get("num-supernodes", 1)), node_timeout_s)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = make_model()
        x, _ = flatten(dict(model.named_parameters()))
        server = (
            ServerOptimizer(x, run_cfg.server_optimizer, lr=run_cfg.server_lr) if run_cfg.server_optimizer else None
        )

        def send(kind: str, r: int, vec: torch.Tensor):
            t0 = time.perf_counter()
            msgs = [
                Message(
                    RecordDict(
                        {
                            "x": ArrayRecord({"x": Array(vec.numpy())}),
                            "config": ConfigRecord(
                                {
                                    "round": r,
                                    "seed": seed,
                                    "prox_mu": run_cfg.prox_mu,
                                    "episodes": run_cfg.eval_episodes,
                                }
                            ),
                        }
                    ),
                    dst_node_id=node,
                    message_type=kind,
                    group_id=str(r),
                )
                for node in nodes
            ]
            timing["build_s"].append(time.perf_counter() - t0)
            return _replies(f"server_app ({kind}, round {r})", grid.send_and_receive(msgs))

        # a train reply also carries the evaluation return of the global vector it was sent (before local training),
        # so the rounds need one "evaluate" message in all, after the last round
        # timing (seconds, saved with the result): per train round the message building, the send-and-receive
        # round trip (transport, the nodes' work and Flower's polling), the updates' unpacking and the aggregation;
        # per node its evaluation and local training (measured in the ClientApp), and by the wall clock the time from
        # sending to the ClientApp's start (downlink) and from its reply to the server's receipt (uplink)
        eval_returns, dropped = [], []
        keys = ("build_s", "round_s", "unpack_s", "aggregate_s", "client_eval_s", "client_train_s")
        timing = {k: [] for k in (*keys, "downlink_s", "uplink_s")}
        for r in range(1, run_cfg.rounds + 1):
            sent_at, t0 = time.time(), time.perf_counter()
            replies = send("train", r, x)
            t1, received_at = time.perf_counter(), time.time()
            eval_returns.append([float(m.content["meta"]["eval_return"]) for m in replies])
            updates = torch.stack([torch.from_numpy(m.content["update"]["u"].numpy().copy()) for m in replies])
            weights = [int(m.content["meta"]["num_samples"]) for m in replies]
            t2 = time.perf_counter()
            stacked, w, nd = drop_nonfinite(updates, weights)
            delta = aggregate(run_cfg.aggregator, stacked, w, beta=run_cfg.beta, num_byzantine=run_cfg.num_byzantine)
            x = server.step(delta) if server else x + run_cfg.server_lr * delta
            timing["aggregate_s"].append(time.perf_counter() - t2)
            timing["round_s"].append(t1 - t0)
            timing["unpack_s"].append(t2 - t1)
            for key in ("eval_s", "train_s"):
                timing[f"client_{key}"].append([float(m.content["meta"][key]) for m in replies])
            timing["downlink_s"].append([float(m.content["meta"]["received_at"]) - sent_at for m in replies])
            timing["uplink_s"].append([received_at - float(m.content["meta"]["replied_at"]) for m in replies])
            dropped.append(nd)
        eval_returns.append([float(m.content["meta"]["eval_return"]) for m in send("evaluate", run_cfg.rounds + 1, x)])
        if rc.get("result-path"):
            np.savez(
                str(rc["result-path"]),
                x=x.numpy(),
                eval_returns=np.array(eval_returns),
                dropped=np.array(dropped),
                **{k: np.array(v[: run_cfg.rounds]) for k, v in timing.items()},
            )

    return app


def client_app(make_model: Callable[[], nn.Module], make_client: Callable[[int], Client]):
    """A flwr ClientApp: the node's Client is make_client(node_config["partition-id"]) (see the module docstring)."""
    flwr = _flwr()
    from flwr.app import Array, ArrayRecord, Message, MetricRecord, RecordDict

    app = flwr.clientapp.ClientApp()
    cache: dict[int, Client] = {}

    def setup(message, context):
        pid = int(context.node_config["partition-id"])
        if pid not in cache:
            cache[pid] = make_client(pid)
        model = make_model()
        x, spec = flatten(dict(model.named_parameters()))
        vec = torch.from_numpy(message.content["x"]["x"].numpy().copy())
        if vec.shape != x.shape:
            raise ValueError(f"client_app: the global vector must have shape {list(x.shape)}, got {list(vec.shape)}")
        return pid, cache[pid], model, vec.to(x.dtype), spec, message.content["config"]

    def evaluation(pid, client, model, vec, spec, c, r):
        _load(model, vec, spec)
        return evaluate_policy(model, client.env, int(c["episodes"]), int(c["seed"]) + 7919 * r + pid)

    @app.train()
    def train(message, context):
        received_at = time.time()  # wall clock, comparable with the server's on one machine
        pid, client, model, vec, spec, c = setup(message, context)
        r = int(c["round"])
        t0 = time.perf_counter()
        ret = evaluation(pid, client, model, vec, spec, c, r - 1)
        t1 = time.perf_counter()
        u, num_samples = local_update(
            make_model, vec, spec, client, int(c["seed"]) + 1000 * r + pid, float(c["prox_mu"])
        )
        t2 = time.perf_counter()
        meta = MetricRecord(
            {
                "partition_id": pid,
                "num_samples": int(num_samples),
                "eval_return": ret,
                "eval_s": t1 - t0,
                "train_s": t2 - t1,
                "received_at": received_at,
            }
        )
        content = RecordDict({"update": ArrayRecord({"u": Array(u.numpy())}), "meta": meta})
        meta["replied_at"] = time.time()
        return Message(content, reply_to=message)

    @app.evaluate()
    def evaluate(message, context):
        pid, client, model, vec, spec, c = setup(message, context)
        ret = evaluation(pid, client, model, vec, spec, c, int(c["round"]) - 1)
        return Message(RecordDict({"meta": MetricRecord({"partition_id": pid, "eval_return": ret})}), reply_to=message)

    return app


def simulate(
    make_model: Callable[[], nn.Module],
    make_client: Callable[[int], Client],
    cfg: FederatedConfig,
    num_supernodes: int,
    *,
    seed: int = 0,
    num_cpus: int | None = None,
) -> dict[str, np.ndarray]:
    """Runs server_app(make_model, cfg) and client_app(make_model, make_client) on Flower's simulation engine with
    `num_supernodes` virtual SuperNodes (partition ids 0 .. num_supernodes - 1), each ClientApp in a Ray actor of
    1 CPU; Ray gets `num_cpus` CPUs (None: all). Returns {"x": final global vector [d], "eval_returns": [rounds + 1,
    num_supernodes], "dropped": [rounds]}, the same as client.run(make_model, clients, cfg, seed=seed) gives."""
    check_config("simulate", cfg)
    if isinstance(num_supernodes, bool) or not isinstance(num_supernodes, int) or num_supernodes < 1:
        raise ValueError(f"simulate: num_supernodes must be an int >= 1, got {num_supernodes!r}")
    _flwr()
    try:
        import ray  # noqa: F401
        from flwr.simulation import run_simulation
    except ImportError as e:
        raise ImportError(
            "nextrl.federated.flower.simulate needs Flower's simulation engine (Ray): "
            'pip install "nextrl[flower-sim]" (the flower-sim extra, flwr[simulation]==1.42.0)'
        ) from e
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # Ray's FutureWarning on num_gpus=0
    init_args = {"include_dashboard": False, "log_to_driver": False}
    if num_cpus is not None:
        init_args["num_cpus"] = int(num_cpus)
    with tempfile.TemporaryDirectory(prefix="nextrl_flower_sim_") as tmp:
        path = os.path.join(tmp, "result.npz")
        server = server_app(
            make_model, cfg, run_config={"seed": seed, "num-supernodes": num_supernodes, "result-path": path}
        )
        run_simulation(
            server,
            client_app(make_model, make_client),
            num_supernodes,
            backend_config={"init_args": init_args, "client_resources": {"num_cpus": 1, "num_gpus": 0}},
        )
        if not os.path.exists(path):
            raise RuntimeError("simulate: the simulation ended without a result; Flower's log above says why")
        with np.load(path) as f:
            return {k: f[k] for k in ("x", "eval_returns", "dropped")}


__all__ = ["check_config", "client_app", "config_from_run", "server_app", "simulate"]
