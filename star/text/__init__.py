"""Side information and text encoders: part-description files, encoders, the embedding cache.

Importing this package is cheap (no torch); models load on the first ``get_encoder`` call.
"""

from star.text.cache import EmbeddingCache, default_cache_dir, embed_texts
from star.text.descriptions import (DescriptionError, description_path, load_descriptions, part_texts)
from star.text.embed import class_text_embeddings
from star.text.encoders import DEFAULT_ENCODER, EncoderError, TextEncoder, get_encoder

__all__ = [
    "DEFAULT_ENCODER", "DescriptionError", "EmbeddingCache", "EncoderError", "TextEncoder",
    "class_text_embeddings", "default_cache_dir", "description_path", "embed_texts", "get_encoder",
    "load_descriptions", "part_texts",
]
