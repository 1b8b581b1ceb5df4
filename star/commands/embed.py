"""``star embed``: precompute a benchmark's class-name and part-description embeddings into the cache."""

from __future__ import annotations

import argparse
import sys
import time

from star.data import get_benchmark
from star.text import DEFAULT_ENCODER, DescriptionError, EmbeddingCache, EncoderError, get_encoder
from star.text.descriptions import parse_parts
from star.text.embed import precompute_embeddings


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
        print(f"encoder {encoder.id} ({encoder.dim}-d), loaded in {time.perf_counter() - t0:.1f} s")
        n = len(bench.class_names)
        for r in precompute_embeddings(encoder, bench.class_names, source, granularities, cache):
            print(f"{bench.name}: {n} class names + {r['parts']} parts x {n} descriptions from {r['source']}: "
                  f"{r['texts']} texts, {r['encoded']} encoded, {r['cached']} already cached ({r['seconds']:.1f} s)")
    except (EncoderError, DescriptionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"cache: {cache.path_for(encoder.id)} ({cache.count(encoder.id)} texts for this encoder)")
    return 0
