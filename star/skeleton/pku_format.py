"""PKU-MMD skeleton text: one frame per line, 150 numbers = 2 bodies x 25 joints x (x, y, z).

Joints are in NTU-25 order (PKU-MMD was recorded with Kinect v2). An all-zero second body means one
person. Lines of 75 numbers (one body) are accepted too, as long as every line has the same count.
Blank lines are ignored.
"""

from __future__ import annotations

import numpy as np

from star.skeleton.clip import NUM_JOINTS, Clip, SkeletonFormatError
from star.skeleton.ntu_format import MAX_ABS_COORD

VALUES_PER_BODY = NUM_JOINTS * 3


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_pku_text(text: str, name: str = "<text>") -> Clip:
    """Parse PKU-MMD skeleton text into a ``Clip`` with frames (M, T, 25, 3), M = 1 or 2.

    Body 2 is kept only where it is non-zero in some frame; if body 1 is all zero and body 2 is not,
    body 2 becomes the only body. Raises ``SkeletonFormatError`` naming the file and line.
    """
    all_lines = text.splitlines()
    line_no = [i for i, line in enumerate(all_lines) if line.strip()]
    if not line_no:
        raise SkeletonFormatError(name, None, "PKU-MMD skeleton text (150 numbers per line)", "an empty file")
    texts = [all_lines[i] for i in line_no]
    per_line = len(texts[0].split())
    if per_line not in (VALUES_PER_BODY, 2 * VALUES_PER_BODY):
        raise SkeletonFormatError(name, f"line {line_no[0] + 1}", f"{2 * VALUES_PER_BODY} numbers per line "
                                  f"(2 bodies x 25 joints x xyz) or {VALUES_PER_BODY}", f"{per_line}")
    values = None
    try:  # one C pass over all lines
        values = np.loadtxt(texts, dtype=np.float64, comments=None, ndmin=2)
    except (ValueError, OverflowError, TypeError):
        pass
    if values is None or values.shape != (len(texts), per_line):
        for k, text in enumerate(texts):  # slow path, only to name the offending line
            tokens = text.split()
            if len(tokens) != per_line:
                raise SkeletonFormatError(name, f"line {line_no[k] + 1}", f"{per_line} numbers, like line {line_no[0] + 1}",
                                          f"{len(tokens)}: {_short(text)}")
            for tok in tokens:
                try:
                    float(tok)
                except ValueError:
                    raise SkeletonFormatError(name, f"line {line_no[k] + 1}", "numbers", f"text {_short(tok)}") from None
        raise SkeletonFormatError(name, None, "plain decimal numbers", "text numpy cannot convert")
    sane = np.abs(values) <= MAX_ABS_COORD  # False for nan and inf too
    if not sane.all():
        k, c = np.argwhere(~sane)[0]
        raise SkeletonFormatError(name, f"line {line_no[k] + 1}", f"finite numbers (|value| <= {MAX_ABS_COORD:g} m)",
                                  f"{values[k, c]} at value {c + 1}")
    bodies = values.reshape(len(texts), per_line // VALUES_PER_BODY, NUM_JOINTS, 3).transpose(1, 0, 2, 3)
    nonzero = np.any(bodies != 0, axis=(1, 2, 3))
    if not nonzero.any():
        raise SkeletonFormatError(name, None, "at least one non-zero body", "only zeros")
    frames = bodies[nonzero]
    meta = {"reader": "pku", "num_bodies_raw": int(bodies.shape[0]), "values_per_line": per_line}
    return Clip(frames=frames.astype(np.float32), source=name, meta=meta)


def format_pku_text(frames: np.ndarray) -> str:
    """PKU-MMD text (150 numbers per line, '\\n' line ends) for frames (M, T, 25, 3), M <= 2.

    A missing second body is written as zeros. 9 significant digits: float32 values read back exactly.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 4 or frames.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"frames must be (M, T, 25, 3), got {frames.shape}")
    if not 1 <= frames.shape[0] <= 2:
        raise ValueError(f"PKU-MMD text holds 1 or 2 bodies, got {frames.shape[0]}")
    if frames.shape[1] == 0:
        raise ValueError("cannot write a clip with 0 frames")
    if not np.isfinite(frames).all():
        raise ValueError("cannot write non-finite joint coordinates")
    padded = np.zeros((2,) + frames.shape[1:], dtype=np.float64)
    padded[: frames.shape[0]] = frames
    rows = padded.transpose(1, 0, 2, 3).reshape(frames.shape[1], 2 * VALUES_PER_BODY)
    fmt = " ".join(["%.9g"] * rows.shape[1])
    return "\n".join(fmt % tuple(row) for row in rows) + "\n"
