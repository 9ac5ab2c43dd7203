"""Multi-agent learners on nextrl.marl's batched envs ([num_envs, num_agents, ...]).

Value decomposition (one file each; shared agent network, episode replay and loop in `common`): `iql`
(independent Q-learning), `vdn` (Sunehag et al. 2018, Q_tot = sum of agents' Q) and `qmix` (Rashid et al. 2018,
monotonic hypernetwork mixer on the global state)."""
