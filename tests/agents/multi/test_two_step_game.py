"""The QMIX paper's two-step game (Rashid et al. 2018, section 5.1): trained with full exploration (epsilon 1,
as the paper), VDN's greedy joint value in the first state is 7 (it goes to 2A) and QMIX's is 8 (2B, then
both agents pick their second action), read from the trained networks and confirmed by greedy play."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextrl.agents.multi import common, qmix, vdn
from nextrl.marl import TwoStepGameVectorEnv

SETTINGS = dict(
    double_q=True,
    total_timesteps=4_000,
    learning_rate=3e-3,
    gamma=1.0,
    start_e=1.0,
    end_e=1.0,
    learning_starts=64,
    batch_size=32,
    target_network_frequency=50,
    hidden=(32,),
)
FIRST = torch.tensor([[[1.0, 0.0, 0.0]] * 2])  # obs [1, 2 agents, 3] = state of the first step
STATE_2B = torch.tensor([[[0.0, 0.0, 1.0]] * 2])


def first_state_value(result, algo: str) -> tuple[float, list[int]]:
    net = result.modules["agent_network"]
    with torch.no_grad():
        greedy = net(FIRST).argmax(dim=-1)
        if algo == "qmix":
            value = qmix.joint_q(net, result.modules["mixer"], FIRST, FIRST[:, 0], greedy)
        else:
            value = vdn.joint_q(net, FIRST, greedy)
    return value.item(), greedy[0].tolist()


@pytest.mark.parametrize("seed", [0, 1])
def test_vdn_learns_7_and_qmix_8(seed):
    vdn_result = vdn.train(TwoStepGameVectorEnv(8), vdn.VDNConfig(**SETTINGS), seed=seed)
    qmix_result = qmix.train(
        TwoStepGameVectorEnv(8), qmix.QMIXConfig(**SETTINGS, mixing_embed_dim=8, hypernet_hidden=16), seed=seed
    )
    v_vdn, a_vdn = first_state_value(vdn_result, "vdn")
    v_qmix, a_qmix = first_state_value(qmix_result, "qmix")
    np.testing.assert_allclose(v_vdn, 7.0, atol=0.3)
    np.testing.assert_allclose(v_qmix, 8.0, atol=0.3)
    assert a_vdn[0] == 0 and a_qmix[0] == 1  # agent 0 picks 2A under VDN, 2B under QMIX
    with torch.no_grad():  # QMIX represents 2B's payoff 8 for both agents' second action
        q_2b = qmix.joint_q(
            qmix_result.modules["agent_network"],
            qmix_result.modules["mixer"],
            STATE_2B,
            STATE_2B[:, 0],
            torch.tensor([[1, 1]]),
        )
    np.testing.assert_allclose(q_2b.item(), 8.0, atol=0.3)
    # greedy play earns what the values say
    for result, payoff in ((vdn_result, 7.0), (qmix_result, 8.0)):
        returns = common.evaluate_team(result.modules["agent_network"], TwoStepGameVectorEnv(4), 8, seed=seed)
        np.testing.assert_allclose(returns, payoff, rtol=0, atol=1e-6)
