"""Language detection (#19): accuracy against declared languages, and its cost per item.

    .venv/bin/python benchmarks/language_detect.py [--corpus DIR] [--feeds 300]

What ``tracker.parse.language.item_language`` gives for each item, measured three ways:

- **accuracy on the captured corpus**: every feed document under ``--corpus`` (by
  default ``tests/data/corpus``, the real captured feeds kept in the repository with
  their MANIFEST and provenance; any folder with a ``MANIFEST.tsv`` of the same columns
  will do; the feedparser test suite is left out) that declares a language; each
  distinct item (snapshots repeat the same items)
  is detected with the feed's declaration as the hint (what the parser stores) and
  without it (the detector alone), and counted right when it names the declared
  language. A declaration is a feed's claim, not a label: a feed declared ``en`` with
  an item in Tagalog counts that item wrong. Also the labeled non-English items of
  ``tests/data/eval`` (human labels; Persian, Pashto, Russian, Urdu).
- **speed**: CPU microseconds per item of ``item_language`` on the distinct corpus items
  and on the benchmark's generated news feeds (``feedset.py``, the all-new phase's
  feeds), median of five runs; and ``parse_feed`` per item on the generated feeds with
  detection and with the declared language copied instead (what the parser did before),
  so the difference is what detection adds to a parse worker's time; plus how many items
  each step decided (script, English words, too short, CLD2).
- the first call's cost (pycld2 loaded once per worker process).

Writes ``benchmarks/results/<date>-language-detect.md`` and ``.json`` (the date of the
run), and prints the markdown.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import report
import yaml
from feedset import document, feed_specs

import tracker.parse.items as items_module
from tracker.errors import ParseError
from tracker.models import ParsedItem
from tracker.parse import language, parse_feed

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
URL = "http://127.0.0.1/feed.xml"
Sample = tuple[str, str, str]  # title, summary (or content), declared language


def corpus_samples(corpus: Path) -> list[Sample]:
    """Distinct items of the corpus feeds that declare a language."""
    with (corpus / "MANIFEST.tsv").open(encoding="utf-8", newline="") as manifest:
        files = [row["file"] for row in csv.DictReader(manifest, delimiter="\t")]
    seen: dict[tuple[str, str], Sample] = {}
    for name in files:
        if name.startswith("feedparser-tests/"):
            continue
        try:
            feed = parse_feed((corpus / name).read_bytes(), {}, URL, NOW)
        except (ParseError, OSError):
            continue
        declared = language.language_code(feed.language)
        for item in feed.items if declared else ():
            text = item.summary or item.content
            seen.setdefault((item.title, text[:200]), (item.title, text, declared))
    return list(seen.values())


def labeled_samples() -> list[Sample]:
    found = []
    for path in sorted((ROOT / "tests" / "data" / "eval").glob("*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]:
            if item.get("lang", "en") != "en":
                found.append((item["title"], item.get("summary", ""), item["lang"]))
    return found


def accuracy(samples: Sequence[Sample]) -> dict[str, dict[str, int]]:
    """Per declared language: items, right with the hint, right without it."""
    table: dict[str, dict[str, int]] = {}
    for title, text, declared in samples:
        row = table.setdefault(declared, {"items": 0, "with_hint": 0, "without_hint": 0})
        row["items"] += 1
        row["with_hint"] += language.item_language(title, text, declared) == declared
        row["without_hint"] += language.item_language(title, text, "") == declared
    return dict(sorted(table.items(), key=lambda kv: -kv[1]["items"]))


def disagreements(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """Items whose detected language is not the declared one, by the two languages, with
    an example of each (so a reader can tell a wrong declaration from a wrong guess)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for title, text, declared in samples:
        detected = language.item_language(title, text, declared)
        if detected != declared:
            row = found.setdefault(
                (declared, detected),
                {
                    "declared": declared,
                    "detected": detected,
                    "items": 0,
                    "example": " ".join(f"{title} | {text}".split())[:90],
                },
            )
            row["items"] += 1
    return sorted(found.values(), key=lambda row: -row["items"])


def decided_by(samples: Sequence[Sample]) -> dict[str, int]:
    """Which step decided each item (the steps of ``item_language``, in order)."""
    steps: Counter[str] = Counter()
    for title, text, _ in samples:
        sample = f"{title}\n{text}"[: language.SAMPLE_CHARS] if text else title
        if not sample.isascii() and language._script_language(sample):
            steps["script"] += 1
        elif sample.isascii() and language._looks_english(sample):
            steps["English words"] += 1
        elif len(sample) < language.SHORT_CHARS and (
            sum(c.isalpha() for c in sample) < language.MIN_LETTERS
        ):
            steps["too short: the hint"] += 1
        else:
            steps["CLD2"] += 1
    return dict(steps.most_common())


def median_cpu(run: Callable[[], object], repeat: int = 5) -> float:
    run()
    cpus = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        cpus.append(time.process_time() - started)
    return statistics.median(cpus)


def detect_all(samples: Sequence[Sample]) -> None:
    for title, text, declared in samples:
        language.item_language(title, text, declared)


def parse_all(documents: Sequence[bytes]) -> int:
    return sum(len(parse_feed(body, {}, URL, NOW).items) for body in documents)


def parse_cost(documents: Sequence[bytes], repeat: int = 7) -> dict[str, float]:
    """Parse CPU µs per item with detection, and with the declared language copied (the
    two alternated, so a change in the machine's speed weighs on both alike)."""
    count = parse_all(documents)
    original = items_module.item_language

    def copied(_title: str, _text: str, declared: str) -> str:
        return declared

    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for _ in range(repeat):
            for detect in (True, False):
                items_module.item_language = original if detect else copied
                started = time.process_time()
                parse_all(documents)
                times[detect].append(time.process_time() - started)
    finally:
        items_module.item_language = original
    return {
        "items": count,
        "with_detection_us": statistics.median(times[True]) / count * 1e6,
        "declared_copied_us": statistics.median(times[False]) / count * 1e6,
        # The fastest runs: on a shared machine, the nearest to the cost on an idle one.
        "with_detection_min_us": min(times[True]) / count * 1e6,
        "declared_copied_min_us": min(times[False]) / count * 1e6,
    }


def news_samples(documents: Sequence[bytes]) -> list[Sample]:
    items: list[ParsedItem] = []
    for body in documents:
        items += parse_feed(body, {}, URL, NOW).items
    return [(i.title, i.summary or i.content, "en") for i in items]


def first_call_ms() -> float:
    language._cld2.cache_clear()
    started = time.perf_counter()
    language.item_language("Die Regierung hat neue Minister ernannt", "", "")
    return (time.perf_counter() - started) * 1000


def measure(corpus: Path, feeds: int) -> dict[str, Any]:
    first = first_call_ms()
    captured = corpus_samples(corpus)
    labeled = labeled_samples()
    documents = [document(spec, NOW).encode() for spec in feed_specs(feeds)]
    news = news_samples(documents)
    return {
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "first_call_ms": round(first, 1),
        "corpus_accuracy": accuracy(captured),
        "corpus_disagreements": disagreements(captured),
        "labeled_accuracy": accuracy(labeled),
        "decided_by": {"corpus": decided_by(captured), "news": decided_by(news)},
        "us_per_item": {
            "corpus": median_cpu(lambda: detect_all(captured)) / len(captured) * 1e6,
            "news": median_cpu(lambda: detect_all(news)) / len(news) * 1e6,
        },
        "parse": parse_cost(documents),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Language detection (#19)",
        "",
        f"Measured {result['measured']} with `benchmarks/language_detect.py`: "
        "`tracker.parse.language.item_language` (script, common English words, else CLD2 "
        "through pycld2; the declared language as the hint).",
        "",
        f"Machine: {report.machine_line(result['machine'])}.",
        "",
        "## Accuracy",
        "",
        "Distinct items of the captured corpus feeds that declare a language, counted right",
        "when the detected language is the declared one (a declaration is the feed's claim,",
        "not a label), and the labeled non-English items of `tests/data/eval`.",
        "",
        "| Set | Declared | Items | Right, with the hint | Right, detector alone |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for label, key in (("corpus", "corpus_accuracy"), ("labeled", "labeled_accuracy")):
        table = result[key]
        for declared, row in table.items():
            lines.append(_accuracy_row(label, declared, row))
        total = {k: sum(row[k] for row in table.values()) for k in next(iter(table.values()))}
        lines.append(_accuracy_row(label, "**all**", total))
    lines += [
        "",
        "Where the corpus's detected language is not the declared one:",
        "",
        "| Declared | Detected | Items | Example (title \\| summary) |",
        "| --- | --- | ---: | --- |",
        *(
            f"| {row['declared']} | {row['detected'] or '(none)'} | {row['items']} | "
            + row["example"].replace("|", "\\|")
            + " |"
            for row in result["corpus_disagreements"]
        ),
    ]
    lines += _speed_lines(result)
    return "\n".join(lines) + "\n"


def _accuracy_row(label: str, declared: str, row: dict[str, int]) -> str:
    def share(count: int) -> str:
        return f"{count:,} ({count / row['items']:.1%})"

    return (
        f"| {label} | {declared} | {row['items']:,} | {share(row['with_hint'])} "
        f"| {share(row['without_hint'])} |"
    )


def _speed_lines(result: dict[str, Any]) -> list[str]:
    parse = result["parse"]
    added = parse["with_detection_us"] - parse["declared_copied_us"]
    return [
        "",
        "## Speed",
        "",
        "| Items | `item_language`, CPU µs per item | Decided by |",
        "| --- | ---: | --- |",
        *(
            f"| {name} | {result['us_per_item'][name]:.1f} | "
            + ", ".join(f"{step} {count:,}" for step, count in result["decided_by"][name].items())
            + " |"
            for name in ("news", "corpus")
        ),
        "",
        f"`parse_feed` on the generated news feeds ({parse['items']:,} items): "
        f"{parse['with_detection_us']:.1f} µs CPU per item with detection, "
        f"{parse['declared_copied_us']:.1f} µs with the declared language copied: "
        f"detection adds {added:.1f} µs per item "
        f"({added / parse['declared_copied_us']:.1%} of the parse; the fastest runs "
        f"{parse['with_detection_min_us']:.1f} and {parse['declared_copied_min_us']:.1f} µs). "
        f"The first call in a process (pycld2 loaded) takes {result['first_call_ms']} ms.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "corpus")
    parser.add_argument("--feeds", type=int, default=300)
    args = parser.parse_args()
    result = measure(args.corpus, args.feeds)
    stem = RESULTS / f"{result['measured'][:10]}-language-detect"
    text = markdown(result)
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    report.write_json(stem.with_suffix(".json"), result)
    print(text)


if __name__ == "__main__":
    main()
