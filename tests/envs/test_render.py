"""Rendering of every single-agent env (nextrl.envs.render): Gymnasium's render API on the registry of
tests/env_harness.py (a new env without rendering fails here), frames that follow the state (CartPole and
Pendulum against Gymnasium's own renderer, GridWorld's agent cell), hand-written "ansi" grids, vector envs
rendering chosen sub-envs, RecordVideo writing an .mp4, and the errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from env_harness import SINGLE_AGENT, random_actions
from nextrl.envs import ENVS, CartPoleVectorEnv, GridWorldEnv, GridWorldVectorEnv, PendulumVectorEnv, render
from nextrl.envs.toy_text import CliffWalkingEnv, FrozenLakeEnv


def _first_obs_change_frame(env, rng, steps: int = 40):
    """Steps `env` (a single env) with random actions until its frame changes; returns (before, after)."""
    env.reset(seed=3)
    before = env.render()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(random_actions(rng, env.action_space, overshoot=1.0))
        after = env.render()
        if not np.array_equal(before, after):
            return before, after
        if term or trunc:
            env.reset()
    return before, after


@pytest.mark.parametrize("case", SINGLE_AGENT, ids=str)
def test_rgb_array_frames_follow_the_state(case):
    env = case.make_single(render_mode="rgb_array")
    assert {"rgb_array", "human"} <= set(env.metadata["render_modes"])
    assert env.metadata["render_fps"] > 0
    before, after = _first_obs_change_frame(env, np.random.default_rng(0))
    assert before.ndim == 3 and before.shape[2] == 3 and before.dtype == np.uint8
    assert after.shape == before.shape
    assert not np.array_equal(before, after), f"{case}: the frame did not change in 40 steps"
    # the vector env draws env i as the single env does
    vec = case.make_vec(3, render_mode="rgb_array")
    vec.reset(seed=3)
    frames = vec.render()
    assert isinstance(frames, tuple) and len(frames) == 3
    single = case.make_single(render_mode="rgb_array")
    single.reset(seed=3)
    np.testing.assert_array_equal(frames[0], single.render())
    assert all(f.shape == before.shape for f in frames)


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_gym_make_with_render_mode(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[0] % 2 == 0 and frame.shape[1] % 2 == 0  # video encoders (yuv420p) need even sizes
    if "ansi" in env.metadata["render_modes"]:
        text = gym.make(env_id, render_mode="ansi")
        text.reset(seed=0)
        assert isinstance(text.render(), str)
    vec = gym.make_vec(env_id, num_envs=2, render_mode="rgb_array")
    vec.reset(seed=0)
    assert len(vec.render()) == 2


def _gymnasium_renderer(env_id: str):
    """Gymnasium's own env of `env_id`, as a function state -> its rgb_array frame."""
    pytest.importorskip("pygame")
    env = gym.make(env_id, render_mode="rgb_array").unwrapped
    env.reset(seed=0)

    def frame(state: np.ndarray) -> np.ndarray:
        env.state = np.array(state)
        env.last_u = None  # Pendulum: no torque arrow (nextrl keeps no last action)
        return env.render()

    return frame


def _fraction_differing(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.any(np.abs(a.astype(int) - b.astype(int)) > 40, axis=-1).mean())


def _pole_columns(frame: np.ndarray) -> np.ndarray:
    return np.nonzero(np.all(frame == (202, 152, 101), axis=-1))[1]


def test_cartpole_matches_gymnasium_and_leans_with_theta():
    gymnasium_frame = _gymnasium_renderer("CartPole-v1")
    env = CartPoleVectorEnv(4, render_mode="rgb_array")
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    signs = set()
    for t in range(30):
        for state, frame in zip(env.states(), env.render()):
            assert frame.shape == (400, 600, 3)
            if t % 10 == 0:
                assert _fraction_differing(frame, gymnasium_frame(state)) < 0.005  # anti-aliased edges only
            lean = _pole_columns(frame).mean() - (state[0] * 600 / 4.8 + 300)  # pole pixels right of the cart
            if abs(state[2]) > 0.02:
                assert np.sign(lean) == np.sign(state[2]), (state, lean)
                signs.add(int(np.sign(state[2])))
        env.step(rng.integers(2, size=4))
    assert signs == {-1, 1}  # both lean directions were drawn


def test_pendulum_matches_gymnasium():
    gymnasium_frame = _gymnasium_renderer("Pendulum-v1")
    env = PendulumVectorEnv(4, render_mode="rgb_array")
    env.reset(seed=0)
    for state, frame in zip(env.states(), env.render()):
        assert frame.shape == (500, 500, 3)
        assert _fraction_differing(frame, gymnasium_frame(state)) < 0.005


def test_gridworld_draws_the_agent_in_its_cell():
    env = GridWorldEnv(render_mode="rgb_array", width=4, height=3, goal=(3, 2))
    env.reset(seed=0)
    for action in (3, 3, 0):  # right, right, up: (0, 0) -> (2, 1)
        env.step(action)
    frame = env.render()
    cell = frame.shape[1] // 4
    assert frame.shape == (3 * cell, 4 * cell, 3)

    def centre(x, y):  # y up: row 0 of the frame is y = 2
        return tuple(frame[(2 - y) * cell + cell // 2, x * cell + cell // 2])

    assert centre(2, 1) == render.BLUE
    assert centre(0, 0) == render.WHITE
    assert centre(3, 2) == render.GREEN


def test_ansi_grids_match_hand_written_text():
    env = GridWorldEnv(render_mode="ansi", layout=["..#G", ".X..", "S..."])
    env.reset(seed=0)
    assert env.render() == "..#G\n.X..\nA...\n"
    env.step(3)  # right
    env.step(0)  # up: (1, 1) is the pit
    assert env.render() == "..#G\n.A..\n....\n"

    lake = FrozenLakeEnv(render_mode="ansi", is_slippery=False)
    lake.reset(seed=0)
    lake.step(2)  # right (Gymnasium's actions: 0 left, 1 down, 2 right, 3 up)
    lake.step(1)  # down, into the hole at row 1, column 1 (the episode ends there)
    assert lake.render() == "SFFF\nFAFH\nFFFH\nHFFG\n"

    cliff = CliffWalkingEnv(render_mode="ansi")
    cliff.reset(seed=0)
    cliff.step(0)  # up
    expected = "............\n" * 2 + "A...........\n" + "SCCCCCCCCCCG\n"
    assert cliff.render() == expected


def test_vector_env_renders_chosen_sub_envs():
    env = GridWorldVectorEnv(5, render_mode="rgb_array", start=None)
    env.reset(seed=1)
    everything = env.render()
    assert len(everything) == 5 and env.render_envs == (0, 1, 2, 3, 4)
    env.render_envs = 3
    (only,) = env.render()
    np.testing.assert_array_equal(only, everything[3])
    env.render_envs = [4, 0]
    np.testing.assert_array_equal(np.stack(env.render()), np.stack([everything[4], everything[0]]))
    np.testing.assert_array_equal(env.render_env(2), everything[2])
    assert env.render_env(2, mode="ansi").count("A") == 1
    env.render_envs = None
    assert len(env.render()) == 5
    with pytest.raises(IndexError, match=r"render_envs entry 5 must be in \[0, 5\)"):
        env.render_envs = [0, 5]
    with pytest.raises(TypeError, match="render_envs must be None, an int or a sequence of ints"):
        env.render_envs = 1.5
    with pytest.raises(ValueError, match="render_envs must name at least one env"):
        env.render_envs = []
    with pytest.raises(ValueError, match=r"render_env: render_mode must be None or one of 'rgb_array', 'ansi'"):
        env.render_env(0, mode="human")


def test_no_render_mode_renders_nothing():
    env = GridWorldVectorEnv(2)
    env.reset(seed=0)
    assert env.render() is None
    single = GridWorldEnv()
    single.reset(seed=0)
    assert single.render() is None


def test_bad_render_mode_names_the_valid_modes():
    with pytest.raises(ValueError, match=r"CartPoleVectorEnv: render_mode must be None or one of 'rgb_array', 'human'"):
        CartPoleVectorEnv(2, render_mode="rgb")
    # gym.make warns first (Gymnasium's registry check), then the env refuses
    with pytest.warns(UserWarning, match="not in the possible render_modes"):
        with pytest.raises(
            ValueError, match=r"CartPoleEnv: render_mode must be None or one of 'rgb_array', 'human', got"
        ):
            gym.make("nextrl/CartPole-v1", render_mode="ansi")
    with pytest.raises(ValueError, match=r"GridWorldEnv: .* 'rgb_array', 'human', 'ansi', got 'video'"):
        GridWorldEnv(render_mode="video")


def test_record_video_writes_an_mp4(tmp_path):
    pytest.importorskip("moviepy")
    env = gym.make("nextrl/CartPole-v1", render_mode="rgb_array", max_steps=20)
    env = gym.wrappers.RecordVideo(env, str(tmp_path / "videos"), episode_trigger=lambda e: True, disable_logger=True)
    env.reset(seed=0)
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        done = term or trunc
    env.close()
    videos = list((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000


def test_vector_record_video_writes_an_mp4(tmp_path):
    pytest.importorskip("moviepy")
    from gymnasium.wrappers.vector import RecordVideo

    envs = gym.make_vec("nextrl/GridWorld-v0", num_envs=4, render_mode="rgb_array")
    envs = RecordVideo(envs, str(tmp_path / "videos"), step_trigger=lambda s: s == 0, video_length=10)
    envs.reset(seed=0)
    for _ in range(12):
        envs.step(envs.action_space.sample())
    envs.close()
    assert len(list((tmp_path / "videos").glob("*.mp4"))) == 1


def test_human_mode_draws_on_reset_and_step(monkeypatch):
    pytest.importorskip("pygame")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    env = GridWorldEnv(render_mode="human")
    env.reset(seed=0)
    assert env._window is not None and env._window._screen.get_size() == (320, 320)
    assert env.step(3)[0] is not None and env.render() is None
    env.close()
    assert env._window is None
    vec = GridWorldVectorEnv(4, render_mode="human")
    vec.reset(seed=0)
    assert vec._window._screen.get_size() == (640, 640)  # four frames tiled 2 x 2
    vec.close()


def test_rasterizer_primitives():
    img = render.blank(10, 10)
    render.fill_rect(img, 2, 3, 5, 6, render.RED)
    assert np.argwhere(np.all(img == render.RED, axis=-1)).tolist() == [[r, c] for r in (3, 4, 5) for c in (2, 3, 4)]
    img = render.blank(21, 21)
    render.fill_circle(img, 10.5, 10.5, 5, render.BLUE)
    mask = np.all(img == render.BLUE, axis=-1)
    assert mask[10, 10] and mask[10, 15] and not mask[10, 16] and not mask[4, 4]
    np.testing.assert_array_equal(mask, mask[::-1])  # symmetric about the centre
    np.testing.assert_array_equal(mask, mask.T)
    img = render.blank(10, 10)
    render.fill_polygon(img, [(0, 0), (10, 0), (0, 10)], render.GREEN)  # lower-left triangle incl. diagonal
    mask = np.all(img == render.GREEN, axis=-1)
    assert mask.sum() == 55 and mask[0, 9] and not mask[9, 9]
    img = render.blank(10, 10)
    render.draw_line(img, (0.5, 5.5), (9.5, 5.5), render.BLACK, width=1)
    assert np.all(img[5] == 0) and np.all(img[4] == 255) and np.all(img[6] == 255)
