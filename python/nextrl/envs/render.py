"""Rendering for every nextrl env, single- and multi-agent: a small NumPy rasterizer (filled rectangles,
convex polygons, circles, thick lines, upscaled cell grids) and the render-mode plumbing that the vector
envs, the single envs and the PettingZoo envs share.

Frames are [height, width, 3] uint8 arrays (Gymnasium's "rgb_array"), drawn from an env's exact state
with NumPy only; "human" shows them in a window through pygame-ce (the `render` extra, imported lazily);
"ansi" (text grids) returns a string. Pixel coordinates: x to the right, y down, (0, 0) the top-left
corner of the top-left pixel; a pixel is painted when its centre lies inside the shape (no anti-aliasing).

Render modes follow Gymnasium 1.x: `render_mode` is given at construction and checked against
`metadata["render_modes"]`; `metadata["render_fps"]` paces "human" windows and RecordVideo. A vector env's
`render()` returns a tuple of frames, one per env of `render_envs` (default: every env, as Gymnasium's own
vector envs and its vector RecordVideo / HumanRendering wrappers expect); set `render_envs` to a few
indices (e.g. `[0]`) to render part of a large batch.
"""

from __future__ import annotations

import colorsys
import os
from collections.abc import Sequence

import numpy as np

Color = tuple[int, int, int]

WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
GRAY: Color = (128, 128, 128)
LIGHT_GRAY: Color = (225, 225, 225)
DARK_GRAY: Color = (64, 64, 64)
RED: Color = (217, 72, 72)
GREEN: Color = (72, 170, 72)
BLUE: Color = (66, 104, 214)
YELLOW: Color = (240, 200, 40)
ORANGE: Color = (240, 140, 40)
PURPLE: Color = (150, 80, 190)
# distinct agent colours (Tableau 10), cycled by agent index
PALETTE: tuple[Color, ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)

RENDER_MODES_IMAGE = ("rgb_array", "human")
RENDER_MODES_TEXT = ("rgb_array", "human", "ansi")


# ------------------------------------------------------------------------------------------ rasterizer
def blank(height: int, width: int, color: Color = WHITE) -> np.ndarray:
    """A new frame [height, width, 3] uint8 filled with `color`."""
    img = np.empty((int(height), int(width), 3), dtype=np.uint8)
    img[:] = color
    return img


def _box(img: np.ndarray, x0: float, y0: float, x1: float, y1: float):
    """Pixel index ranges (rows, cols) whose centres may lie in [x0, x1] x [y0, y1], clipped to the frame;
    None when empty."""
    h, w = img.shape[:2]
    c0, c1 = max(int(np.floor(x0 - 0.5)), 0), min(int(np.ceil(x1 + 0.5)), w)
    r0, r1 = max(int(np.floor(y0 - 0.5)), 0), min(int(np.ceil(y1 + 0.5)), h)
    if c0 >= c1 or r0 >= r1:
        return None
    return r0, r1, c0, c1


def _centres(r0: int, r1: int, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray]:
    ys = np.arange(r0, r1, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(c0, c1, dtype=np.float64)[None, :] + 0.5
    return xs, ys


def fill_rect(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, color: Color) -> None:
    """Paints the axis-aligned rectangle [x0, x1] x [y0, y1] (pixel units, either corner order)."""
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    h, w = img.shape[:2]
    c0, c1 = max(int(np.ceil(x0 - 0.5)), 0), min(int(np.floor(x1 - 0.5)) + 1, w)
    r0, r1 = max(int(np.ceil(y0 - 0.5)), 0), min(int(np.floor(y1 - 0.5)) + 1, h)
    if c0 < c1 and r0 < r1:
        img[r0:r1, c0:c1] = color


def frame_rect(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, color: Color, width: float = 2) -> None:
    """The outline of a rectangle, `width` pixels thick, inside [x0, x1] x [y0, y1]."""
    fill_rect(img, x0, y0, x1, y0 + width, color)
    fill_rect(img, x0, y1 - width, x1, y1, color)
    fill_rect(img, x0, y0, x0 + width, y1, color)
    fill_rect(img, x1 - width, y0, x1, y1, color)


def fill_circle(img: np.ndarray, cx: float, cy: float, radius: float, color: Color) -> None:
    """Paints the disc of `radius` around (cx, cy)."""
    box = _box(img, cx - radius, cy - radius, cx + radius, cy + radius)
    if box is None:
        return
    xs, ys = _centres(*box)
    mask = (xs - cx) ** 2 + (ys - cy) ** 2 <= radius * radius
    img[box[0] : box[1], box[2] : box[3]][mask] = color


def ring(img: np.ndarray, cx: float, cy: float, radius: float, color: Color, width: float = 2) -> None:
    """The circle of `radius` around (cx, cy), `width` pixels thick."""
    box = _box(img, cx - radius - width, cy - radius - width, cx + radius + width, cy + radius + width)
    if box is None:
        return
    xs, ys = _centres(*box)
    d = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    mask = np.abs(d - radius) <= width / 2
    img[box[0] : box[1], box[2] : box[3]][mask] = color


def fill_polygon(img: np.ndarray, points: Sequence[tuple[float, float]], color: Color) -> None:
    """Paints the convex polygon with vertices `points` (either orientation)."""
    p = np.asarray(points, dtype=np.float64)
    box = _box(img, p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max())
    if box is None:
        return
    xs, ys = _centres(*box)
    q = np.roll(p, -1, axis=0)
    area = np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1])
    sign = 1.0 if area >= 0 else -1.0
    mask = np.ones((box[1] - box[0], box[3] - box[2]), dtype=bool)
    for (ax, ay), (bx, by) in zip(p, q):
        mask &= sign * ((bx - ax) * (ys - ay) - (by - ay) * (xs - ax)) >= 0
    img[box[0] : box[1], box[2] : box[3]][mask] = color


def draw_line(
    img: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], color: Color, width: float = 2
) -> None:
    """Paints the segment p0 -> p1, `width` pixels thick, with round ends."""
    (x0, y0), (x1, y1) = p0, p1
    r = width / 2
    box = _box(img, min(x0, x1) - r, min(y0, y1) - r, max(x0, x1) + r, max(y0, y1) + r)
    if box is None:
        return
    xs, ys = _centres(*box)
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = np.zeros_like(xs + ys) if length2 == 0 else np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0.0, 1.0)
    mask = (xs - x0 - t * dx) ** 2 + (ys - y0 - t * dy) ** 2 <= r * r
    img[box[0] : box[1], box[2] : box[3]][mask] = color


def rotated_rect(
    centre: tuple[float, float], along: tuple[float, float], start: float, end: float, half_width: float
) -> list[tuple[float, float]]:
    """Corners of the rectangle from `start` to `end` along the unit vector `along` from `centre`, `half_width`
    to either side (for fill_polygon)."""
    (cx, cy), (ux, uy) = centre, along
    nx, ny = -uy, ux
    return [
        (cx + ux * s + nx * h, cy + uy * s + ny * h)
        for s, h in ((start, -half_width), (start, half_width), (end, half_width), (end, -half_width))
    ]


def cell_grid(colors: np.ndarray, cell: int, line: Color | None = GRAY) -> np.ndarray:
    """A frame of `colors` [rows, cols, 3] uint8 (row 0 at the top) with every cell `cell` x `cell` pixels
    and one-pixel grid lines of colour `line` (None: none)."""
    img = np.repeat(np.repeat(np.asarray(colors, dtype=np.uint8), cell, axis=0), cell, axis=1)
    if line is not None:
        img[::cell, :] = line
        img[:, ::cell] = line
        img[-1, :] = line
        img[:, -1] = line
    return img


def grid_cell_px(rows: int, cols: int, target: int = 512, lo: int = 8, hi: int = 64) -> int:
    """An even cell size in pixels that makes a rows x cols grid about `target` pixels on its longer side."""
    cell = int(np.clip(target // max(rows, cols, 1), lo, hi))
    return cell - cell % 2


def grid_frame(colors: np.ndarray, markers: Sequence[tuple[int, int, Color]] = ()) -> np.ndarray:
    """A grid env's frame: cells coloured by `colors` [rows, cols, 3] (row 0 at the top) and a disc per
    marker (row, col, colour), later markers on top; cells of `grid_cell_px(rows, cols)` pixels."""
    rows, cols = colors.shape[:2]
    cell = grid_cell_px(rows, cols)
    img = cell_grid(colors, cell)
    for row, col, color in markers:
        fill_circle(img, (col + 0.5) * cell, (row + 0.5) * cell, 0.35 * cell, color)
    return img


def phase_color(phase: float, value: float = 0.85) -> Color:
    """A colour whose hue encodes an angle in radians (0: red, 2 pi / 3: green, 4 pi / 3: blue)."""
    r, g, b = colorsys.hsv_to_rgb((phase / (2 * np.pi)) % 1.0, 0.75, value)
    return int(r * 255), int(g * 255), int(b * 255)


def lerp_color(a: Color, b: Color, t: float) -> Color:
    """The colour a fraction t in [0, 1] of the way from a to b."""
    t = float(np.clip(t, 0.0, 1.0))
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def text_grid(rows: Sequence[Sequence[str]]) -> str:
    """The "ansi" rendering of a grid of characters: one line per row, top row first, newline-terminated."""
    return "".join("".join(r) + "\n" for r in rows)


def tile(frames: Sequence[np.ndarray], cols: int | None = None) -> np.ndarray:
    """Frames of one shape side by side in a grid of `cols` columns (default: about square), on white."""
    n = len(frames)
    cols = int(np.ceil(np.sqrt(n))) if cols is None else cols
    rows = int(np.ceil(n / cols))
    h, w = frames[0].shape[:2]
    out = blank(rows * h, cols * w)
    for k, f in enumerate(frames):
        r, c = divmod(k, cols)
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = f
    return out


# --------------------------------------------------------------------------------------- render modes
def check_render_mode(owner: str, render_mode: str | None, modes: Sequence[str]) -> str | None:
    """`render_mode` if it is None or one of `modes`, else a ValueError naming them."""
    if render_mode is not None and render_mode not in modes:
        valid = ", ".join(repr(m) for m in modes)
        raise ValueError(f"{owner}: render_mode must be None or one of {valid}, got {render_mode!r}")
    return render_mode


def check_render_envs(owner: str, value, num_envs: int) -> tuple[int, ...] | None:
    """The validated `render_envs` of a vector env: None (every env), an index, or a sequence of indices."""
    if value is None:
        return None
    message = f"{owner}: render_envs must be None, an int or a sequence of ints, got {value!r}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = [value]
    elif isinstance(value, Sequence) or isinstance(value, np.ndarray):
        values = list(value)
    else:
        raise TypeError(message)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(message)
        if not 0 <= v < num_envs:
            raise IndexError(f"{owner}: render_envs entry {int(v)} must be in [0, {num_envs}), got {value!r}")
        out.append(int(v))
    if not out:
        raise ValueError(f"{owner}: render_envs must name at least one env, got {value!r}")
    return tuple(out)


class Window:
    """A "human" window that shows frames at `fps` (pygame-ce, the `render` extra, imported on first use)."""

    def __init__(self, title: str, fps: float):
        self.title, self.fps = title, fps
        self._screen = self._clock = self._pygame = None

    def show(self, frame: np.ndarray) -> None:
        if self._pygame is None:
            os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # library code never prints
            try:
                import pygame
            except ImportError as exc:
                raise ImportError(
                    "render_mode='human' needs pygame-ce: pip install 'nextrl[render]' (rgb_array needs nothing)"
                ) from exc
            pygame.display.init()
            self._pygame, self._clock = pygame, pygame.time.Clock()
        pygame = self._pygame
        h, w = frame.shape[:2]
        if self._screen is None or self._screen.get_size() != (w, h):
            self._screen = pygame.display.set_mode((w, h))
            pygame.display.set_caption(self.title)
        pygame.surfarray.blit_array(self._screen, np.ascontiguousarray(frame.transpose(1, 0, 2)))
        pygame.event.pump()
        pygame.display.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        if self._pygame is not None:
            self._pygame.display.quit()
        self._screen = self._clock = self._pygame = None


class BatchRendering:
    """The render API of nextrl's vector envs, single- and multi-agent (mixed into both bases).

    A subclass declares `metadata["render_modes"]` / `["render_fps"]` and implements `_render_frame(i)`
    ([H, W, 3] uint8, the same shape for every env) and, for text grids, `_render_ansi(i)`; its constructor
    calls `_init_render(render_mode)`."""

    render_mode: str | None = None
    _render_envs: tuple[int, ...] | None = None
    _window: Window | None = None

    def _init_render(self, render_mode: str | None) -> None:
        self.render_mode = check_render_mode(type(self).__name__, render_mode, type(self).metadata["render_modes"])
        self._render_envs = None
        self._window = None

    @property
    def render_envs(self) -> tuple[int, ...]:
        """The envs that `render()` draws, in order (default: every env, Gymnasium's convention); set it to an
        index or a sequence of indices to draw part of a large batch."""
        return tuple(range(self.num_envs)) if self._render_envs is None else self._render_envs

    @render_envs.setter
    def render_envs(self, value) -> None:
        self._render_envs = check_render_envs(type(self).__name__, value, self.num_envs)

    def render(self):
        """One frame per env of `render_envs`: a tuple of [H, W, 3] uint8 arrays ("rgb_array") or of strings
        ("ansi"); "human" shows them tiled in a window and returns None; no render_mode returns None."""
        if self.render_mode is None:
            return None
        if self.render_mode == "ansi":
            return tuple(self._render_ansi(i) for i in self.render_envs)
        frames = tuple(self._render_frame(i) for i in self.render_envs)
        if self.render_mode == "human":
            if self._window is None:
                self._window = Window(type(self).__name__, self.metadata["render_fps"])
            self._window.show(frames[0] if len(frames) == 1 else tile(frames))
            return None
        return frames

    def render_env(self, index: int = 0, mode: str = "rgb_array"):
        """The frame of env `index` ([H, W, 3] uint8 for "rgb_array", a string for "ansi"), whatever
        render_mode the env was built with."""
        (index,) = check_render_envs("render_env", index, self.num_envs)
        check_render_mode("render_env", mode, [m for m in self.metadata["render_modes"] if m != "human"])
        return self._render_ansi(index) if mode == "ansi" else self._render_frame(index)

    def _close_render(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None

    def _render_frame(self, index: int) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define _render_frame")

    def _render_ansi(self, index: int) -> str:
        raise NotImplementedError(f"{type(self).__name__} must define _render_ansi")


class SingleRendering:
    """The render API of a single env (Gymnasium Env or PettingZoo ParallelEnv) over a batch of one in
    `self._vec`: render() returns the frame, the string, or None in "human" mode (which also draws on every
    reset and step, Gymnasium's convention: call `_render_human()` there)."""

    render_mode: str | None = None
    _window: Window | None = None

    def _init_render(self, render_mode: str | None) -> None:
        self.render_mode = check_render_mode(type(self).__name__, render_mode, self.metadata["render_modes"])
        self._window = None

    def render(self):
        if self.render_mode is None:
            return None
        if self.render_mode == "ansi":
            return self._vec._render_ansi(0)
        frame = self._vec._render_frame(0)
        if self.render_mode == "human":
            if self._window is None:
                self._window = Window(type(self).__name__, self.metadata["render_fps"])
            self._window.show(frame)
            return None
        return frame

    def _render_human(self) -> None:
        if self.render_mode == "human":
            self.render()

    def _close_render(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None


def metadata(modes: Sequence[str], fps: int, **extra) -> dict:
    """A metadata dict with `render_modes` (a list, as Gymnasium's check_env expects) and `render_fps`."""
    return {"render_modes": list(modes), "render_fps": fps, **extra}


__all__ = [
    "PALETTE",
    "RENDER_MODES_IMAGE",
    "RENDER_MODES_TEXT",
    "BatchRendering",
    "SingleRendering",
    "Window",
    "blank",
    "cell_grid",
    "check_render_envs",
    "check_render_mode",
    "draw_line",
    "fill_circle",
    "fill_polygon",
    "fill_rect",
    "frame_rect",
    "grid_cell_px",
    "grid_frame",
    "lerp_color",
    "metadata",
    "phase_color",
    "ring",
    "rotated_rect",
    "text_grid",
    "tile",
]
