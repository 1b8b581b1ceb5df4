"""Part descriptions for new classes from an OpenAI-compatible chat endpoint (the work of ``star describe``).

For each class and body part it asks the paper's question, "please describe the [part] actions simply
when people [class]", and writes the answers in the description-file format (docs/DESCRIPTIONS.md).
The output is rewritten atomically after every class, and classes whose requested granularities are
already complete in it are skipped, so an interrupted run resumes where it stopped.

Configuration comes from the environment:

    STAR_LLM_BASE_URL   e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1
    STAR_LLM_MODEL      e.g. gpt-4o-mini
    STAR_LLM_API_KEY    sent as "Authorization: Bearer ..." (optional for local servers)

Only the standard library talks to the endpoint (urllib, json).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import yaml

from star.skeleton.topology import part_names
from star.text.descriptions import granularity_key, read_description_file

ENV_BASE_URL = "STAR_LLM_BASE_URL"
ENV_MODEL = "STAR_LLM_MODEL"
ENV_API_KEY = "STAR_LLM_API_KEY"

SYSTEM_PROMPT = (
    "You describe how the human body moves during an action, for skeleton-based action recognition. "
    "Answer with ONE short sentence (at most 20 words) about the visible movement of the named body part "
    "only. No preamble, no list, no quotes."
)
RETRYABLE_HTTP = {408, 409, 425, 429, 500, 502, 503, 504}


class DescribeError(RuntimeError):
    """The endpoint could not give a usable answer (after retries), or is not configured."""


def question(part: str, class_name: str) -> str:
    """The paper's per-part question."""
    return f"please describe the {part} actions simply when people {class_name}"


def clean_sentence(text: str, part: str) -> str:
    """One line of plain text: first non-empty line, no surrounding quotes, no leading "Head:" label."""
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    s = lines[0] if lines else ""
    s = s.lstrip("-*• ").strip().strip('"\'`').strip()
    for label in (part, part.replace("-", " ")):
        if s.lower().startswith(label.lower() + ":"):
            s = s[len(label) + 1:].strip()
    return " ".join(s.split())


class ChatClient:
    """Minimal client for ``POST {base_url}/chat/completions`` with retries and exponential backoff.

    Retries network errors, timeouts, HTTP 408/429/5xx, malformed replies and empty answers, waiting
    ``backoff * 2**attempt`` seconds (capped at ``max_backoff``) between tries; other HTTP errors
    (401, 404, ...) fail at once with the server's message.
    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None, *, retries: int = 5,
                 backoff: float = 1.0, max_backoff: float = 30.0, timeout: float = 60.0,
                 temperature: float = 0.0, sleep: Callable[[float], None] = time.sleep):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.temperature = temperature
        self.sleep = sleep
        self.requests = 0

    @classmethod
    def from_env(cls, **kwargs) -> "ChatClient":
        base, model = os.environ.get(ENV_BASE_URL, "").strip(), os.environ.get(ENV_MODEL, "").strip()
        if not base or not model:
            unset = [v for v, x in ((ENV_BASE_URL, base), (ENV_MODEL, model)) if not x]
            raise DescribeError(
                f"no LLM endpoint configured ({', '.join(unset)} not set). Set {ENV_BASE_URL} to an "
                f"OpenAI-compatible base URL (e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1), "
                f"{ENV_MODEL} to the model name, and {ENV_API_KEY} to the key if the server needs one.")
        return cls(base, model, os.environ.get(ENV_API_KEY) or None, **kwargs)

    def _post(self, body: dict) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"), headers=headers,
                                     method="POST")
        self.requests += 1
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def ask(self, user: str, system: str = SYSTEM_PROMPT, clean: Callable[[str], str] = str.strip) -> str:
        """The cleaned answer to one question; raises DescribeError once retries are spent."""
        body = {"model": self.model, "temperature": self.temperature, "max_tokens": 80,
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
            try:
                reply = self._post(body)
                answer = clean(reply["choices"][0]["message"]["content"] or "")
                if answer:
                    return answer
                last = "empty answer"
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", "replace")[:300]
                last = f"HTTP {e.code}: {detail}"
                if e.code not in RETRYABLE_HTTP:
                    raise DescribeError(f"{self.url} refused the request ({last})") from e
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = f"cannot reach the endpoint: {getattr(e, 'reason', e)}"
            except (ValueError, KeyError, IndexError, TypeError) as e:
                last = f"unexpected reply ({type(e).__name__}: {e})"
        raise DescribeError(f"{self.url}: no usable answer after {self.retries + 1} tries; last: {last}")


def read_class_file(path: str | Path) -> list[str]:
    """Class names, one per line; blank lines and lines starting with # are skipped; duplicates dropped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    names = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    return list(dict.fromkeys(names))


def _complete(entry, num_parts: int) -> bool:
    section = entry.get(granularity_key(num_parts)) if isinstance(entry, dict) else None
    return isinstance(section, dict) and all(
        isinstance(section.get(p), str) and section[p].strip() for p in part_names(num_parts))


def write_description_file(path: str | Path, data: dict, header: str = "") -> None:
    """Write ``{class: {"K-part": {part: sentence}}}`` as YAML, atomically (temp file + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(header + text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def describe_classes(classes: list[str], granularities: list[int], out: str | Path, client: ChatClient,
                     log: Callable[[str], None] = print) -> dict:
    """Ask ``client`` for every missing (class, granularity, part) and keep ``out`` up to date.

    Existing entries in ``out`` are kept (classes not in ``classes`` too); a class whose requested
    granularities are all complete costs no request. Returns the file's final mapping.
    """
    out = Path(out)
    data: dict = read_description_file(out) if out.exists() and out.read_text(encoding="utf-8").strip() else {}
    order = list(classes) + [c for c in data if c not in classes]
    header = ("# Part descriptions generated by `star describe` (format: docs/DESCRIPTIONS.md).\n"
              f"# Model: {client.model}. Question: \"{question('[part]', '[class]')}\".\n")
    for i, cls in enumerate(classes):
        entry = data.get(cls)
        entry = dict(entry) if isinstance(entry, dict) else {}
        todo = [k for k in granularities if not _complete(entry, k)]
        if not todo:
            log(f"[{i + 1}/{len(classes)}] {cls}: complete, skipped")
            continue
        for k in todo:
            key = granularity_key(k)
            section = entry.get(key) if isinstance(entry.get(key), dict) else {}
            filled = {}
            for part in part_names(k):
                old = section.get(part)
                if isinstance(old, str) and old.strip():
                    filled[part] = old
                else:
                    filled[part] = client.ask(question(part, cls), clean=lambda s, p=part: clean_sentence(s, p))
            entry[key] = filled
        ordered = {granularity_key(k): entry[granularity_key(k)] for k in (6, 4, 2) if granularity_key(k) in entry}
        ordered.update({g: v for g, v in entry.items() if g not in ordered})
        data[cls] = ordered
        write_description_file(out, {c: data[c] for c in order if c in data}, header)
        log(f"[{i + 1}/{len(classes)}] {cls}: {', '.join(granularity_key(k) for k in todo)} written")
    return data
