"""Heat-map post-processing in NumPy: back to the scan's own geometry, and region statistics.

Statistics are what an explanation may cite, so they are stated in words a reader can check
against the picture: how much of the image is hot, where its centre is, which part of the head
it lies in.
"""

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

HOT_THRESHOLD = 0.5
# The origin's 11×11 Gaussian: OpenCV's sigma for that kernel is 0.3·((11−1)/2 − 1) + 0.8 = 2.0,
# and truncating at 2.5 sigma gives scipy the same 11-pixel support.
GAUSSIAN_SIGMA, GAUSSIAN_TRUNCATE = 2.0, 2.5


def circular_mask(side: int, radius_fraction: float = 0.5) -> np.ndarray:
    centre = (side - 1) / 2
    y, x = np.ogrid[:side, :side]
    return ((x - centre) ** 2 + (y - centre) ** 2) <= (radius_fraction * side) ** 2


def guided_saliency_map(gradients: np.ndarray) -> np.ndarray:
    """The origin's post-processing of guided-backprop gradients (H, W, C) into a [0, 1] map.

    channel-wise max of |gradient| → circular brain mask → 11×11 Gaussian → keep ≥ 75th
    percentile → rescale to [0, 1].
    """
    saliency = np.abs(gradients).max(axis=-1)
    saliency = saliency * circular_mask(saliency.shape[0])
    saliency = gaussian_filter(saliency, GAUSSIAN_SIGMA, truncate=GAUSSIAN_TRUNCATE)
    cutoff = np.percentile(saliency, 75)
    saliency = np.where(saliency >= cutoff, saliency - cutoff, 0.0)
    peak = saliency.max()
    return (saliency / peak if peak > 0 else saliency).astype(np.float32)


def to_scan_geometry(square_map: np.ndarray, box: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    """Place a map computed on the model's input square back onto the original image.

    `box` is where that square lies in the original (top, left, bottom, right), possibly
    reaching past the edges where the head was padded to a square.
    """
    top, left, bottom, right = box
    side = bottom - top
    resized = np.asarray(
        Image.fromarray(square_map.astype(np.float32), mode="F").resize((side, side), Image.BILINEAR),
        dtype=np.float32,
    )
    out = np.zeros(shape, dtype=np.float32)
    src_top, src_left = max(0, -top), max(0, -left)
    dst_top, dst_left = max(0, top), max(0, left)
    height = min(shape[0] - dst_top, side - src_top)
    width = min(shape[1] - dst_left, side - src_left)
    out[dst_top : dst_top + height, dst_left : dst_left + width] = resized[
        src_top : src_top + height, src_left : src_left + width
    ]
    return np.clip(out, 0.0, 1.0)


# Words are placed relative to the head, not the image frame: a head that fills 80 % of the
# frame would otherwise have a third of its width called "midline". Midline structures (falx,
# sella, third ventricle) lie within about a tenth of the head's width of its centre.
MIDLINE_HALF_WIDTH = 0.1
# A hot area reaching this close to the head's outline (head_depth's units: 0 on the outline, 1
# at the deepest point) lies toward the skull. Scalp and bone take the first tenth or so; on the
# served model's maps of training meningiomas, convexity ones reached 0.27–0.31 and falx,
# parasellar and posterior-fossa ones 0.41–0.57.
PERIPHERAL_DEPTH = 0.33


def _third(value: float, low: str, middle: str, high: str) -> str:
    return low if value < 1 / 3 else high if value > 2 / 3 else middle


def _words(x: float, y: float, box: tuple[int, int, int, int], shape: tuple[int, int]) -> dict:
    """side, vertical, quadrant and the head-relative position of the image point (x, y)."""
    top, left, bottom, right = box
    height, width = shape
    hx = (x * width - left) / max(1, right - left)
    hy = (y * height - top) / max(1, bottom - top)
    side = "midline" if abs(hx - 0.5) <= MIDLINE_HALF_WIDTH else "left" if hx < 0.5 else "right"
    vertical = _third(hy, "upper", "middle", "lower")
    if side == "midline" and vertical == "middle":
        quadrant = "central"
    else:
        quadrant = f"{'upper' if hy < 0.5 else 'lower'}-{'left' if hx < 0.5 else 'right'}"
    head_centroid = {"x": round(float(np.clip(hx, 0, 1)), 4), "y": round(float(np.clip(hy, 0, 1)), 4)}
    return {"quadrant": quadrant, "side": side, "vertical": vertical, "head_centroid": head_centroid}


def _frame_depth(shape: tuple[int, int]) -> np.ndarray:
    """head_depth for an image that is all head: distance to the frame over the largest."""
    height, width = shape
    y, x = np.mgrid[:height, :width] + 0.5
    distance = np.minimum(np.minimum(y, height - y), np.minimum(x, width - x))
    return distance / distance.max()


def region_stats(
    heatmap: np.ndarray, head_box: tuple[int, int, int, int] | None = None, head_depth: np.ndarray | None = None
) -> dict:
    """Where the hot area (map ≥ 0.5) lies: coordinates are fractions of the image (y down).

    The words are relative to the head: quadrant, side and vertical to `head_box` (top, left,
    bottom, right), depth to `head_depth` (preprocess.head_depth, the map's shape); without
    them the whole image is taken as the head.
    """
    height, width = heatmap.shape
    hot = heatmap >= HOT_THRESHOLD
    peak_y, peak_x = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    peak = {"x": round(float(peak_x + 0.5) / width, 4), "y": round(float(peak_y + 0.5) / height, 4)}
    if not hot.any():
        return {
            "hot_fraction": 0.0,
            "centroid": peak,
            "peak": peak,
            "bbox": {"x0": peak["x"], "y0": peak["y"], "x1": peak["x"], "y1": peak["y"]},
            "quadrant": "central",
            "side": "midline",
            "vertical": "middle",
            "head_centroid": {"x": 0.5, "y": 0.5},
            "depth": "deep",
        }
    weights = np.where(hot, heatmap, 0.0)
    ys, xs = np.nonzero(hot)
    total = weights.sum()
    cx = float((weights.sum(axis=0) * (np.arange(width) + 0.5)).sum() / total / width)
    cy = float((weights.sum(axis=1) * (np.arange(height) + 0.5)).sum() / total / height)
    depth = _frame_depth(heatmap.shape) if head_depth is None else head_depth
    closest = float(depth[hot].min())
    return {
        "hot_fraction": round(float(hot.mean()), 4),
        "centroid": {"x": round(cx, 4), "y": round(cy, 4)},
        "peak": peak,
        "bbox": {
            "x0": round(float(xs.min()) / width, 4),
            "y0": round(float(ys.min()) / height, 4),
            "x1": round(float(xs.max() + 1) / width, 4),
            "y1": round(float(ys.max() + 1) / height, 4),
        },
        **_words(cx, cy, head_box or (0, 0, height, width), heatmap.shape),
        "depth": "peripheral" if closest <= PERIPHERAL_DEPTH else "deep",
    }
