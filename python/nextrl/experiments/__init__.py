"""Experiments the `nextrl` command runs: functions that measure and return results, never print.

statevector_bench: nextrl's statevector simulator against Qiskit Aer, qulacs and the copy floor.
"""
