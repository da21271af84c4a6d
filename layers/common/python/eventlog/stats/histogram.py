"""PNG bar chart of an hourly distribution (24 bars), drawn with Pillow.

Pillow, not matplotlib, because the Lambda layer must stay small. PIL is imported inside
`render_hourly_png` so importing this module costs nothing for handlers that never draw.
"""

import math
from collections.abc import Sequence

WIDTH, HEIGHT = 960, 480
HOURS = 24
BACKGROUND = (255, 255, 255)
BAR_COLOR = (52, 101, 164)
AXIS_COLOR = (40, 40, 40)
GRID_COLOR = (225, 225, 225)
TEXT_COLOR = (20, 20, 20)
# Plot area inside the image; the margins hold the title, tick labels and axis labels.
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 80, WIDTH - 20, 50, HEIGHT - 70
MAX_TICK_INTERVALS = 5
BAR_FILL_RATIO = 0.7  # share of each hour's slot covered by its bar; the rest is the gap


def render_hourly_png(counts: Sequence[int], title: str, x_label: str) -> bytes:
    """A PNG bar chart of 24 hourly counts: one labelled bar per hour (0..23), a title,
    axes with y ticks."""
    counts = list(counts)
    if len(counts) != HOURS or not all(_is_count(count) for count in counts):
        raise ValueError(f"expected {HOURS} non-negative ints, got {counts!r}")

    import io

    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=13)
    title_font = ImageFont.load_default(size=20)
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    plot_height = PLOT_BOTTOM - PLOT_TOP

    # The y axis ends on a whole number of nice steps; all zeros still get a 0..1 axis.
    highest = max(counts)
    step = _nice_step(highest)
    axis_top = max((highest + step - 1) // step * step, 1)
    for tick in range(0, axis_top + 1, step):
        y = PLOT_BOTTOM - round(tick / axis_top * plot_height)
        draw.line([(PLOT_LEFT, y), (PLOT_RIGHT, y)], fill=GRID_COLOR)
        draw.line([(PLOT_LEFT - 5, y), (PLOT_LEFT, y)], fill=AXIS_COLOR)
        draw.text((PLOT_LEFT - 8, y), _compact(tick), fill=TEXT_COLOR, font=font, anchor="rm")

    slot_width = (PLOT_RIGHT - PLOT_LEFT) / HOURS
    bar_width = slot_width * BAR_FILL_RATIO
    for hour, count in enumerate(counts):
        center = PLOT_LEFT + (hour + 0.5) * slot_width
        left, right = round(center - bar_width / 2), round(center + bar_width / 2) - 1
        # A non-zero count always gets at least one pixel, so it is never mistaken for zero.
        bar_height = max(round(count / axis_top * plot_height), 1 if count else 0)
        if bar_height:
            draw.rectangle([(left, PLOT_BOTTOM - bar_height), (right, PLOT_BOTTOM - 1)], BAR_COLOR)
        draw.text((center, PLOT_BOTTOM + 6), str(hour), fill=TEXT_COLOR, font=font, anchor="mt")

    # Axes are drawn last so the bars and grid never cover them.
    draw.line([(PLOT_LEFT, PLOT_TOP), (PLOT_LEFT, PLOT_BOTTOM)], fill=AXIS_COLOR)
    draw.line([(PLOT_LEFT, PLOT_BOTTOM), (PLOT_RIGHT, PLOT_BOTTOM)], fill=AXIS_COLOR)
    plot_center = (PLOT_LEFT + PLOT_RIGHT) / 2
    draw.text((WIDTH / 2, PLOT_TOP / 2), title, fill=TEXT_COLOR, font=title_font, anchor="mm")
    draw.text((plot_center, PLOT_BOTTOM + 30), x_label, fill=TEXT_COLOR, font=font, anchor="mt")

    # ImageDraw cannot write vertical text: draw "events" on its own strip and rotate it.
    # (Pillow types the box as floats; a FreeType font's box is whole pixels.)
    text_left, text_top, text_right, text_bottom = draw.textbbox((0, 0), "events", font=font)
    strip_size = (math.ceil(text_right - text_left) + 2, math.ceil(text_bottom - text_top) + 2)
    y_label = Image.new("RGB", strip_size, BACKGROUND)
    ImageDraw.Draw(y_label).text(
        (1 - text_left, 1 - text_top), "events", fill=TEXT_COLOR, font=font
    )
    y_label = y_label.rotate(90, expand=True)
    image.paste(y_label, (8, PLOT_TOP + (plot_height - y_label.height) // 2))

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _is_count(value: object) -> bool:
    # bool is an int subclass, but True is not a count.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _nice_step(max_count: int) -> int:
    """The smallest 1, 2 or 5 x 10^n step that spans max_count in at most MAX_TICK_INTERVALS."""
    magnitude = 1
    while True:
        for multiplier in (1, 2, 5):
            if multiplier * magnitude * MAX_TICK_INTERVALS >= max_count:
                return multiplier * magnitude
        magnitude *= 10


def _compact(value: int) -> str:
    """`9,500`, `25k`, `12.5M`: short enough for the left margin at any count."""
    for suffix, divisor in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if value >= 10_000 and value >= divisor:
            return f"{value / divisor:g}{suffix}"
    return f"{value:,}"
