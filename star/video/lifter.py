"""A learned 2-D -> 3-D lifter: a person's 2-D joint track in an image -> Kinect-like NTU-25 joints in 3-D.

BlazePose's own 3-D ("world landmarks") gets depth wrong in ways that matter to the action model (a drinking
hand stays ~0.4 m in front of the face). This lifter is trained on the project's own Kinect clips instead
(``bench/train_lifter.py``, ``star.training.lifter``): each clip is seen through random virtual cameras,
projected to 2-D, given BlazePose-like noise, and the network learns the 3-D back.

Geometry (every function here uses it):
- NTU / ``Clip`` axes are Kinect camera space: x to the camera's left, y up, z away from the camera.
- An image point of a camera-space point (X, Y, Z) is ``u = cx - f X / Z``, ``v = cy - f Y / Z`` (pixels, y
  down; the same convention as ``star.video.ntu_map.to_ntu_axes``). ``project`` and ``unproject`` are exact
  inverses given the depth Z.
- "Normalised" image coordinates are ``((u - cx) / f, (v - cy) / f)``: what is left of a pixel position once
  the camera's focal length and centre are taken out, so one lifter serves every resolution and lens.

Input (``lifter_features``): the 2-D positions of ``INPUT_JOINTS`` (the 20 joints a Kinect measures and
BlazePose sees alike; not the neck, hand tips and thumbs, which the sources make differently) relative to the
spine base and divided by the track's median 2-D spine length, their confidences, and the spine base's
normalised position (a person off the optical axis is seen from an angle). Output: the same 20 joints in 3-D,
metres, relative to the spine base, camera axes; ``lift`` adds neck, hand tips and thumbs by the canonical
rule (``star.skeleton.canonical.set_joints``), so a lifted clip and a Kinect clip look alike to the model.

The network (``TemporalLifter``) is a small temporal convolutional model in the style of VideoPose3D
(Pavllo et al., CVPR 2019): dilated 1-D convolutions over time (dilations 1, 3, 9: a receptive field of 27
frames), batch norm, ReLU, dropout and residual blocks. Sequences are padded by repeating their end frames, so
every frame gets an output.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from star.skeleton.canonical import set_joints
from star.skeleton.topology import BONES

SPINE_BASE, SPINE_SHOULDER = 0, 20
INPUT_JOINTS: tuple[int, ...] = tuple(j for j in range(25) if j not in (2, 21, 22, 23, 24))
WEIGHTS_FILE = "lifter.safetensors"
RECORD_FILE = "lifter.json"


def default_lifter_dir() -> Path:
    """The shipped lifter: ``assets/lifter/`` of the repository."""
    return Path(__file__).resolve().parents[2] / "assets" / "lifter"


# ---------------------------------------------------------------------------------------------- geometry
def project(points: np.ndarray, focal: float, centre: tuple[float, float]) -> np.ndarray:
    """(..., 3) NTU-axes camera points (z > 0) -> (..., 2) pixels: u = cx - f x / z, v = cy - f y / z."""
    p = np.asarray(points, dtype=np.float64)
    z = p[..., 2]
    return np.stack([centre[0] - focal * p[..., 0] / z, centre[1] - focal * p[..., 1] / z], axis=-1)


def unproject(pixels: np.ndarray, depth: np.ndarray, focal: float, centre: tuple[float, float]) -> np.ndarray:
    """The inverse of ``project``: (..., 2) pixels and (...) depths -> (..., 3) NTU-axes camera points."""
    uv = np.asarray(pixels, dtype=np.float64)
    z = np.asarray(depth, dtype=np.float64)
    x = (centre[0] - uv[..., 0]) * z / focal
    y = (centre[1] - uv[..., 1]) * z / focal
    return np.stack([x, y, np.broadcast_to(z, x.shape)], axis=-1)


def normalise(pixels: np.ndarray, focal: float, centre: tuple[float, float]) -> np.ndarray:
    """(..., 2) pixels -> normalised image coordinates ((u - cx) / f, (v - cy) / f)."""
    return (np.asarray(pixels, dtype=np.float64) - np.asarray(centre, dtype=np.float64)) / focal


def lifter_features(xy: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """The network's input for one track: xy (T, 25, 2) normalised image coordinates, confidence (T, 25)
    -> (T, 3 * len(INPUT_JOINTS) + 2) float32.

    Per frame: each input joint's position relative to the spine base, divided by the track's median 2-D
    spine length (spine base -> spine shoulder; frames with zero confidence there do not count), then the
    joints' confidences, then the spine base's normalised position.
    """
    xy = np.asarray(xy, dtype=np.float64)
    conf = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    root = xy[:, SPINE_BASE]
    spine = np.linalg.norm(xy[:, SPINE_SHOULDER] - root, axis=-1)
    seen = (conf[:, SPINE_BASE] > 0) & (conf[:, SPINE_SHOULDER] > 0) & (spine > 0)
    scale = float(np.median(spine[seen])) if seen.any() else float(np.median(spine) or 1.0)
    scale = scale if scale > 1e-9 else 1.0
    rel = (xy[:, INPUT_JOINTS] - root[:, None]) / scale
    t = len(xy)
    return np.concatenate([rel.reshape(t, -1), conf[:, INPUT_JOINTS], root], axis=1).astype(np.float32)


def full_skeleton(core: np.ndarray) -> np.ndarray:
    """(..., len(INPUT_JOINTS), 3) -> (..., 25, 3): the input joints in place, neck, hand tips and thumbs by
    the canonical rule."""
    core = np.asarray(core, dtype=np.float64)
    out = np.zeros(core.shape[:-2] + (25, 3))
    out[..., INPUT_JOINTS, :] = core
    flat = out.reshape((1, -1, 25, 3))
    return set_joints(flat, "synthesise").reshape(out.shape)


def steady_bones(frames: np.ndarray, confidence: np.ndarray, band: float = 0.15, quantile: float = 0.75,
                 min_confidence: float = 0.5) -> np.ndarray:
    """(T, 25, 3) lifted joints -> the same with every bone kept within ``band`` of its length over the track.

    A person's bones do not change length, but a lifter trained on the mean error shortens a bone whose
    direction in depth it cannot tell (an arm hidden behind another person). A bone's track length is its
    ``quantile`` over the frames where both of its joints were seen with ``confidence`` >= ``min_confidence``
    (every frame when there are none; above the median, because the errors shorten bones far more often than
    they lengthen them); a frame's bone longer or shorter than that by more than ``band`` is set
    to the band's edge, along the tree from the spine base, its direction kept (``band`` 0: rigid bones).
    Neck, hand tips and thumbs are then made again by the canonical rule.
    """
    f = np.asarray(frames, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    out = f.copy()
    for child, parent in BONES:  # parents come before children
        d = f[:, child] - f[:, parent]
        length = np.linalg.norm(d, axis=-1)
        seen = (conf[:, child] >= min_confidence) & (conf[:, parent] >= min_confidence)
        typical = float(np.quantile(length[seen] if seen.any() else length, quantile))
        target = np.clip(length, (1 - band) * typical, (1 + band) * typical)
        unit = np.divide(d, length[:, None], out=np.zeros_like(d), where=length[:, None] > 1e-9)
        out[:, child] = out[:, parent] + unit * target[:, None]
    return set_joints(out[None], "synthesise")[0]


# ---------------------------------------------------------------------------------------------- network
@dataclass(frozen=True)
class LifterSpec:
    """The network's shape (stored in the record beside the weights)."""

    channels: int = 256
    dilations: tuple[int, ...] = (3, 9)
    dropout: float = 0.1

    @property
    def receptive_field(self) -> int:
        return 1 + 2 * (1 + sum(self.dilations))

    @property
    def in_features(self) -> int:
        return 3 * len(INPUT_JOINTS) + 2

    @property
    def out_features(self) -> int:
        return 3 * len(INPUT_JOINTS)


class TemporalLifter(nn.Module):
    """(B, T + receptive_field - 1, in_features) -> (B, T, out_features): "valid" dilated convolutions."""

    def __init__(self, spec: LifterSpec = LifterSpec()):
        super().__init__()
        self.spec = spec
        c = spec.channels
        self.expand = nn.Sequential(nn.Conv1d(spec.in_features, c, 3, bias=False), nn.BatchNorm1d(c), nn.ReLU(),
                                    nn.Dropout(spec.dropout))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(c, c, 3, dilation=d, bias=False), nn.BatchNorm1d(c), nn.ReLU(),
                          nn.Dropout(spec.dropout), nn.Conv1d(c, c, 1, bias=False), nn.BatchNorm1d(c), nn.ReLU(),
                          nn.Dropout(spec.dropout))
            for d in spec.dilations)
        self.shrink = nn.Conv1d(c, spec.out_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.expand(x.transpose(1, 2))
        for d, block in zip(self.spec.dilations, self.blocks):
            h = h[:, :, d:-d] + block(h)
        return self.shrink(h).transpose(1, 2)


def pad_edges(x: np.ndarray, pad: int) -> np.ndarray:
    """Repeat the first and last frame ``pad`` times: (T, F) -> (T + 2 pad, F)."""
    return np.concatenate([np.repeat(x[:1], pad, 0), x, np.repeat(x[-1:], pad, 0)])


class Lifter:
    """A trained ``TemporalLifter`` with its record; ``lift`` turns one 2-D track into 3-D."""

    def __init__(self, model: TemporalLifter, record: dict):
        self.model = model.eval()
        self.record = record

    @classmethod
    def load(cls, directory: str | Path | None = None) -> "Lifter":
        """Weights (safetensors) and record (JSON) from ``directory`` (default: the shipped lifter)."""
        from safetensors.torch import load_file

        d = Path(directory) if directory is not None else default_lifter_dir()
        weights, record_path = d / WEIGHTS_FILE, d / RECORD_FILE
        if not (weights.is_file() and record_path.is_file()):
            raise FileNotFoundError(f"{d}: no trained lifter ({WEIGHTS_FILE} and {RECORD_FILE}); "
                                    "make one with `python bench/train_lifter.py`")
        record = json.loads(record_path.read_text())
        spec = LifterSpec(**{**record["spec"], "dilations": tuple(record["spec"]["dilations"])})
        model = TemporalLifter(spec)
        model.load_state_dict(load_file(str(weights)))
        return cls(model, record)

    def save(self, directory: str | Path) -> Path:
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(d / WEIGHTS_FILE))
        record = {**self.record, "spec": {**asdict(self.model.spec), "dilations": list(self.model.spec.dilations)}}
        (d / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")
        return d

    @torch.no_grad()
    def lift_normalised(self, xy: np.ndarray, confidence: np.ndarray, steady: bool = True) -> np.ndarray:
        """xy (T, 25, 2) normalised image coordinates, confidence (T, 25) -> (T, 25, 3) metres, NTU camera
        axes, relative to the spine base (neck, hand tips and thumbs synthesised); ``steady``: every bone
        kept near its length over the track (``steady_bones``)."""
        feats = lifter_features(xy, confidence)
        pad = self.model.spec.receptive_field // 2
        x = torch.from_numpy(pad_edges(feats, pad))[None]
        core = self.model(x)[0].numpy().reshape(len(feats), len(INPUT_JOINTS), 3)
        root = INPUT_JOINTS.index(SPINE_BASE)
        out = full_skeleton(core - core[:, root:root + 1])
        return steady_bones(out, confidence) if steady else out

    def lift(self, pixels: np.ndarray, confidence: np.ndarray, focal: float,
             centre: tuple[float, float]) -> np.ndarray:
        """``lift_normalised`` for pixel coordinates of a camera with ``focal`` (pixels) and ``centre``."""
        return self.lift_normalised(normalise(pixels, focal, centre), confidence)
