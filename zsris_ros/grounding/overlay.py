"""A picture of a grounding result, for RViz, demos and evaluation reports."""

import cv2
import numpy as np

MASK_COLOUR = np.array([0, 255, 0], dtype=np.float32)
#: The objects the expression placed its target by ("left of the bowl"): boxes in orange.
ANCHOR_COLOUR = (255, 140, 0)


def draw_overlay(image_rgb: np.ndarray, mask: np.ndarray | None,
                 centroid: list[float] | None, label: str = '', alpha: float = 0.5,
                 anchor_boxes: list[list[int]] | None = None) -> np.ndarray:
    """Draw the tinted mask, its outline, the centroid, anchor boxes and a label on a copy."""
    out = image_rgb.copy()
    for x0, y0, x1, y1 in anchor_boxes or []:
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), ANCHOR_COLOUR, 1)
    if mask is not None and mask.any():
        tinted = out[mask].astype(np.float32) * (1.0 - alpha) + MASK_COLOUR * alpha
        out[mask] = tinted.astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (0, 255, 0), 1)
    if centroid is not None:
        cv2.drawMarker(out, (int(round(centroid[0])), int(round(centroid[1]))), (255, 0, 0),
                       cv2.MARKER_CROSS, 12, 2)
    if label:
        cv2.putText(out, label[:60], (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255),
                    1, cv2.LINE_AA)
    return out
