"""Agents in PyTorch: one file per algorithm (config dataclass, pure loss functions, train()).

Shared pieces: common (TrainResult, EpisodeTracker, seeding, evaluate, checkpoints), networks (MLP, GridCNN,
GRUCore, policy heads, ActorCritic), rollout (on-policy storage and collection), returns (GAE, n-step,
discounted returns and V-trace in C++). On-policy algorithms: reinforce, a2c, ppo, trpo.

Every train() takes a Gymnasium vector env or a nextrl.marl.MarlVectorEnv of one group, which it trains with one
policy shared by all agents (common.flatten_agents; finished agents' slots are masked)."""
