"""Planning over action sequences with compiled rollouts: CEM (random shooting as its degenerate case), iCEM and
MPPI over a rollout model, and an MPC controller that acts on a whole vector env.

    from nextrl.envs import PendulumVectorEnv
    from nextrl.planning import CEM, MPC

    env = PendulumVectorEnv(num_envs=4)
    env.reset(seed=0)
    run = MPC(env, CEM(horizon=30, population=200, num_elites=20, iterations=5)).run(200)

Models: `ExactModel(env)` (the compiled env's own dynamics from copied states, rolled out in C++),
`LearnedModel.from_torch(GaussianEnsemble(...))` (a learned ensemble with PETS particles, in C++) or a torch
objective over candidate sequences (nextrl.planning.models). Planners: nextrl.planning.optimizers. The C++
kernels: csrc/planning/.
"""

from nextrl.planning.ensemble import GaussianEnsemble, LearnedModel
from nextrl.planning.models import ExactModel
from nextrl.planning.mpc import MPC, MPCRun
from nextrl.planning.optimizers import CEM, ICEM, MPPI, CategoricalCEM, PlanResult

__all__ = [
    "CEM",
    "ICEM",
    "MPC",
    "MPPI",
    "CategoricalCEM",
    "ExactModel",
    "GaussianEnsemble",
    "LearnedModel",
    "MPCRun",
    "PlanResult",
]
