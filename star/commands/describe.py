"""``star describe``: part descriptions for new classes from an OpenAI-compatible chat endpoint
(``star.text.describe``)."""

from __future__ import annotations

import argparse
import sys

from star.text.describe import (ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, ChatClient, DescribeError, describe_classes,
                                read_class_file)
from star.text.descriptions import DescriptionError, parse_parts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--classes", required=True, help="text file, one class name per line")
    parser.add_argument("--parts", default="6", help="granularities: 2, 4, 6 or a list such as 2,4,6 (default 6)")
    parser.add_argument("--out", required=True, help="description YAML to write (resumed if it exists)")
    parser.add_argument("--retries", type=int, default=5, help="retries per question (default 5)")
    parser.add_argument("--backoff", type=float, default=1.0,
                        help="first wait between retries in seconds, doubled each retry (default 1)")
    parser.add_argument("--max-backoff", type=float, default=30.0, help="longest wait between retries (default 30)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    parser.epilog = (f"The endpoint comes from {ENV_BASE_URL}, {ENV_MODEL} and {ENV_API_KEY} "
                     "(any OpenAI-compatible /chat/completions server).")


def run(args: argparse.Namespace) -> int:
    try:
        granularities = parse_parts(args.parts)
        client = ChatClient.from_env(retries=args.retries, backoff=args.backoff,
                                     max_backoff=args.max_backoff, timeout=args.timeout)
        classes = read_class_file(args.classes)
    except (ValueError, DescribeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot read the class list {args.classes}: {e}", file=sys.stderr)
        return 2
    if not classes:
        print(f"error: {args.classes} holds no class names (one per line)", file=sys.stderr)
        return 2
    print(f"{len(classes)} classes, parts {','.join(map(str, granularities))}, model {client.model} at {client.url}")
    try:
        describe_classes(classes, granularities, args.out, client)
    except (DescribeError, DescriptionError) as e:
        print(f"error: {e}\n(finished classes are saved in {args.out}; rerun the same command to resume)",
              file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({client.requests} requests)")
    return 0
