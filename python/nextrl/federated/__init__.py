"""Federated learning: aggregation strategies (strategies), client-level and local differential privacy with
Opacus's accountants (privacy), update compression with counted bytes (compression), RL clients and an in-process
simulation of the rounds (client), Byzantine clients and their attacks (byzantine). Every update is a flat 1-D
tensor; see strategies for the representation."""

from nextrl.federated import byzantine, client, compression, privacy, strategies

__all__ = ["byzantine", "client", "compression", "privacy", "strategies"]
