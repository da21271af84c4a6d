"""eventlog.stats.histogram: a 24-bar PNG, checked by decoding it and reading its pixels."""

import io
import itertools
import os
import subprocess
import sys

import pytest
from PIL import Image

from eventlog.stats.histogram import (
    BAR_COLOR,
    HEIGHT,
    WIDTH,
    _compact,
    _nice_step,
    render_hourly_png,
)

TITLE, X_LABEL = "Events per hour", "hour of day (Europe/Paris)"


def _decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT)
    return image.convert("RGB")


def _bars(counts: list[int]) -> list[tuple[int, int]]:
    """(centre x, height in px) of every bar, left to right, found from the pixels alone."""
    image = _decode(render_hourly_png(counts, TITLE, X_LABEL))
    pixels = list(image.get_flattened_data())
    rows = [pixels[y * WIDTH : (y + 1) * WIDTH] for y in range(HEIGHT)]
    # Bars stand on the x axis, so the lowest row holding bar colour is the row just above it.
    base = max(y for y, row in enumerate(rows) if BAR_COLOR in row)
    bars, start = [], None
    for x, pixel in enumerate([*rows[base], None]):
        if pixel == BAR_COLOR and start is None:
            start = x
        elif pixel != BAR_COLOR and start is not None:
            centre = (start + x - 1) // 2
            height = next(h for h in range(base + 1) if rows[base - h][centre] != BAR_COLOR)
            bars.append((centre, height))
            start = None
    return bars


def test_one_separate_bar_per_hour():
    bars = _bars([5] * 24)
    assert len(bars) == 24
    assert len({height for _, height in bars}) == 1
    gaps = [right - left for (left, _), (right, _) in itertools.pairwise(bars)]
    assert max(gaps) - min(gaps) <= 1  # evenly spaced across the chart


def test_bar_heights_are_proportional_to_counts():
    counts = [24] * 24
    counts[5], counts[10] = 100, 50
    heights = [height for _, height in _bars(counts)]
    tallest = heights[5]
    assert tallest == max(heights)
    assert tallest > HEIGHT // 2  # the largest count uses most of the plot, not a sliver
    assert abs(heights[10] - tallest / 2) <= 2
    assert all(abs(heights[hour] - tallest * 0.24) <= 2 for hour in (0, 23))


def test_a_rising_count_gives_rising_bars():
    heights = [height for _, height in _bars(list(range(1, 25)))]
    assert heights == sorted(heights)
    for hour, height in enumerate(heights):
        assert abs(height - heights[-1] * (hour + 1) / 24) <= 2


def test_zero_count_hours_have_no_bar():
    every_hour = _bars([3] * 24)
    counts = [3] * 24
    counts[0] = counts[7] = counts[23] = 0
    bars = _bars(counts)
    assert [centre for centre, _ in bars] == [
        centre for hour, (centre, _) in enumerate(every_hour) if hour not in (0, 7, 23)
    ]


def test_a_tiny_count_next_to_a_huge_one_is_still_visible():
    counts = [0] * 24
    counts[3], counts[4] = 1, 1_000_000
    bars = _bars(counts)
    assert len(bars) == 2
    assert bars[0][1] >= 1


def test_all_zero_renders_an_empty_chart():
    image = _decode(render_hourly_png([0] * 24, TITLE, X_LABEL))
    colours = set(image.get_flattened_data())
    assert BAR_COLOR not in colours
    assert len(colours) > 2  # axes and labels were still drawn


def test_a_huge_count_renders_with_labels_inside_the_image():
    counts = [12_345_678, *range(0, 2_300_000, 100_000)]
    image = _decode(render_hourly_png(counts, TITLE, X_LABEL))
    assert len(_bars(counts)) == 23  # hour 1 has a count of 0
    # Tick labels are right-aligned against the y axis: a too-long label would run off the left.
    left_edge = image.crop((0, 0, 4, HEIGHT))
    assert set(left_edge.get_flattened_data()) == {(255, 255, 255)}


@pytest.mark.parametrize(
    "counts",
    [
        [1] * 23,
        [1] * 25,
        [],
        [1] * 23 + [-1],
        [1] * 23 + [1.5],
        [1] * 23 + [True],
        [1] * 23 + ["1"],
    ],
)
def test_rejects_anything_but_24_non_negative_ints(counts):
    with pytest.raises(ValueError):
        render_hourly_png(counts, TITLE, X_LABEL)


@pytest.mark.parametrize(
    ("max_count", "step"),
    [(0, 1), (1, 1), (5, 1), (6, 2), (10, 2), (11, 5), (52, 20), (100, 20), (12345678, 5 * 10**6)],
)
def test_y_ticks_use_1_2_5_steps(max_count, step):
    assert _nice_step(max_count) == step


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (950, "950"),
        (5_000, "5,000"),
        (25_000, "25k"),
        (2_500_000, "2.5M"),
        (15 * 10**9, "15G"),
    ],
)
def test_tick_labels_are_short(value, text):
    assert _compact(value) == text


def test_importing_the_module_does_not_import_pillow():
    code = "import sys, eventlog.stats.histogram; sys.exit('PIL' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0  # noqa: S603
