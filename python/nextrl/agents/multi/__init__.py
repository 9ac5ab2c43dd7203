"""Multi-agent learners on nextrl.marl's batched envs ([num_envs, num_agents, ...]).

Value decomposition, one file each: `iql` (independent Q-learning, optionally hysteretic), `vdn` (Sunehag et
al. 2018: Q_tot = sum of the agents' Q) and `qmix` (Rashid et al. 2018: monotonic hypernetwork mixer on the
global state, TD target through a target mixer), `wqmix` (Rashid et al. 2020: optimistically weighted QMIX with an
unrestricted central estimator). `common` holds what they share: the config, one agent
network for all agents with one-hot agent ids (feedforward, or GRU agents with cfg.recurrent), masked
epsilon-greedy acting, episode replay on agents.replay.SequenceReplayBuffer, the training loop and greedy
team evaluation. Policy gradient: `mappo` (Yu et al. 2022: PPO with a parameter-shared actor, a centralized
value on the global state and value normalization; IPPO with cfg.centralized_critic=False, `mappo.ippo_config`).
Actor-critic off-policy: `maddpg` (Lowe et al. 2017: per-agent actors, centralized critics on every observation and
action, target networks; continuous actions, and discrete ones through the straight-through Gumbel-softmax).
Self-play: `league` (past checkpoints rated by Elo from real matches, PFSP opponent sampling, `league.self_play`)."""
