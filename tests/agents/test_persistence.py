"""Every learned quantity is a parameter or buffer of a returned module, so checkpoints, averaging and
loading see it: the Gaussian head's log-std and SAC's log(alpha) are trained, saved, loaded and averaged
like weights. Every algorithm's checkpoint loads with torch.load(weights_only=True) and restores a second
run's modules exactly."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import pytest
import torch

from nextrl.agents import a2c, common, ddpg, dqn, ppo, reinforce, sac, sac_discrete, td3, trpo
from nextrl.agents.offpolicy_nets import LogAlpha

torch.set_num_threads(1)

OFF = dict(total_timesteps=120, learning_starts=40, batch_size=8, hidden=(8, 8), train_frequency=2)
CASES = {
    "ppo": (
        ppo,
        ppo.PPOConfig(total_timesteps=64, num_steps=16, num_minibatches=2, update_epochs=1, hidden=(8,)),
        "Pendulum-v1",
    ),
    "a2c": (a2c, a2c.A2CConfig(total_timesteps=32, num_steps=8, hidden=(8,)), "Pendulum-v1"),
    "reinforce": (reinforce, reinforce.ReinforceConfig(total_timesteps=64, num_steps=16, hidden=(8,)), "Pendulum-v1"),
    "trpo": (trpo, trpo.TRPOConfig(total_timesteps=64, num_steps=16, vf_epochs=1, hidden=(8,)), "Pendulum-v1"),
    "dqn": (dqn, dqn.DQNConfig(**OFF, gradient_steps=1, target_network_frequency=3), "CartPole-v1"),
    "ddpg": (ddpg, ddpg.DDPGConfig(**OFF), "Pendulum-v1"),
    "td3": (td3, td3.TD3Config(**OFF), "Pendulum-v1"),
    "sac": (sac, sac.SACConfig(**OFF), "Pendulum-v1"),
    "sac_discrete": (sac_discrete, sac_discrete.SACDiscreteConfig(**OFF), "CartPole-v1"),
}


def _vec(env_id: str):
    return gym.make_vec(env_id, num_envs=2, vectorization_mode="sync")


@pytest.mark.parametrize("name", list(CASES))
def test_checkpoint_loads_weights_only_and_restores_every_tensor(name, tmp_path):
    module, cfg, env_id = CASES[name]
    trained = module.train(_vec(env_id), cfg, seed=0)
    common.save_checkpoint(tmp_path / "ckpt.pt", trained, extra={"note": name, "step": trained.global_steps})
    raw = torch.load(tmp_path / "ckpt.pt", weights_only=True)  # plain tensors, dicts, lists, numbers only
    assert raw["config"] == dataclasses.asdict(cfg) and set(raw["modules"]) == set(trained.modules)
    other = module.train(_vec(env_id), cfg, seed=1)
    before = {n: {k: v.clone() for k, v in m.state_dict().items()} for n, m in other.modules.items()}
    info = common.load_checkpoint(tmp_path / "ckpt.pt", other.modules)
    assert info["extra"] == {"note": name, "step": trained.global_steps}
    changed = 0
    for n, m in trained.modules.items():
        for k, v in m.state_dict().items():
            assert torch.equal(other.modules[n].state_dict()[k], v), (n, k)
            changed += not torch.equal(before[n][k], v)
    assert changed > 0  # the load did something: seed 1's modules differed


def test_gaussian_log_std_is_trained_saved_and_averaged(tmp_path):
    cfg = dataclasses.replace(CASES["ppo"][1], total_timesteps=256, update_epochs=2, log_std_init=-0.5)
    runs = [ppo.train(_vec("Pendulum-v1"), cfg, seed=s) for s in (0, 1)]
    policies = [r.modules["policy"] for r in runs]
    for p in policies:
        assert "head.log_std" in p.state_dict() and any(q is p.head.log_std for q in p.parameters())
        assert not torch.allclose(p.head.log_std.detach(), torch.full((1,), -0.5))  # it learned
    # federated-style averaging of the state dicts carries log-std like any weight
    avg = {k: (policies[0].state_dict()[k] + policies[1].state_dict()[k]) / 2 for k in policies[0].state_dict()}
    fresh = ppo.train(_vec("Pendulum-v1"), dataclasses.replace(cfg, total_timesteps=32), seed=2).modules["policy"]
    fresh.load_state_dict(avg)
    torch.testing.assert_close(fresh.head.log_std, (policies[0].head.log_std + policies[1].head.log_std) / 2)
    obs = torch.randn(5, 3)
    dist = fresh.dist(obs)
    torch.testing.assert_close(dist.base_dist.scale, fresh.head.log_std.exp().expand(5, 1))


def test_sac_log_alpha_is_a_trained_module_parameter():
    cfg = dataclasses.replace(CASES["sac"][1], total_timesteps=200)
    res = sac.train(_vec("Pendulum-v1"), cfg, seed=0)
    log_alpha = res.modules["log_alpha"]
    assert isinstance(log_alpha, LogAlpha) and list(log_alpha.state_dict()) == ["value"]
    assert log_alpha.value.requires_grad and log_alpha.value.item() != pytest.approx(torch.tensor(0.2).log().item())
    torch.testing.assert_close(log_alpha(), log_alpha.value.exp())
    fixed = sac.train(_vec("Pendulum-v1"), dataclasses.replace(cfg, autotune=False), seed=0)
    assert fixed.modules["log_alpha"].value.item() == pytest.approx(torch.tensor(0.2).log().item())
    res_d = sac_discrete.train(
        _vec("CartPole-v1"), dataclasses.replace(CASES["sac_discrete"][1], total_timesteps=200), seed=0
    )
    assert res_d.modules["log_alpha"].value.item() != pytest.approx(torch.tensor(0.2).log().item())
    with pytest.raises(ValueError, match="LogAlpha: alpha must be > 0, got 0.0"):
        LogAlpha(0.0)


def test_ddpg_is_td3_with_one_critic_and_no_smoothing():
    cfg = CASES["ddpg"][1]
    res = ddpg.train(_vec("Pendulum-v1"), cfg, seed=0)
    assert res.config is cfg
    assert res.modules["critic"](torch.zeros(3, 4)).shape == (3, 1)
    t3 = ddpg.td3_config(cfg)
    assert t3.num_critics == 1 and t3.policy_noise == 0.0 and t3.policy_frequency == cfg.policy_frequency
    same = td3.train(_vec("Pendulum-v1"), t3, seed=0)
    assert same.episode_returns == res.episode_returns
    for k, v in res.modules["actor"].state_dict().items():
        assert torch.equal(same.modules["actor"].state_dict()[k], v)
    with pytest.raises(ValueError, match="td3.train: num_critics must be >= 1, got 0"):
        td3.train(_vec("Pendulum-v1"), dataclasses.replace(t3, num_critics=0), seed=0)


@pytest.mark.parametrize("name", ["dqn", "ddpg", "td3", "sac", "sac_discrete"])
def test_offpolicy_train_refuses_non_vector_env(name):
    module, cfg, env_id = CASES[name]
    with pytest.raises(TypeError, match=f"{name}.train: env must be a gymnasium.vector.VectorEnv"):
        module.train(gym.make(env_id), cfg, seed=0)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("seed", [2**64, -1])
def test_train_refuses_seeds_outside_uint64(name, seed):
    # before anything is built: not torch's overflow RuntimeError, nor NumPy's or the env's own message
    module, cfg, env_id = CASES[name]
    with pytest.raises(ValueError, match=rf"^{name}.train: seed must be in \[0, 2\*\*64\), got {seed}$"):
        module.train(_vec(env_id), cfg, seed=seed)
