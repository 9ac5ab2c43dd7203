"""Slow, obviously correct NumPy references that fast paths are compared against."""
