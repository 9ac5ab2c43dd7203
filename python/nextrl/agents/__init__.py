"""Agents in PyTorch: one file per algorithm (config dataclass, pure loss functions, train())."""
