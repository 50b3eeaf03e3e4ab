"""Small evaluation figures drawn with Pillow (no plotting library on the serving machines)."""

import numpy as np
from PIL import Image, ImageDraw

from scans.ml.classes import CLASS_NAMES


def confusion_matrix_png(confusion: list[list[int]], path) -> None:
    matrix = np.asarray(confusion)
    cell, margin = 90, 110
    side = margin + cell * len(CLASS_NAMES)
    image = Image.new("RGB", (side + 10, side + 30), "white")
    draw = ImageDraw.Draw(image)
    row_totals = matrix.sum(axis=1, keepdims=True).clip(min=1)
    for i, actual in enumerate(CLASS_NAMES):
        draw.text((5, margin + i * cell + cell // 2), actual, fill="black")
        draw.text((margin + i * cell + 10, margin - 20), CLASS_NAMES[i], fill="black")
        for j in range(len(CLASS_NAMES)):
            share = matrix[i, j] / row_totals[i, 0]
            shade = int(255 - 200 * share)
            box = (margin + j * cell, margin + i * cell, margin + (j + 1) * cell, margin + (i + 1) * cell)
            draw.rectangle(box, fill=(shade, shade, 255), outline="gray")
            draw.text((box[0] + cell // 2 - 10, box[1] + cell // 2 - 5), str(matrix[i, j]), fill="black")
    draw.text((margin, 10), "rows: true class, columns: predicted", fill="black")
    image.save(path)


def reliability_png(bins: list[dict], path) -> None:
    size, margin = 400, 40
    image = Image.new("RGB", (size + 2 * margin, size + 2 * margin), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((margin, margin, margin + size, margin + size), outline="black")
    draw.line((margin, margin + size, margin + size, margin), fill="gray")
    for row in bins:
        x0 = margin + row["low"] * size
        x1 = margin + row["high"] * size
        draw.rectangle((x0, margin + size - row["accuracy"] * size, x1, margin + size), fill=(80, 120, 220))
    draw.text((margin, 10), "reliability: accuracy per confidence bin (diagonal = calibrated)", fill="black")
    draw.text((margin, margin + size + 10), "confidence 0 → 1", fill="black")
    image.save(path)
