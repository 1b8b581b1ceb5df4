"""Class-name and part-description embeddings, and the ``star embed`` command that precomputes them.

``class_text_embeddings`` is what training, evaluation and the app call: it returns the name embeddings
``(C, D)`` and the per-part description embeddings ``(K, C, D)`` through the on-disk cache, so known
texts are never encoded twice.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from star.text.cache import EmbeddingCache, embed_texts
from star.text.descriptions import (DescriptionError, description_path, load_descriptions, parse_parts,
                                    part_texts)
from star.text.encoders import DEFAULT_ENCODER, EncoderError, get_encoder


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmark", required=True, help="benchmark name, e.g. pool42-32/10 or ntu60-xsub-55/5")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER,
                        help="text encoder: minilm (default) or openclip:<arch>:<pretrained tag or weights file>")
    parser.add_argument("--parts", default="6", help="part granularity: 2, 4, 6 or a list such as 2,4,6 (default 6)")
    parser.add_argument("--cache-dir", default=None,
                        help="embedding cache folder (default $STAR_CACHE_DIR/text_embeddings or .star_cache/text_embeddings)")
    parser.add_argument("--descriptions", default=None,
                        help="description file to use instead of the benchmark's assets/descriptions/<set>.yaml")
    parser.add_argument("--device", default="cpu", help="torch device for the encoder (default cpu)")


def run(args: argparse.Namespace) -> int:
    from star.data import get_benchmark

    try:
        granularities = parse_parts(args.parts)
        bench = get_benchmark(args.benchmark)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    source = args.descriptions or bench.description_set
    cache = EmbeddingCache(args.cache_dir)
    try:
        t0 = time.perf_counter()
        encoder = get_encoder(args.encoder, device=args.device)
        load_s = time.perf_counter() - t0
        print(f"encoder {encoder.id} ({encoder.dim}-d), loaded in {load_s:.1f} s")
        names = bench.class_names
        for k in granularities:
            descriptions = load_descriptions(source, names, k, allow_extra=True)
            texts = list(dict.fromkeys(list(names) + [t for ts in part_texts(descriptions, names, k) for t in ts]))
            missing = sum(v is None for v in cache.get(encoder.id, texts))
            t1 = time.perf_counter()
            class_text_embeddings(encoder, names, source, k, cache)
            print(f"{bench.name}: {len(names)} class names + {k} parts x {len(names)} descriptions "
                  f"from {description_path(source)}: {len(texts)} texts, {missing} encoded, "
                  f"{len(texts) - missing} already cached ({time.perf_counter() - t1:.1f} s)")
    except (EncoderError, DescriptionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"cache: {cache.path_for(encoder.id)} ({cache.count(encoder.id)} texts for this encoder)")
    return 0
