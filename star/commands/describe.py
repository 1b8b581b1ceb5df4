"""``star describe``: part descriptions for new classes from an OpenAI-compatible chat endpoint
(``star.text.describe``)."""

from __future__ import annotations

import argparse
import sys

from star.text.describe import (ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, ChatClient, DescribeError, describe_classes,
                                read_class_file, write_description_file)
from star.text.descriptions import DescriptionError, parse_parts, read_official_descriptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--classes", help="text file, one class name per line (required unless --import)")
    parser.add_argument("--import", dest="import_file", metavar="FILE",
                        help="convert the authors' part-description text file (name; Head: ...; ...; Foot: ...) to "
                             "our YAML at --out instead of asking an endpoint")
    parser.add_argument("--parts", default="6", help="granularities: 2, 4, 6 or a list such as 2,4,6 (default 6)")
    parser.add_argument("--out", required=True, help="description YAML to write (resumed if it exists)")
    parser.add_argument("--retries", type=int, default=5, help="retries per question (default 5)")
    parser.add_argument("--backoff", type=float, default=1.0,
                        help="first wait between retries in seconds, doubled each retry (default 1)")
    parser.add_argument("--max-backoff", type=float, default=30.0, help="longest wait between retries (default 30)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    parser.epilog = (f"The endpoint comes from {ENV_BASE_URL}, {ENV_MODEL} and {ENV_API_KEY} "
                     "(any OpenAI-compatible /chat/completions server).")


def import_descriptions(args: argparse.Namespace) -> int:
    try:
        data = read_official_descriptions(args.import_file)
        write_description_file(args.out, data, header=f"# imported from {args.import_file} by `star describe "
                               "--import` (the authors' 6-part descriptions; no 4- or 2-part sections)\n")
    except (DescriptionError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(data)} classes, 6 parts")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.import_file:
        return import_descriptions(args)
    if not args.classes:
        print("error: give --classes FILE (or --import FILE)", file=sys.stderr)
        return 2
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
