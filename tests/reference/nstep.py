"""Direct n-step targets from whole per-env trajectories (O(T * n)), written independently of nextrl."""

from __future__ import annotations


def nstep_targets(episodes, n: int, gamma: float) -> dict:
    """episodes: list of (steps, finished) with steps a list of dicts {obs_id, action, reward, next_obs_id,
    terminated}; finished says whether the episode ended (by termination or truncation) or was still running.
    Returns {obs_id: (action, return, next_obs_id, terminated, discount)} for every transition whose n-step
    target is known: all steps of a finished episode, and steps t with t + n <= len of a running one."""
    out = {}
    for steps, finished in episodes:
        length = len(steps)
        for t in range(length):
            if not finished and t + n > length:
                continue
            m = min(n, length - t)
            ret = sum(gamma**k * steps[t + k]["reward"] for k in range(m))
            last = steps[t + m - 1]
            terminated = bool(last["terminated"]) and t + m == length
            out[steps[t]["obs_id"]] = (steps[t]["action"], ret, last["next_obs_id"], terminated, gamma**m)
    return out
