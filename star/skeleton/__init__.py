"""Skeleton clips: the ``Clip`` value, readers/writers, topology, transforms, synthetic demo clips."""

from star.skeleton.clip import Clip, SkeletonFormatError


def load_clip(path, layout=None, max_bytes=None):
    """Read one skeleton file into a ``Clip``; see ``star.skeleton.io.load_clip``."""
    from star.skeleton.io import load_clip as _load

    return _load(path, layout=layout, max_bytes=max_bytes)


__all__ = ["Clip", "SkeletonFormatError", "load_clip"]
