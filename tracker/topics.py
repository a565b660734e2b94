"""Topic files: load ``config/topics/*.toml`` into typed records, strictly.

A topic says which follow-ups of one seed article to flag: named groups of
literal terms and a rule over those groups. The schema is documented at the
top of ``config/topics/us-taliban.toml``; :data:`TOPIC_KEYS`, :data:`GROUP_KEYS`
:data:`RULE_KEYS` and :data:`CLAUSE_KEYS` (``[[rule.alternatives]]``) are the keys it
allows.

Term syntax: a literal word or phrase, matched case-insensitively on word
boundaries after :mod:`tracker.textnorm` folding; a ``*`` at the end of a word
matches any word starting with it (``талиб*``, ``negotiat*``); no other syntax,
so there is no user regex and nothing to backtrack. Terms listed under
``exact_case`` must also match their letter case (``US`` but not ``us``). A
group's ``fields`` limit where its terms are looked for (``["title"]``: what a
story is about).

A clause (the main one in ``[rule]`` or a ``[[rule.alternatives]]`` table) may
ask for its matches to be close (``within`` words), in one sentence
(``same_sentence``), and may be switched off by other groups (``unless``).

Entity alias sets (``[entities.<name>]``) name one person, place or organisation in
every language and script it is written in (Khalilzad, Халилзад*, خلیلزاد); their
terms take the same syntax as a group's. They do not flag anything: developments
(:mod:`tracker.developments`) use them to tell that two reports name the same entity.

Validation is strict: an unknown key, a wrong type, a bad term or a rule naming
a missing group raises :class:`~tracker.errors.TopicError` naming the file, the
line of the offending key and the key, with a "did you mean" suggestion for
near misses. :func:`check_topics` collects every error instead of the first.

This module reads files (``tomllib``) and builds records; it does not match text
(:mod:`tracker.matching` does) and does not read seed articles.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.errors import TopicError
from tracker.textnorm import fold, fold_keeping_case, split_words

TOPIC_KEYS = ("name", "title", "description", "seed", "groups", "entities", "rule")
GROUP_KEYS = ("title", "terms", "exact_case", "weight", "min_terms", "masks", "fields")
ENTITY_KEYS = ("title", "terms", "exact_case")
CLAUSE_KEYS = ("all_of", "any_of", "min_matches", "within", "same_sentence", "unless")
RULE_KEYS = (*CLAUSE_KEYS, "alternatives", "none_of", "relevant_if", "seed_weight", "min_score")
ITEM_FIELDS = ("title", "summary", "content")  # the fields of an item, in reading order
MIN_PREFIX_LENGTH = 2  # letters before a '*', so 'a*' cannot match half the language
MAX_TERM_LENGTH = 200  # characters: a longer "term" is a pasted paragraph, not a term
MAX_TOPIC_BYTES = 1024 * 1024  # the shipped topic, with every language, is under 40 KB
TERM_SHOWN = 60  # characters of a bad term quoted in its error
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
_GROUP_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_TOML_LINE = re.compile(r"line (\d+)")
_HEADER = re.compile(r"^\s*\[")
_INDEXED = re.compile(r"(\w+)\[(\d+)\]")


@dataclass(frozen=True)
class Term:
    """One term as written in the topic file and as the matcher compares it."""

    text: str  # as written, e.g. "талиб*" or "State Department"
    words: tuple[str, ...]  # folded words
    prefix: tuple[bool, ...]  # per word: True when it ends with '*'
    case_words: tuple[str, ...] = ()  # words with their case, for exact_case terms

    @property
    def exact_case(self) -> bool:
        return bool(self.case_words)


@dataclass(frozen=True)
class TermGroup:
    """A named set of terms that stand for one thing (an actor, an activity...)."""

    name: str
    title: str
    terms: tuple[Term, ...]
    weight: float = 1.0
    min_terms: int = 1  # distinct terms needed for the group to count as matched
    masks: tuple[str, ...] = ()  # groups whose matches inside ours do not count
    fields: tuple[str, ...] = ITEM_FIELDS  # where the terms are looked for


@dataclass(frozen=True)
class Clause:
    """One way for an item to be flagged: groups that must match, and how close."""

    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    min_matches: int = 1  # distinct terms over all_of and any_of groups
    within: int | None = None  # words; None: anywhere in the item
    same_sentence: bool = False  # the matches within one sentence (a title is one)
    unless: tuple[str, ...] = ()  # any of these groups matched: the clause does not hold


@dataclass(frozen=True)
class FlagRule:
    """When an item is relevant to the topic, and when it is a flagged follow-up.

    The rule holds when no ``none_of`` group matched and any clause holds: the
    main one (the ``all_of``/``any_of``/... keys of ``[rule]``) or one of the
    ``[[rule.alternatives]]``.
    """

    clauses: tuple[Clause, ...] = ()
    none_of: tuple[str, ...] = ()
    relevant_if: tuple[str, ...] = ()
    seed_weight: float = 1.0
    min_score: float | None = None


@dataclass(frozen=True)
class Topic:
    """One topic file, validated."""

    name: str
    title: str
    seed: str  # file name relative to the seeds directory; "" when none
    groups: tuple[TermGroup, ...]
    rule: FlagRule
    version: str  # first 12 hex digits of the sha256 of the file's bytes
    path: str
    description: str = ""
    entities: tuple[TermGroup, ...] = ()  # alias sets: one per entity, its names as terms

    def group(self, name: str) -> TermGroup:
        """The group called ``name`` (KeyError when there is none)."""
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(name)


def load_topic(path: Path) -> Topic:
    """Load and validate one topic file; raise the first :class:`TopicError`."""
    topic, errors = _read_topic(path)
    if errors:
        raise errors[0]
    assert topic is not None
    return topic


def load_topics(directory: Path) -> tuple[Topic, ...]:
    """Load every ``*.toml`` in ``directory``, sorted by file name."""
    topics = tuple(load_topic(path) for path in _topic_paths(directory))
    duplicate = _duplicate_name_errors(topics)
    if duplicate:
        raise duplicate[0]
    return topics


def check_topics(directory: Path) -> list[TopicError]:
    """Every error in every topic file of ``directory`` (empty when all are valid)."""
    try:
        paths = _topic_paths(directory)
    except TopicError as error:
        return [error]
    errors: list[TopicError] = []
    topics: list[Topic] = []
    for path in paths:
        topic, file_errors = _read_topic(path)
        errors.extend(file_errors)
        if topic is not None:
            topics.append(topic)
    return errors + _duplicate_name_errors(topics)


def parse_term(text: str) -> Term:
    """Parse one term; raise ValueError (with a short reason) when it is malformed."""
    if len(text) > MAX_TERM_LENGTH:
        raise ValueError(f"{len(text)} characters; a term has at most {MAX_TERM_LENGTH}")
    words: list[str] = []
    prefix: list[bool] = []
    for chunk in text.split():
        is_prefix = chunk.endswith("*")
        body = chunk[:-1] if is_prefix else chunk
        if "*" in body:
            raise ValueError("'*' is allowed only at the end of a word")
        chunk_words = list(split_words(fold(body)).words)
        if is_prefix and (not chunk_words or len(chunk_words[-1]) < MIN_PREFIX_LENGTH):
            raise ValueError(f"a prefix needs {MIN_PREFIX_LENGTH} letters before '*'")
        words.extend(chunk_words)
        prefix.extend([False] * len(chunk_words))
        if is_prefix:
            prefix[-1] = True
    if not words:
        raise ValueError("a term needs at least one letter or digit")
    return Term(text=text, words=tuple(words), prefix=tuple(prefix))


def _with_case(term: Term) -> Term:
    case_words = tuple(split_words(fold_keeping_case(term.text.replace("*", " "))).words)
    return Term(term.text, term.words, term.prefix, case_words)


def _topic_paths(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise TopicError("topics directory not found", path=str(directory))
    return sorted(directory.glob("*.toml"))


def _duplicate_name_errors(topics: Sequence[Topic]) -> list[TopicError]:
    errors: list[TopicError] = []
    seen: dict[str, str] = {}
    for topic in topics:
        if topic.name in seen:
            message = f"topic name {topic.name!r} is already used by {seen[topic.name]}"
            errors.append(TopicError(message, path=topic.path, key="name"))
        seen.setdefault(topic.name, topic.path)
    return errors


def _read_topic(path: Path) -> tuple[Topic | None, list[TopicError]]:
    """Parse and validate one file: the topic (None when invalid) and all its errors."""
    try:
        if path.stat().st_size > MAX_TOPIC_BYTES:
            size = path.stat().st_size / 1e6
            message = (
                f"topic file is too large ({size:.1f} MB; at most {MAX_TOPIC_BYTES // 2**20} MiB)"
            )
            return None, [TopicError(message, path=str(path))]
        raw = path.read_bytes()
    except OSError as error:
        return None, [TopicError(f"cannot read topic file: {error.strerror}", path=str(path))]
    try:
        source = raw.decode("utf-8")
        data = tomllib.loads(source)
    except UnicodeDecodeError:
        return None, [TopicError("topic file is not UTF-8", path=str(path))]
    except tomllib.TOMLDecodeError as error:
        return None, [_syntax_error(path, error)]
    checker = _Checker(str(path), source.splitlines())
    topic = checker.topic(data, hashlib.sha256(raw).hexdigest()[:12])
    return (topic if not checker.errors else None), checker.errors


def _syntax_error(path: Path, error: tomllib.TOMLDecodeError) -> TopicError:
    found = _TOML_LINE.search(str(error))
    line = int(found.group(1)) if found else None
    return TopicError(f"invalid TOML: {str(error).split(' (at ')[0]}", path=str(path), line=line)


@dataclass
class _Checker:
    """Validates one parsed file, collecting errors with file, line and key."""

    path: str
    lines: Sequence[str]
    errors: list[TopicError] = field(default_factory=list)

    def topic(self, data: Mapping[str, Any], version: str) -> Topic:
        self._unknown_keys(data, TOPIC_KEYS, ())
        name = self._string(data, "name", (), default=Path(self.path).stem)
        if not _NAME.match(name):
            self._error("must be lower-case letters, digits, '-' or '_'", (), "name")
        groups = self._groups(data.get("groups", {}))
        rule = self._rule(data.get("rule", {}), {group.name for group in groups})
        self._check_masks(groups)
        entities = self._entities(data.get("entities", {}))
        return Topic(
            name=name,
            title=self._string(data, "title", (), default=name),
            seed=self._seed(data),
            groups=groups,
            rule=rule,
            version=version,
            path=self.path,
            description=self._string(data, "description", (), default=""),
            entities=entities,
        )

    def _seed(self, data: Mapping[str, Any]) -> str:
        seed = self._string(data, "seed", (), default="")
        if seed and (Path(seed).is_absolute() or ".." in Path(seed).parts):
            self._error("must be a file name inside the seeds directory", (), "seed")
        return seed

    def _groups(self, groups: Any) -> tuple[TermGroup, ...]:
        if not isinstance(groups, dict) or not groups:
            self._error("needs at least one [groups.<name>] table", (), "groups")
            return ()
        return self._named(groups, self._group)

    def _group(self, name: str, table: Any) -> TermGroup | None:
        checked = self._term_table("groups", name, table, GROUP_KEYS)
        if checked is None:
            return None
        where, terms = checked
        return TermGroup(
            name=name,
            title=self._string(table, "title", where, default=name),
            terms=terms,
            weight=self._number(table, "weight", where, default=1.0),
            min_terms=self._integer(table, "min_terms", where, default=1, minimum=1) or 1,
            masks=self._names(table, "masks", where),
            fields=self._fields(table, where),
        )

    def _entities(self, entities: Any) -> tuple[TermGroup, ...]:
        if not isinstance(entities, dict):
            self._error("must be a table of [entities.<name>] tables", (), "entities")
            return ()
        return self._named(entities, self._entity)

    def _entity(self, name: str, table: Any) -> TermGroup | None:
        checked = self._term_table("entities", name, table, ENTITY_KEYS)
        if checked is None:
            return None
        where, terms = checked
        return TermGroup(name, self._string(table, "title", where, default=name), terms)

    @staticmethod
    def _named(
        tables: Mapping[str, Any], build: Callable[[str, Any], TermGroup | None]
    ) -> tuple[TermGroup, ...]:
        return tuple(made for name, table in tables.items() if (made := build(name, table)))

    def _term_table(
        self, section: str, name: str, table: Any, keys: Sequence[str]
    ) -> tuple[tuple[str, ...], tuple[Term, ...]] | None:
        """The checks every named table of terms gets (a group, an alias set): its
        name, its keys, at least one valid term; None when it is no table at all."""
        where = (section, name)
        if not _GROUP_NAME.match(name):
            kind = {"groups": "group", "entities": "entity"}[section]
            self._error(f"{kind} names are lower-case letters, digits and '_'", (section,), name)
        if not isinstance(table, dict):
            self._error("must be a table", (section,), name)
            return None
        self._unknown_keys(table, keys, where)
        terms = self._terms(table, where)
        if not terms:
            self._error("needs at least one term", where, "terms")
        return where, terms

    def _fields(self, table: Mapping[str, Any], where: tuple[str, ...]) -> tuple[str, ...]:
        if "fields" not in table:
            return ITEM_FIELDS
        fields, raw = self._strings(table, "fields", where), table["fields"]
        if not isinstance(raw, list) or len(fields) != len(raw):
            return ITEM_FIELDS  # not a list of strings: the error is recorded
        if not fields:
            self._error("needs at least one of " + ", ".join(ITEM_FIELDS), where, "fields")
        for name in fields:
            if name not in ITEM_FIELDS:
                message = f"unknown field {name!r}{_suggest(name, ITEM_FIELDS)}"
                self._error(message, where, "fields", needle=name)
        if len(set(fields)) < len(fields):
            self._error("lists a field twice", where, "fields")
        return tuple(name for name in ITEM_FIELDS if name in fields)

    def _terms(self, table: Mapping[str, Any], where: tuple[str, ...]) -> tuple[Term, ...]:
        terms: list[Term] = []
        seen: dict[tuple[tuple[str, ...], tuple[bool, ...], bool], str] = {}
        for key in ("terms", "exact_case"):
            for text in self._strings(table, key, where):
                term = self._term(text, where, key)
                if term is None:
                    continue
                term = _with_case(term) if key == "exact_case" else term
                signature = (term.words, term.prefix, term.exact_case)
                if signature in seen:
                    message = f"duplicate term {text!r} (same as {seen[signature]!r})"
                    self._error(message, where, key, needle=text)
                    continue
                seen[signature] = text
                terms.append(term)
        return tuple(terms)

    def _term(self, text: str, where: tuple[str, ...], key: str) -> Term | None:
        try:
            return parse_term(text)
        except ValueError as error:
            shown = text if len(text) <= TERM_SHOWN else text[:TERM_SHOWN] + "..."
            self._error(f"bad term {shown!r}: {error}", where, key, needle=text)
            return None

    def _rule(self, table: Any, group_names: set[str]) -> FlagRule:
        where = ("rule",)
        if not isinstance(table, dict):
            self._error("must be a table", (), "rule")
            return FlagRule()
        self._unknown_keys(table, RULE_KEYS, where)
        main = self._clause(table, where, group_names)
        if not main.all_of and not main.any_of:
            self._error("needs all_of or any_of: otherwise nothing is flagged", (), "rule")
        min_score = table.get("min_score")
        return FlagRule(
            clauses=(main, *self._alternatives(table.get("alternatives", []), group_names)),
            none_of=self._names(table, "none_of", where, known=group_names),
            relevant_if=self._names(table, "relevant_if", where, known=group_names),
            seed_weight=self._number(table, "seed_weight", where, default=1.0),
            min_score=None if min_score is None else self._number(table, "min_score", where, 0.0),
        )

    def _alternatives(self, tables: Any, group_names: set[str]) -> tuple[Clause, ...]:
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self._error("must be [[rule.alternatives]] tables", ("rule",), "alternatives")
            return ()
        clauses = []
        for number, table in enumerate(tables, start=1):
            where = ("rule", f"alternatives[{number}]")
            self._unknown_keys(table, CLAUSE_KEYS, where)
            clause = self._clause(table, where, group_names)
            if not clause.all_of and not clause.any_of:
                self._error("needs all_of or any_of", where, "all_of")
            clauses.append(clause)
        return tuple(clauses)

    def _clause(self, table: Mapping[str, Any], where: tuple[str, ...], known: set[str]) -> Clause:
        clause = Clause(
            all_of=self._names(table, "all_of", where, known=known),
            any_of=self._names(table, "any_of", where, known=known),
            min_matches=self._integer(table, "min_matches", where, default=1, minimum=1) or 1,
            within=self._integer(table, "within", where, default=None, minimum=1),
            same_sentence=self._boolean(table, "same_sentence", where, default=False),
            unless=self._names(table, "unless", where, known=known),
        )
        if clashing := sorted(set(clause.unless) & {*clause.all_of, *clause.any_of}):
            message = f"group {clashing[0]!r} is both required and excluded: the clause never holds"
            self._error(message, where, "unless")
        return clause

    def _check_masks(self, groups: Sequence[TermGroup]) -> None:
        names = {group.name for group in groups}
        for group in groups:
            for masked in group.masks:
                if masked not in names:
                    where = ("groups", group.name)
                    self._error(
                        f"unknown group {masked!r}{_suggest(masked, names)}", where, "masks"
                    )

    def _names(
        self,
        table: Mapping[str, Any],
        key: str,
        where: tuple[str, ...],
        known: set[str] | None = None,
    ) -> tuple[str, ...]:
        names = self._strings(table, key, where)
        for name in names:
            if known is not None and name not in known:
                message = f"unknown group {name!r}{_suggest(name, known)}"
                self._error(message, where, key, needle=name)
        return names

    def _strings(
        self, table: Mapping[str, Any], key: str, where: tuple[str, ...]
    ) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self._error("must be a list of strings", where, key)
            return ()
        return tuple(value)

    def _string(
        self, table: Mapping[str, Any], key: str, where: tuple[str, ...], default: str
    ) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            self._error("must be a string", where, key)
            return default
        return value

    def _boolean(
        self, table: Mapping[str, Any], key: str, where: tuple[str, ...], default: bool
    ) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self._error("must be true or false", where, key)
            return default
        return value

    def _number(
        self, table: Mapping[str, Any], key: str, where: tuple[str, ...], default: float
    ) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._error("must be a number", where, key)
            return default
        return float(value)

    def _integer(
        self,
        table: Mapping[str, Any],
        key: str,
        where: tuple[str, ...],
        default: int | None,
        minimum: int,
    ) -> int | None:
        value = table.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self._error("must be an integer", where, key)
            return default
        if value < minimum:
            self._error(f"must be at least {minimum}", where, key)
            return default
        return value

    def _unknown_keys(
        self, table: Mapping[str, Any], allowed: Sequence[str], where: tuple[str, ...]
    ) -> None:
        for key in table:
            if key not in allowed:
                self._error(f"unknown key{_suggest(key, allowed)}", where, key)

    def _error(self, message: str, where: tuple[str, ...], key: str, needle: str = "") -> None:
        line = _key_line(self.lines, where, key, needle)
        dotted = ".".join((*where, key))
        self.errors.append(TopicError(message, path=self.path, line=line, key=dotted))


def _suggest(word: str, choices: Sequence[str] | set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _key_line(lines: Sequence[str], where: tuple[str, ...], key: str, needle: str) -> int | None:
    """1-based line of ``key`` (or of the string ``needle`` under it) in table ``where``."""
    region = list(_table_region(lines, where))
    patterns = [re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")]
    if needle:
        patterns.insert(0, re.compile(rf"""["']{re.escape(needle)}["']"""))
    for pattern in patterns:
        for number, text in region:
            if pattern.search(text):
                return number
    own_table = re.compile(rf"""^\s*\[\s*{_dotted_pattern((*where, key))}\s*[\].]""")
    dotted_key = re.compile(rf"""(^|[\s.{{,"']){re.escape(key)}["']?\s*=""")
    for pattern in (own_table, dotted_key):
        for number, text in enumerate(lines, start=1):
            if pattern.search(text):
                return number
    return region[0][0] if region else None


def _table_region(lines: Sequence[str], where: tuple[str, ...]) -> Iterator[tuple[int, str]]:
    """The numbered lines of table ``where``: its header up to the next header.

    ``alternatives[2]`` as the last part of ``where`` names the second
    ``[[...alternatives]]`` table.
    """
    occurrence = 1
    if where and (indexed := _INDEXED.fullmatch(where[-1])):
        where = (*where[:-1], indexed.group(1))
        occurrence = int(indexed.group(2))
    header = re.compile(rf"""^\s*\[\[?\s*{_dotted_pattern(where)}\s*\]""") if where else None
    inside = header is None
    seen = 0
    for number, text in enumerate(lines, start=1):
        if _HEADER.match(text):
            seen += bool(header and header.match(text))
            inside = header is not None and bool(header.match(text)) and seen == occurrence
        if inside:
            yield number, text


def _dotted_pattern(where: tuple[str, ...]) -> str:
    return r"\s*\.\s*".join(rf"""["']?{re.escape(part)}["']?""" for part in where)
