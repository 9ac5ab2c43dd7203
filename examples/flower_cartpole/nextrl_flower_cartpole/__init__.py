"""Federated PPO on CartPole clients (nextrl.federated.flower)."""
