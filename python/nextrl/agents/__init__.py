"""Agents in PyTorch: one file per algorithm (config dataclass, pure loss functions, train()).

Shared pieces: common (TrainResult, EpisodeTracker, seeding, evaluate, checkpoints), networks (MLP, GridCNN,
GRUCore, policy heads, ActorCritic), rollout (on-policy storage and collection), returns (GAE, n-step,
discounted returns and V-trace in C++). On-policy algorithms: reinforce, a2c, ppo, trpo."""
