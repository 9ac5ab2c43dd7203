"""Benchmark graphs: textbook Bayesian-network structures (edge lists from the bnlearn repository,
https://www.bnlearn.com/bnrepository/) and random DAGs with linear-Gaussian data."""

from __future__ import annotations

import numpy as np

from nextrl.causal.graphs import DAG


def random_dag(num_nodes: int, edge_prob: float = 0.2, *, seed: int | np.random.Generator) -> DAG:
    """Erdos-Renyi DAG: each pair i < j of a random node order gets the edge i -> j with prob edge_prob.
    Nodes are named 'x0'.. in a random order unrelated to the causal order."""
    if num_nodes < 1:
        raise ValueError(f"random_dag: num_nodes must be >= 1, got {num_nodes}")
    if not 0.0 <= edge_prob <= 1.0:
        raise ValueError(f"random_dag: edge_prob must be in [0, 1], got {edge_prob}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(num_nodes)
    upper = np.triu(rng.random((num_nodes, num_nodes)) < edge_prob, 1)
    adj = np.zeros((num_nodes, num_nodes), bool)
    adj[np.ix_(order, order)] = upper
    return DAG.from_adjacency(adj, [f"x{i}" for i in range(num_nodes)])


def linear_gaussian_weights(
    dag: DAG, *, low: float = 0.5, high: float = 2.0, seed: int | np.random.Generator
) -> np.ndarray:
    """Edge weights W: [p, p], W[i, j] != 0 for i -> j, |W| uniform in [low, high] with random sign."""
    rng = np.random.default_rng(seed)
    a = dag.adjacency_matrix()
    w = rng.uniform(low, high, a.shape) * rng.choice([-1.0, 1.0], a.shape)
    return np.where(a, w, 0.0)


def sample_linear_gaussian(
    dag: DAG,
    num_samples: int,
    *,
    weights: np.ndarray | None = None,
    noise_std: float | np.ndarray = 1.0,
    seed: int | np.random.Generator,
) -> np.ndarray:
    """Samples x = W^T x + e in topological order: [num_samples, p], columns in dag.nodes order."""
    rng = np.random.default_rng(seed)
    w = linear_gaussian_weights(dag, seed=rng) if weights is None else np.asarray(weights, np.float64)
    p = dag.num_nodes
    std = np.broadcast_to(np.asarray(noise_std, np.float64), (p,))
    x = rng.standard_normal((num_samples, p)) * std
    for v in dag.topological_order():
        j = dag.index(v)
        x[:, j] += x @ w[:, j]
    return x


def sample_discrete(
    dag: DAG, num_samples: int, *, cardinality: int = 3, concentration: float = 0.5, seed: int | np.random.Generator
) -> np.ndarray:
    """Categorical data from random conditional probability tables (Dirichlet(concentration)):
    [num_samples, p] int64 in dag.nodes order."""
    rng = np.random.default_rng(seed)
    p = dag.num_nodes
    x = np.zeros((num_samples, p), np.int64)
    for v in dag.topological_order():
        j = dag.index(v)
        pa = [dag.index(u) for u in dag.parents(v)]
        rows = cardinality ** len(pa)
        cpt = rng.dirichlet(np.full(cardinality, concentration), rows)  # [rows, cardinality]
        cfg = np.zeros(num_samples, np.int64)
        for k in pa:
            cfg = cfg * cardinality + x[:, k]
        u = rng.random(num_samples)
        x[:, j] = np.minimum((np.cumsum(cpt[cfg], 1) < u[:, None]).sum(1), cardinality - 1)
    return x


# Structures of the bnlearn repository networks (bnlearn model strings: "[node|parent1:parent2]...").
_MODEL_STRINGS = {
    "asia": "[asia][smoke][tub|asia][lung|smoke][bronc|smoke][either|tub:lung][xray|either][dysp|bronc:either]",
    "sachs": (
        "[PKC][PKA|PKC][Raf|PKC:PKA][Mek|PKC:PKA:Raf][Erk|Mek:PKA][Akt|Erk:PKA][P38|PKC:PKA]"
        "[Jnk|PKC:PKA][Plcg][PIP3|Plcg][PIP2|Plcg:PIP3]"
    ),
    "child": (
        "[BirthAsphyxia][Disease|BirthAsphyxia][LVH|Disease][DuctFlow|Disease][CardiacMixing|Disease]"
        "[LungParench|Disease][LungFlow|Disease][Sick|Disease][HypDistrib|DuctFlow:CardiacMixing]"
        "[HypoxiaInO2|CardiacMixing:LungParench][CO2|LungParench][ChestXray|LungParench:LungFlow]"
        "[Grunting|LungParench:Sick][LVHreport|LVH][Age|Disease:Sick][LowerBodyO2|HypDistrib:HypoxiaInO2]"
        "[RUQO2|HypoxiaInO2][CO2Report|CO2][XrayReport|ChestXray][GruntingReport|Grunting]"
    ),
    "insurance": (
        "[Age][Mileage][SocioEcon|Age][GoodStudent|Age:SocioEcon][RiskAversion|Age:SocioEcon]"
        "[OtherCar|SocioEcon][VehicleYear|SocioEcon:RiskAversion][MakeModel|SocioEcon:RiskAversion]"
        "[SeniorTrain|Age:RiskAversion][HomeBase|SocioEcon:RiskAversion]"
        "[AntiTheft|SocioEcon:RiskAversion][RuggedAuto|VehicleYear:MakeModel]"
        "[Antilock|VehicleYear:MakeModel][DrivingSkill|Age:SeniorTrain]"
        "[CarValue|VehicleYear:MakeModel:Mileage][Airbag|VehicleYear:MakeModel]"
        "[DrivQuality|RiskAversion:DrivingSkill][Theft|CarValue:HomeBase:AntiTheft]"
        "[Cushioning|RuggedAuto:Airbag][DrivHist|RiskAversion:DrivingSkill]"
        "[Accident|DrivQuality:Mileage:Antilock][ThisCarDam|RuggedAuto:Accident]"
        "[OtherCarCost|RuggedAuto:Accident][MedCost|Age:Accident:Cushioning][ILiCost|Accident]"
        "[ThisCarCost|ThisCarDam:Theft:CarValue][PropCost|ThisCarCost:OtherCarCost]"
    ),
    "alarm": (
        "[HIST|LVF][CVP|LVV][PCWP|LVV][HYP][LVV|HYP:LVF][LVF][STKV|HYP:LVF][ERLO][HRBP|ERLO:HR]"
        "[HREK|ERCA:HR][ERCA][HRSA|ERCA:HR][ANES][APL][TPR|APL][ECO2|ACO2:VLNG][KINK][MINV|INT:VLNG]"
        "[FIO2][PVS|FIO2:VALV][SAO2|PVS:SHNT][PAP|PMB][PMB][SHNT|INT:PMB][INT][PRSS|INT:KINK:VTUB]"
        "[DISC][MVS][VMCH|MVS][VTUB|DISC:VMCH][VLNG|INT:KINK:VTUB][VALV|INT:VLNG][ACO2|VALV]"
        "[CCHL|ACO2:ANES:SAO2:TPR][HR|CCHL][CO|HR:STKV][BP|CO:TPR]"
    ),
}
_SIZES = {"asia": (8, 8), "sachs": (11, 17), "child": (20, 25), "insurance": (27, 52), "alarm": (37, 46)}
NETWORKS = tuple(_MODEL_STRINGS)


def from_model_string(model: str) -> DAG:
    """A DAG from a bnlearn model string such as "[A][B|A][C|A:B]"."""
    nodes, edges = [], []
    body = model.strip()
    if not (body.startswith("[") and body.endswith("]")):
        raise ValueError(f"from_model_string: model must look like '[A][B|A]', got {model[:40]!r}")
    for term in body[1:-1].split("]["):
        child, _, parents = term.partition("|")
        nodes.append(child)
        edges.extend((p, child) for p in parents.split(":") if p)
    return DAG(nodes, edges)


def network(name: str) -> DAG:
    """A textbook network structure by name: one of NETWORKS (asia, sachs, child, insurance, alarm)."""
    if name not in _MODEL_STRINGS:
        raise ValueError(f"network: name must be one of {list(NETWORKS)}, got {name!r}")
    return from_model_string(_MODEL_STRINGS[name])
