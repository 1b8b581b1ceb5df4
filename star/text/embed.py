"""Class-name and part-description embeddings (what ``star embed`` precomputes into the cache).

``class_text_embeddings`` is what training, evaluation and the app call: it returns the name embeddings
``(C, D)`` and the per-part description embeddings ``(K, C, D)`` through the on-disk cache, so known
texts are never encoded twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from star.text.cache import EmbeddingCache, embed_texts
from star.text.descriptions import description_path, load_descriptions, part_texts


def class_text_embeddings(encoder, class_names: list[str], descriptions_name_or_path: str | Path,
                          num_parts: int, cache: EmbeddingCache | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of the class names and of each part's descriptions.

    Returns ``names`` (C, D) float32 (the name alone is the text) and ``parts`` (K, C, D) float32, where
    part k's text for class c is ``"<name>, <Part>: <description>"`` (:func:`part_texts`). The
    description file may hold more classes than ``class_names`` (e.g. NTU-120's file for NTU-60).
    Raises :class:`DescriptionError` if a class or part is missing from the file.
    """
    descriptions = load_descriptions(descriptions_name_or_path, class_names, num_parts, allow_extra=True)
    per_part = part_texts(descriptions, class_names, num_parts)  # K lists of C strings
    flat = [t for texts in per_part for t in texts]
    vectors = embed_texts(encoder, list(class_names) + flat, cache)
    C = len(class_names)
    names = vectors[:C]
    parts = vectors[C:].reshape(num_parts, C, encoder.dim)
    return names, parts


def precompute_embeddings(encoder, class_names: list[str], descriptions_name_or_path: str | Path,
                          granularities: list[int], cache: EmbeddingCache) -> Iterator[dict]:
    """Fill ``cache`` with the class names and part descriptions at each granularity; yields, per
    granularity, {parts, texts (distinct), encoded (new), cached (already there), seconds, source}."""
    for k in granularities:
        descriptions = load_descriptions(descriptions_name_or_path, class_names, k, allow_extra=True)
        texts = list(dict.fromkeys(list(class_names) + [t for ts in part_texts(descriptions, class_names, k) for t in ts]))
        missing = sum(v is None for v in cache.get(encoder.id, texts))
        t0 = time.perf_counter()
        class_text_embeddings(encoder, class_names, descriptions_name_or_path, k, cache)
        yield {"parts": k, "texts": len(texts), "encoded": missing, "cached": len(texts) - missing,
               "seconds": time.perf_counter() - t0, "source": description_path(descriptions_name_or_path)}
