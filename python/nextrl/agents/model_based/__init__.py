"""Model-based agents, one file each: `dyna_q` (tabular Dyna-Q / Dyna-Q+, Sutton & Barto 8.2-8.3),
`pets` (PETS, Chua et al. 2018: probabilistic ensemble, CEM through the C++ learned model), `mbpo` (MBPO, Janner et al.
2019: SAC on branched rollouts of a Gaussian ensemble), `planet` (PlaNet,
Hafner et al. 2019: RSSM + latent CEM), `dreamer` (actor-critic in imagination, Hafner et al. 2020 / 2023),
`i2a` (imagination-augmented agents on A2C, Weber et al. 2017) and `vae_planner` (the documents' imagination agent:
CEM in the variational world model's latent space plus a value trained on real returns).
MPC with the exact model of a compiled env lives in nextrl.planning (planning.MPC over planning.ExactModel)."""
