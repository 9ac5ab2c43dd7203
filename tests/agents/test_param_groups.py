"""Per-parameter-group learning rates (networks.param_groups, config field `param_lrs`): the parsing and
matching rules, and for every trainer that the groups and their rates reach the optimizers it builds (the
optimizers are recorded as they are constructed) and that a group's rate acts (a group at a negligible rate
does not move while the rest trains)."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import pytest
import torch
from torch import nn

from nextrl.agents import a2c, ddpg, dqn, ppo, reinforce, sac, sac_discrete, td3, trpo
from nextrl.agents.networks import param_groups, parse_param_lrs, preset_param_lrs, scale_lrs
from nextrl.experiments.train import parse_overrides

torch.set_num_threads(1)


def _net() -> nn.Module:
    m = nn.Module()
    m.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    m.scales = nn.Parameter(torch.ones(3))
    return m


def test_parse_accepts_strings_and_mappings():
    assert parse_param_lrs("f", ("weights=0.01", "*.bias=1e-4")) == [("weights", 0.01), ("*.bias", 1e-4)]
    assert parse_param_lrs("f", {"actor.*": 3e-3}) == [("actor.*", 3e-3)]
    assert parse_param_lrs("f", ()) == []


@pytest.mark.parametrize(
    "spec, match",
    [
        (("weights",), "must be 'pattern=lr'"),
        (("weights=fast",), "lr must be a number, got 'fast'"),
        (("weights=0",), r"param_lrs\['weights'\] must be a finite number > 0, got 0.0"),
        (("weights=-1",), "must be a finite number > 0"),
        (("weights=nan",), "must be a finite number > 0"),
        (("=0.1",), "empty pattern"),
        ({"weights": True}, "must be a finite number > 0"),
    ],
)
def test_parse_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_param_lrs("PPOConfig", spec)


def test_parse_refuses_a_bare_string():
    with pytest.raises(TypeError, match="tuple of 'pattern=lr' strings"):
        parse_param_lrs("PPOConfig", "weights=0.1")


def test_groups_first_match_wins_and_rest_is_default():
    net = _net()
    groups = param_groups("f", net, 1e-3, ("body.0.*=0.1", "weight=0.2", "scales=0.3"))
    by_name = {g["name"]: g for g in groups}
    assert [g["name"] for g in groups] == ["body.0.*", "weight", "scales", "default"]
    assert by_name["body.0.*"]["params"] == [net.body[0].weight, net.body[0].bias]
    assert by_name["weight"]["params"] == [net.body[2].weight]  # "weight" matches the last component
    assert by_name["scales"]["params"] == [net.scales]
    assert by_name["default"]["params"] == [net.body[2].bias]
    assert [g["lr"] for g in groups] == [0.1, 0.2, 0.3, 1e-3]
    assert all(g["base_lr"] == g["lr"] for g in groups)


def test_groups_prefix_module_names_and_skip_frozen_parameters():
    net = _net()
    net.body[2].bias.requires_grad_(False)
    groups = param_groups("f", {"actor": net, "none": None}, 1e-3, ("actor.scales=0.5",))
    assert [(g["name"], len(g["params"])) for g in groups] == [("actor.scales", 1), ("default", 3)]


def test_unmatched_pattern_is_an_error_listing_the_names():
    with pytest.raises(ValueError, match=r"f: param_lrs pattern 'weights' matches no parameter; the parameters are"):
        param_groups("f", _net(), 1e-3, ("weights=0.1",))
    # a pattern that matches in another optimizer of the same trainer is fine
    groups = param_groups("f", _net(), 1e-3, ("weights=0.1",), all_names=["q.weights"])
    assert [g["name"] for g in groups] == ["default"]


def test_scale_lrs_keeps_the_ratios():
    opt = torch.optim.Adam(param_groups("f", _net(), 1e-3, ("scales=0.1",)))
    scale_lrs(opt, 0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 5e-4]
    scale_lrs(opt, 1.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1e-3]


def test_preset_rates_follow_the_configs_entries_and_need_not_match():
    net = _net()
    net.weights = nn.Parameter(torch.zeros(2))
    preset = preset_param_lrs("skolik", "actor_critic")
    groups = param_groups("f", {"actor": net}, 1e-3, ("weights=0.5",), preset=preset)
    rates = {g["name"]: g["lr"] for g in groups}
    assert rates["weights"] == 0.5  # the config's entry wins over the preset's "actor.weights"
    assert rates["actor.scales"] == dict(parse_param_lrs("f", preset))["actor.scales"]
    assert "critic.*" not in rates  # the preset's critic entry matched nothing, without an error
    assert preset_param_lrs("mlp", "actor_critic") == ()


def test_set_parses_param_lrs_and_network():
    got = parse_overrides(ppo.PPOConfig, ["param_lrs=actor.*=0.01,critic.0.weight=1e-3", "network=skolik"])
    assert got == {"param_lrs": ("actor.*=0.01", "critic.0.weight=1e-3"), "network": "skolik"}
    cfg = ppo.PPOConfig(**got)
    assert cfg.param_lrs == ("actor.*=0.01", "critic.0.weight=1e-3")


@pytest.mark.parametrize(
    "cls", [ppo.PPOConfig, a2c.A2CConfig, reinforce.ReinforceConfig, trpo.TRPOConfig, dqn.DQNConfig, sac.SACConfig]
)
def test_configs_refuse_bad_param_lrs(cls):
    with pytest.raises(ValueError, match=f"{cls.__name__}: param_lrs entries must be 'pattern=lr'"):
        cls(param_lrs=("actor.weights",))


@pytest.mark.parametrize("cls", [ppo.PPOConfig, a2c.A2CConfig, reinforce.ReinforceConfig, dqn.DQNConfig])
def test_configs_refuse_unknown_network(cls):
    names = "'mlp', 'skolik'" if cls is dqn.DQNConfig else "'mlp', 'skolik', 'softmax_pqc', 'raw_pqc'"
    with pytest.raises(ValueError, match=f"{cls.__name__}: network must be one of {names}, got 'qnn'"):
        cls(network="qnn")


# ----------------------------------------------------------------------------------------------- every trainer
ON = dict(num_steps=8)
OFF = dict(total_timesteps=60, learning_starts=20, batch_size=8, hidden=(8, 8), train_frequency=2)
# name: (module, config, env id, param_lrs, {optimizer index: {group name: (lr, [dotted parameter names])}})
CASES = {
    "ppo": (
        ppo,
        ppo.PPOConfig(**ON, total_timesteps=16, num_minibatches=1, update_epochs=1, hidden=(8,)),
        "CartPole-v1",
        ("actor.*=0.003", "critic.2.weight=0.002"),
        {0: {"actor.*": (0.003, ["actor.0.weight", "actor.0.bias", "actor.2.weight", "actor.2.bias"]),
             "critic.2.weight": (0.002, ["critic.2.weight"]),
             "default": (2.5e-4, ["critic.0.weight", "critic.0.bias", "critic.2.bias"])}},
    ),
    "a2c": (
        a2c,
        a2c.A2CConfig(**ON, total_timesteps=16, hidden=(8,)),
        "CartPole-v1",
        ("critic.*=0.004",),
        {0: {"critic.*": (0.004, ["critic.0.weight", "critic.0.bias", "critic.2.weight", "critic.2.bias"]),
             "default": (7e-4, ["actor.0.weight", "actor.0.bias", "actor.2.weight", "actor.2.bias"])}},
    ),
    "reinforce": (
        reinforce,
        reinforce.ReinforceConfig(**ON, total_timesteps=16, hidden=(8,)),
        "Pendulum-v1",
        ("log_std=0.05",),
        {0: {"log_std": (0.05, ["head.log_std"]),
             "default": (1e-3, [f"{m}.{i}.{p}" for m in ("actor", "critic") for i in (0, 2)
                                for p in ("weight", "bias")])}},
    ),
    "trpo": (
        trpo,
        trpo.TRPOConfig(**ON, total_timesteps=16, vf_epochs=1, hidden=(8,)),
        "CartPole-v1",
        ("*.bias=0.02",),
        {0: {"*.bias": (0.02, ["critic.0.bias", "critic.2.bias"]),
             "default": (1e-3, ["critic.0.weight", "critic.2.weight"])}},
    ),
    "dqn": (
        dqn,
        dqn.DQNConfig(**OFF, gradient_steps=1, target_network_frequency=2),
        "CartPole-v1",
        ("q_network.0.*=0.03",),
        {0: {"q_network.0.*": (0.03, ["q_network.0.weight", "q_network.0.bias"]),
             "default": (1e-3, [f"q_network.{i}.{p}" for i in (2, 4) for p in ("weight", "bias")])}},
    ),
    "ddpg": (
        ddpg,
        ddpg.DDPGConfig(**OFF),
        "Pendulum-v1",
        ("actor.*=3e-5", "critic.*=3e-3"),
        {0: {"actor.*": (3e-5, None)}, 1: {"critic.*": (3e-3, None)}},
    ),
    "td3": (
        td3,
        td3.TD3Config(**OFF),
        "Pendulum-v1",
        ("*.bias=0.01", "critic.biases.*=0.02"),
        {0: {"*.bias": (0.01, ["actor.net.0.bias", "actor.net.2.bias", "actor.net.4.bias"]), "default": (1e-3, None)},
         1: {"critic.biases.*": (0.02, ["critic.biases.0", "critic.biases.1", "critic.biases.2"]),
             "default": (1e-3, ["critic.weights.0", "critic.weights.1", "critic.weights.2"])}},
    ),
    "sac": (
        sac,
        sac.SACConfig(**OFF),
        "Pendulum-v1",
        ("log_alpha.value=0.07",),
        {0: {"default": (1e-3, None)}, 1: {"default": (1e-3, None)},
         2: {"log_alpha.value": (0.07, ["log_alpha.value"])}},
    ),
    "sac_discrete": (
        sac_discrete,
        sac_discrete.SACDiscreteConfig(**OFF, policy_lr=2e-4),
        "CartPole-v1",
        ("actor.0.weight=0.006",),
        {0: {"actor.0.weight": (0.006, ["actor.0.weight"]), "default": (2e-4, None)},
         1: {"default": (1e-3, None)}, 2: {"default": (1e-3, None)}},
    ),
}  # fmt: skip


@pytest.fixture
def optimizers(monkeypatch):
    """Every torch optimizer constructed during the test, in order; each with `initial`, its parameters' values
    when it was made ({id(parameter): copy})."""
    made = []
    init = torch.optim.Optimizer.__init__

    def record(self, params, defaults):
        init(self, params, defaults)
        self.initial = {id(p): p.detach().clone() for g in self.param_groups for p in g["params"]}
        made.append(self)

    monkeypatch.setattr(torch.optim.Optimizer, "__init__", record)
    return made


def _names(result) -> dict[int, str]:
    """id(parameter) -> dotted name over the result's modules (the policy's own names for on-policy)."""
    out = {}
    for key, module in result.modules.items():
        prefix = "" if key == "policy" else f"{key}."
        for n, p in module.named_parameters():
            out.setdefault(id(p), prefix + n)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_groups_reach_the_optimizers(name, optimizers):
    module, cfg, env_id, lrs, expected = CASES[name]
    cfg = dataclasses.replace(cfg, param_lrs=lrs)
    env = gym.make_vec(env_id, num_envs=2, vectorization_mode="sync")
    result = module.train(env, cfg, seed=0)
    names = _names(result)
    assert len(optimizers) == len(expected)
    for k, groups in expected.items():
        opt = optimizers[k]
        got = {g["name"]: g for g in opt.param_groups}
        assert set(got) == set(groups), (k, sorted(got))
        for gname, (lr, params) in groups.items():
            assert got[gname]["base_lr"] == pytest.approx(lr)
            if params is not None:
                assert sorted(names[id(p)] for p in got[gname]["params"]) == sorted(params)
        # every trainable parameter is in exactly one group
        ids = [id(p) for g in opt.param_groups for p in g["params"]]
        assert len(ids) == len(set(ids))


def test_unmatched_pattern_is_refused_by_a_trainer():
    env = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    cfg = ppo.PPOConfig(total_timesteps=16, num_steps=8, param_lrs=("actor.scales=0.1",))
    with pytest.raises(ValueError, match="ppo.train: param_lrs pattern 'actor.scales' matches no parameter"):
        ppo.train(env, cfg, seed=0)


@pytest.mark.parametrize("name", ["ppo", "dqn"])
def test_a_group_at_a_negligible_rate_stays_put(name, optimizers):
    """The rate acts: with the critic (PPO) or the first layer (DQN) at 1e-12 those parameters keep their
    initial values while the rest moves."""
    if name == "ppo":
        module, key, still = ppo, "policy", "critic."
        cfg = ppo.PPOConfig(
            total_timesteps=64, num_steps=16, hidden=(8,), anneal_lr=False, param_lrs=("critic.*=1e-12",)
        )
    else:
        module, key, still = dqn, "q_network", "0."
        cfg = dataclasses.replace(CASES["dqn"][1], param_lrs=("q_network.0.*=1e-12",))
    result = module.train(gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync"), cfg, seed=0)
    initial = optimizers[0].initial
    for n, p in result.modules[key].named_parameters():
        diff = float((p.detach() - initial[id(p)]).abs().max())
        if n.startswith(still):
            assert diff < 1e-9, n
        elif not n.startswith("head."):
            assert diff > 1e-5, n
