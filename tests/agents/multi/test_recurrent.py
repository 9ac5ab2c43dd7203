"""GRU agents (cfg.recurrent): the window unroll equals step-by-step acting with resets at episode starts, and
recurrent VDN / QMIX learn the two-step game's values 7 / 8 from windows of stored steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextrl.agents.multi import common, qmix, vdn
from nextrl.agents.multi.common import AgentQNetwork, RecurrentAgentQNetwork
from nextrl.marl import TwoStepGameVectorEnv

from .test_two_step_game import SETTINGS, first_state_value


def test_unroll_equals_stepping_with_resets():
    torch.manual_seed(0)
    net = RecurrentAgentQNetwork(5, 3, 2, hidden_size=8)
    obs = torch.randn(4, 6, 2, 5)
    is_first = torch.zeros(4, 6, dtype=torch.bool)
    is_first[0, 0] = is_first[1, 3] = is_first[2, 5] = True
    q = net.unroll(obs, is_first)
    hidden = net.initial_state(4)
    for t in range(6):
        hidden = hidden * (~is_first[:, t]).float()[:, None, None]
        q_t, hidden = net.step(obs[:, t], hidden)
        torch.testing.assert_close(q[:, t], q_t, rtol=1e-5, atol=1e-6)
    # forward is the first step of an episode (zero state)
    torch.testing.assert_close(net(obs[:, 0]), net.step(obs[:, 0], net.initial_state(4))[0])
    # the state carries information: the same observation after another history gives other Q-values
    assert not torch.allclose(q[1, 2], net(obs[1, 2]))


@pytest.mark.parametrize("seed", [0, 1])
def test_recurrent_vdn_7_and_qmix_8(seed):
    settings = dict(SETTINGS, recurrent=True, seq_len=4, batch_size=16)
    vdn_result = vdn.train(TwoStepGameVectorEnv(8), vdn.VDNConfig(**settings), seed=seed)
    qmix_result = qmix.train(
        TwoStepGameVectorEnv(8), qmix.QMIXConfig(**settings, mixing_embed_dim=8, hypernet_hidden=16), seed=seed
    )
    assert isinstance(vdn_result.modules["agent_network"], RecurrentAgentQNetwork)
    v_vdn, a_vdn = first_state_value(vdn_result, "vdn")
    v_qmix, a_qmix = first_state_value(qmix_result, "qmix")
    np.testing.assert_allclose([v_vdn, v_qmix], [7.0, 8.0], rtol=0, atol=0.3)
    assert a_vdn[0] == 0 and a_qmix[0] == 1
    for result, payoff in ((vdn_result, 7.0), (qmix_result, 8.0)):
        returns = common.evaluate_team(result.modules["agent_network"], TwoStepGameVectorEnv(4), 8, seed=seed)
        np.testing.assert_allclose(returns, payoff, rtol=0, atol=1e-6)


def test_recurrent_errors():
    with pytest.raises(TypeError, match=r"vdn.train: agent_network must be RecurrentAgentQNetwork \(cfg.recurrent"):
        vdn.train(TwoStepGameVectorEnv(2), vdn.VDNConfig(recurrent=True), seed=0, agent_network=AgentQNetwork(3, 2, 2))
    with pytest.raises(TypeError, match=r"vdn.train: agent_network must be AgentQNetwork \(cfg.recurrent=False\)"):
        vdn.train(TwoStepGameVectorEnv(2), vdn.VDNConfig(), seed=0, agent_network=RecurrentAgentQNetwork(3, 2, 2))
    with pytest.raises(ValueError, match=r"QMIXConfig: burn_in must be >= 0 and seq_len >= burn_in \+ 2"):
        qmix.QMIXConfig(recurrent=True, seq_len=3, burn_in=2)
    with pytest.raises(TypeError, match="greedy_policy: agent_network must be feedforward"):
        common.greedy_policy(RecurrentAgentQNetwork(3, 2, 2))
    with pytest.raises(ValueError, match=r"RecurrentAgentQNetwork: obs must end in \(2, 3\)"):
        RecurrentAgentQNetwork(3, 2, 2)(torch.zeros(1, 3, 3))
