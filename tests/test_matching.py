"""The follow-up flag: which terms match, whether the rule holds, the score and the reasons.

The tables use stories written for these tests (not the dev set's wording), in
English, Russian, Persian and Pashto; near misses must not be flagged. Words that
name a dealing ("talks", "envoy") flag near both actors; generic ones ("met",
"discuss", "free") only in one sentence with both, and not in stories about another
state, a briefing in Washington or (for verbs of speech) a programme blurb.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.matching import TopicMatcher, compile_terms, find_matches
from tracker.models import ItemText
from tracker.topics import Topic, load_topic, parse_term

ROOT = Path(__file__).resolve().parent.parent
TOPIC = load_topic(ROOT / "config" / "topics" / "us-taliban.toml")
SEED = (ROOT / "seeds" / TOPIC.seed).read_text(encoding="utf-8")
MATCHER = TopicMatcher(TOPIC, SEED)

# fmt: off
FOLLOW_UPS = [
    # (behaviour it pins, language, title, summary, groups expected among the matches)
    ("Taliban named as Kabul's rulers; a swap", "en",
     "Washington and Kabul's rulers agree to swap detainees",
     "A deal mediated by Qatar freed an American aid worker.",
     {"us", "taliban", "engagement"}),
    ("a US official by name and talks", "en",
     "Rubio says door open to talks with Taliban on missing Americans", "",
     {"us", "taliban", "engagement"}),
    ("CIA and a Taliban leader by name meeting", "en",
     "CIA director met Mullah Baradar in secret Kabul meeting, officials say", "",
     {"us", "taliban", "contact"}),
    ("demands and sanctions", "en",
     "Taliban demand US lift sanctions before any deal on detained aid workers", "",
     {"us", "taliban", "engagement"}),
    ("intelligence handed over", "en",
     "Islamic Emirate says it handed Washington evidence on ISIS-K cells", "",
     {"us", "taliban", "sharing", "intel", "iskp"}),
    ("actors split between title and summary", "en",
     "State Department confirms second round of Doha contacts",
     "Officials met representatives of the Islamic Emirate on Tuesday.",
     {"us", "taliban", "engagement"}),
    ("Kabul standing for its rulers as the counterpart", "en",
     "Washington ready to exchange intelligence with Kabul against jihadists", "",
     {"us", "taliban", "sharing", "intel"}),
    ("a US envoy's trip to Kabul", "en",
     "Khalilzad makes surprise trip to Kabul for talks on detained Americans", "",
     {"us", "taliban", "engagement"}),
    ("ru: envoy by name, prefix terms", "ru",
     "Халилзад провел переговоры с талибами в Дохе", "",
     {"us", "taliban", "engagement"}),
    ("ru: Islamic Emirate, prisoner exchange", "ru",
     "Вашингтон и «Исламский эмират» обменялись заключенными", "",
     {"us", "taliban", "engagement"}),
    ("ru: embassy and rapprochement", "ru",
     "США рассматривают возможность возобновления работы посольства в Кабуле",
     "Решение может стать шагом к сближению с талибами.",
     {"us", "taliban", "engagement"}),
    ("fa: special envoy meets Muttaqi", "fa",
     "نماینده ویژه آمریکا با امیرخان متقی دیدار کرد", "",
     {"us", "taliban", "engagement"}),
    ("fa: security cooperation, zero-width joiner", "fa",
     "طالبان‌ها: آماده همکاری امنیتی با واشنگتن هستیم", "",
     {"us", "taliban", "engagement"}),
    ("ps: prisoner exchange talks in Doha", "ps",
     "امریکا او طالبان په دوحه کې د بندیانو پر تبادلې خبرې وکړې", "",
     {"us", "taliban", "contact"}),
    ("ps: Islamic Emirate meets US representative", "ps",
     "د اسلامي امارت مشرتابه د امریکا له استازي سره وکتل", "",
     {"us", "taliban", "engagement"}),
    ("Bagram demand without the Taliban named", "en",
     "Trump says US wants Bagram air base back", "",
     {"us", "bagram", "base_demand"}),
    ("ru: Bagram demand", "ru",
     "Трамп снова потребовал вернуть США авиабазу Баграм", "",
     {"us", "bagram"}),
    ("refusal of a US demand", "en",
     "Taliban rebuff Washington's request to hand back Bagram", "",
     {"us", "taliban", "contact"}),
    ("sharing intelligence said with a verb, words between verb and object", "en",
     "Washington quietly shares ISIS-K threat intelligence with Taliban, officials say",
     "The US passed warnings to the Taliban about Islamic State Khorasan plots",
     {"us", "taliban", "sharing", "intel", "iskp"}),
    ("warnings passed, in the other direction", "en",
     "Taliban intelligence chief says his service is passing warnings to US officials", "",
     {"us", "taliban", "sharing", "intel"}),
    ("ru: intelligence handed over with a verb", "ru",
     "Вашингтон передал талибам данные о готовящихся терактах ИГИЛ-Хорасан", "",
     {"us", "taliban", "sharing", "intel", "iskp"}),
    ("fa: intelligence shared with a verb", "fa",
     "آمریکا اطلاعات تهدیدات داعش خراسان را با طالبان به اشتراک گذاشت", "",
     {"us", "taliban", "sharing", "intel", "iskp"}),
    ("a generic verb bound tightly to both actors", "en",
     "Taliban free American aid worker held since 2023", "",
     {"us", "taliban", "contact"}),
    ("ru: a generic verb bound tightly", "ru",
     "Талибы освободили американского журналиста", "",
     {"us", "taliban", "contact"}),
    ("fa: a generic verb bound tightly", "fa",
     "طالبان یک شهروند آمریکایی را آزاد کردند", "",
     {"us", "taliban", "contact"}),
    ("a strong word in one sentence flags though the title names another state", "en",
     "Washington will not join Beijing in accepting a Taliban ambassador, officials say", "",
     {"us", "taliban", "engagement", "other_states"}),
    ("rewards on Taliban leaders dropped", "en",
     "Kabul says Washington has dropped rewards for three Haqqani family leaders", "",
     {"us", "taliban", "engagement"}),
    ("a programme blurb still flags on a strong word", "en",
     "Taliban spokesman says talks with US on detainees continue | Inside Story",
     "Subscribe to our channel. Our host discusses what comes next.",
     {"us", "taliban", "engagement", "programme"}),
]

NEAR_MISSES = [
    # (behaviour it pins, language, title, summary)
    ("Taliban with Russia, no US actor", "en",
     "Taliban host Russian envoy for talks on trade and security", ""),
    ("Taliban with China and Pakistan", "en",
     "Chinese and Pakistani ministers meet Taliban foreign minister in Kabul", ""),
    ("US against ISKP, no Taliban actor", "en",
     "US strike kills senior Islamic State Khorasan figure, Central Command says", ""),
    ("UN and Taliban, no US actor", "en",
     "UN Security Council extends Afghanistan mission, calls on Taliban to reverse curbs", ""),
    ("US and Afghan evacuees, no Taliban actor", "en",
     "Afghan evacuees in Texas await green cards as US court weighs their case", ""),
    ("sport is excluded even with US, Taliban and a meeting", "en",
     "Afghanistan cricketers meet US team before T20 World Cup warm-up",
     "Taliban sports officials attended the practice match."),
    ("a newspaper called Washington is no US actor", "en",
     "Washington Post interview: Taliban spokesman says talks with Pakistan stalled", ""),
    ("the Pakistani Taliban are not the Taliban", "en",
     "Pakistani Taliban claim attack as US envoy holds talks in Islamabad", ""),
    ("the pronoun 'us' is not the US", "en",
     "Taliban Tell Us They Want Talks, Says UN Envoy", ""),
    ("a US-backed figure is not a US actor", "en",
     "Former US-backed officials meet Taliban in Doha", ""),
    ("Taliban background is not a Taliban actor", "en",
     "US resumes talks with Qatar on Afghans who fled after the Taliban takeover", ""),
    ("Kabul as a place is not an actor", "en",
     "US lawmakers meet families of troops killed in Kabul airport bombing", ""),
    ("ru: Taliban with China", "ru",
     "Талибы провели переговоры с делегацией Китая в Пекине", ""),
    ("ru: Pentagon against IS in Syria", "ru",
     "Пентагон: удар по ИГИЛ в Сирии уничтожил командира", ""),
    ("fa: Russian delegation meets the Taliban", "fa",
     "هیئت روسی با مقامات طالبان در کابل دیدار کرد", ""),
    ("ps: Afghan cricket team travels to America", "ps",
     "د افغانستان د کرکټ لوبډلې امریکا ته سفر وکړ", ""),
    ("Central Asian deals with the Taliban", "en",
     "Kazakhstan and Uzbekistan sign deals with Taliban at Tashkent forum", ""),
    ("US news unrelated to Afghanistan", "en",
     "White House and Senate leaders hold talks on the budget", ""),
    ("leaving Bagram in 2021 is no demand to get it back", "en",
     "Last US troops leave Bagram as withdrawal nears completion", ""),
    ("a generic verb too far from the actors in one sentence", "en",
     "Drought deepens",
     "The Taliban's water ministry said rainfall was the lowest in decades and that it had "
     "discussed irrigation with farmers, while US forecasters expect more heat.", ),
    ("generic words do not cross the title into the summary", "en",
     "Ministers meet in Doha on gas prices",
     "American buyers and Taliban officials were not at the table."),
    ("a title about another state: generic words do not count", "en",
     "Trump says he did not discuss reports of Russian payments to Taliban fighters with Putin",
     ""),
    ("a title about the UN: a strong word far from the Taliban does not count", "en",
     "UN monitors: Taliban kept close ties with al-Qaeda",
     "Its leaders held several meetings with al-Qaeda figures in the months in which the "
     "movement's negotiators were in contact with the United States."),
    ("a title about another state: a handover does not count", "en",
     "Pakistan shares intelligence with US on Taliban commanders", ""),
    ("a briefing in Washington: its verbs describe the briefing", "en",
     "White House to brief Democrats after sharing information on Taliban bounty reports",
     ""),
    ("a programme blurb: the host's verb of speech", "en",
     "Fox host discusses Taliban threat to America",
     "Subscribe to the channel! Watch more videos on our website."),
    ("a US raid detaining suspects is no dealing", "en",
     "US commandos detained Taliban suspects in night raid, officials say", ""),
    ("Taliban-linked militants are not the Taliban", "en",
     "US officials seek release of contractor held by Taliban-linked gang", ""),
    ("intra-Afghan talks are not US-Taliban talks", "en",
     "Intra-Afghan talks open in Qatar; US officials hope the Taliban keep their word", ""),
    ("ru: a title about another state", "ru",
     "Лавров: Россия и США обсуждали вопрос талибов", ""),
    ("fa: a title about another state, intelligence shared", "fa",
     "پاکستان اطلاعات درباره طالبان را با آمریکا به اشتراک گذاشت", ""),
    ("ur: a word of another language is no term", "ur",
     "امریکہ کا پاکستان کو انتباہ کتنا سنگین ہے",
     "امریکی صدر کی دھمکی کیا صرف افغان طالبان تک محدود ہے؟"),
]
# fmt: on


@pytest.mark.parametrize(
    ("pins", "lang", "title", "summary", "groups"), FOLLOW_UPS, ids=[c[0] for c in FOLLOW_UPS]
)
def test_follow_ups_are_flagged(
    pins: str, lang: str, title: str, summary: str, groups: set[str]
) -> None:
    decision = MATCHER.decide(ItemText(title, summary, language=lang))
    assert decision.flagged, decision.reasons
    assert decision.relevant
    assert groups <= {match.group for match in decision.matches}
    assert decision.reasons.startswith("flagged: ")


@pytest.mark.parametrize(
    ("pins", "lang", "title", "summary"), NEAR_MISSES, ids=[c[0] for c in NEAR_MISSES]
)
def test_near_misses_are_not_flagged(pins: str, lang: str, title: str, summary: str) -> None:
    decision = MATCHER.decide(ItemText(title, summary, language=lang))
    assert not decision.flagged, decision.reasons
    assert decision.reasons.startswith("not flagged: ")


def test_matches_report_original_text_term_and_offset() -> None:
    title = "Итоги: Госдепартамент США провел «контакты» с талибами"
    decision = MATCHER.decide(ItemText(title, "", language="ru"))
    found = {(m.group, m.term, m.matched, m.field, m.offset) for m in decision.matches}
    assert ("us", "Госдеп*", "Госдепартамент", "title", 7) in found
    assert ("taliban", "талиб*", "талибами", "title", title.index("талибами")) in found
    for match in decision.matches:
        assert title[match.offset : match.offset + len(match.matched)] == match.matched


def test_matched_text_keeps_joiners_and_diacritics_of_the_original() -> None:
    summary = "سخنگوی طالبان‌ها گفت با اَمْرِيكَا گفت‌وگو می‌کنند"
    matches = MATCHER.find_matches(ItemText("", summary))
    matched = {match.matched for match in matches}
    assert {"طالبان‌ها", "اَمْرِيكَا", "گفت‌وگو"} <= matched
    for match in matches:
        assert summary[match.offset : match.offset + len(match.matched)] == match.matched


def test_reasons_list_each_group_with_matches_and_fields() -> None:
    decision = MATCHER.decide(
        ItemText(
            "State Department envoy holds talks with Taliban",
            "Intelligence sharing against ISKP and the embassy in Kabul were discussed.",
        )
    )
    lines = decision.reasons.splitlines()
    assert lines[0] == "flagged: US actors + Taliban actors within 40 words, with engagement"
    assert 'US actors: "State Department" in title' in lines
    assert 'Taliban actors: "Taliban" in title' in lines
    engagement = next(line for line in lines if line.startswith("engagement: "))
    assert '"talks" in title' in engagement
    assert '"Intelligence sharing" in summary' in engagement
    seed_line = lines[-1]
    assert seed_line.startswith("seed terms shared: ")
    assert {"intelligence", "ISKP", "Kabul"} <= set(seed_line.split(": ")[1].split(", "))
    assert set(decision.seed_terms) == set(seed_line.split(": ")[1].split(", "))
    assert decision.rule_version == TOPIC.version
    assert decision.topic == "us-taliban"


def test_reasons_say_why_an_item_is_not_flagged() -> None:
    reasons = MATCHER.decide(ItemText("Taliban meet Iranian delegation", "")).reasons
    assert reasons.splitlines()[0] == "not flagged: no US actors"
    sport = MATCHER.decide(ItemText("US, Taliban officials at cricket talks", "")).reasons
    assert sport.splitlines()[0] == "not flagged: excluded as sport"


def test_masked_mentions_are_left_out_but_named() -> None:
    decision = MATCHER.decide(ItemText("Washington Post: Taliban hold talks with Iran", ""))
    assert "us" not in {match.group for match in decision.matches}
    assert 'not actors (names, background): "Washington Post" in title' in decision.reasons


def test_actors_far_apart_in_the_content_are_not_flagged() -> None:
    filler = " ".join(["Border trade and crossings were discussed at length."] * 8)
    text = ItemText(
        "Taliban hold border talks with neighbours",
        "",
        f"{filler} Separately, the State Department said it had no comment on visas.",
    )
    decision = MATCHER.decide(text)
    assert not decision.flagged
    first = decision.reasons.splitlines()[0]
    assert first == "not flagged: US actors, Taliban actors, engagement not within 40 words"


def test_phrases_do_not_run_across_a_sentence_end() -> None:
    matches = MATCHER.find_matches(ItemText("The paint was white. House prices rose.", ""))
    assert "White House" not in {match.term for match in matches}
    abbreviation = MATCHER.find_matches(ItemText("U.S. officials met them", ""))
    assert "U.S." in {match.term for match in abbreviation}


def test_relevance_without_a_flag() -> None:
    taliban_only = MATCHER.decide(ItemText("Taliban close beauty salons", ""))
    assert taliban_only.relevant and not taliban_only.flagged
    masked = MATCHER.decide(ItemText("Life in Taliban-ruled Afghanistan", ""))
    assert masked.relevant and not masked.flagged
    unrelated = MATCHER.decide(ItemText("Rain expected over the weekend", "Take an umbrella."))
    assert not unrelated.relevant and not unrelated.flagged
    assert unrelated.score == 0.0
    assert unrelated.reasons == "not flagged: no topic terms matched"
    assert unrelated.matches == ()


OTHER_NEWS = [
    ("US officials discuss trade talks with China", "The State Department said on Monday."),
    ("Rain expected over the weekend", "Take an umbrella."),
    ("Washington Post wins award", "The newspaper's editors met in Washington."),
    ("Пентагон и Китай провели переговоры", "Вашингтон сообщил о встрече."),
]


def test_assess_is_decide_for_every_item_the_store_keeps() -> None:
    texts = [ItemText(c[2], c[3], language=c[1]) for c in (*FOLLOW_UPS, *NEAR_MISSES)]
    texts += [ItemText(title, summary) for title, summary in OTHER_NEWS]
    short = 0
    for text in texts:
        full, quick = MATCHER.decide(text), MATCHER.assess(text)
        if full.relevant or full.flagged:
            assert quick == full
        else:  # the store keeps nothing of it: the short decision says so
            assert not quick.relevant and not quick.flagged and quick.matches == ()
            short += quick != full
    assert short  # some items had terms (US actors, talks) that cannot matter alone


def test_assess_says_why_it_looked_no_closer() -> None:
    text = ItemText(*OTHER_NEWS[0])
    assert MATCHER.decide(text).matches  # US actors and talks, but no Taliban
    assert MATCHER.assess(text).reasons == (
        "not flagged: no terms of the groups that make an item relevant or flagged"
    )


def test_closer_follow_ups_score_higher() -> None:
    close = MATCHER.decide(
        ItemText(
            "White House weighs intelligence sharing with Taliban against ISKP",
            "Officials also discussed reopening the embassy in Kabul; lawmakers want concessions.",
        )
    )
    thin = MATCHER.decide(ItemText("US and Taliban talk", ""))
    assert close.flagged and thin.flagged
    assert close.score > thin.score
    assert len(close.seed_terms) > len(thin.seed_terms)


def test_decisions_are_deterministic() -> None:
    text = ItemText("Blinken: talks with Taliban continue", "In Doha.", language="en")
    assert MATCHER.decide(text) == TopicMatcher(TOPIC, SEED).decide(text)


def test_find_matches_takes_a_topic_or_a_compiled_index() -> None:
    text = ItemText("Taliban and Washington", "")
    assert find_matches(TOPIC, text) == find_matches(compile_terms(TOPIC), text)
    assert {match.group for match in find_matches(TOPIC, text)} == {"taliban", "us"}


RULE_TOPIC = """\
name = "rules"
[groups.a]
terms = ["alpha", "alef*"]
[groups.b]
terms = ["beta", "bravo"]
weight = 2
[groups.c]
terms = ["gamma"]
[groups.stop]
terms = ["stop"]
[groups.penalty]
terms = ["minus"]
weight = -3
[groups.shield]
terms = ["alpha shield"]
masks = ["a"]
[rule]
all_of = ["a"]
any_of = ["b", "c"]
none_of = ["stop"]
min_matches = 3
within = 5
min_score = 1.5
"""

RULE_CASES = [
    # (text, flagged, the behaviour it pins)
    ("alpha beta bravo", True, "all_of and any_of met with three distinct terms"),
    ("alpha beta", False, "min_matches counts distinct terms"),
    ("alpha alpha beta", False, "repeating a term does not count twice"),
    ("alpha alefbet gamma", True, "a prefix term counts, any_of met by another group"),
    ("beta bravo gamma", False, "all_of group missing"),
    ("alpha alefs beta stop", False, "none_of excludes"),
    ("alpha alefs one two three four five six beta", False, "within: too far apart"),
    ("alpha alefs beta minus", False, "a negative weight lowers the score below min_score"),
    ("alpha shield alefs beta", False, "a masked match does not count"),
]


@pytest.mark.parametrize(("text", "flagged", "pins"), RULE_CASES, ids=[c[2] for c in RULE_CASES])
def test_rule_features(tmp_path: Path, text: str, flagged: bool, pins: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(RULE_TOPIC, encoding="utf-8")
    decision = TopicMatcher(load_topic(path)).decide(ItemText(text, ""))
    assert decision.flagged is flagged, decision.reasons


CLAUSE_TOPIC = """\
name = "clauses"
[groups.a]
terms = ["alpha"]
[groups.b]
terms = ["beta"]
[groups.c]
terms = ["gamma"]
[groups.head]
terms = ["headline"]
fields = ["title"]
[rule]
all_of = ["a", "b"]
within = 6
same_sentence = true
unless = ["head"]
[[rule.alternatives]]
all_of = ["a", "b", "c"]
"""

CLAUSE_CASES = [
    # (title, summary, flagged, the behaviour it pins)
    ("alpha beta", "", True, "both in one sentence, close"),
    ("alpha. Beta", "", False, "a full stop ends a sentence"),
    ("alpha", "beta", False, "the title is a sentence of its own"),
    ("", "alpha in the U.S. beta", True, "an abbreviation's dot does not end a sentence"),
    ("", "alpha; beta", False, "a semicolon ends a sentence"),
    ("alpha | beta", "", False, "a bar ends a sentence (a programme's name)"),
    ("", "alpha\nbeta", False, "a line break ends a sentence"),
    ("", "alpha, they said, beta", True, "a comma does not"),
    ("", "alpha one two three four five six beta", False, "one sentence but not within"),
    ("", "alpha. Beta. Then alpha beta", True, "any sentence may hold the clause"),
    ("headline alpha beta", "", False, "unless: the group switches the clause off"),
    ("alpha beta", "headline", True, "a title-only group is not looked for in the summary"),
    ("headline alpha beta gamma", "", True, "unless switches off only its own clause"),
]


@pytest.mark.parametrize(
    ("title", "summary", "flagged", "pins"), CLAUSE_CASES, ids=[c[3] for c in CLAUSE_CASES]
)
def test_clause_sentences_unless_and_fields(
    tmp_path: Path, title: str, summary: str, flagged: bool, pins: str
) -> None:
    path = tmp_path / "clauses.toml"
    path.write_text(CLAUSE_TOPIC, encoding="utf-8")
    decision = TopicMatcher(load_topic(path)).decide(ItemText(title, summary))
    assert decision.flagged is flagged, decision.reasons


def test_reasons_name_the_sentence_rule_and_the_exclusion(tmp_path: Path) -> None:
    path = tmp_path / "clauses.toml"
    path.write_text(CLAUSE_TOPIC, encoding="utf-8")
    matcher = TopicMatcher(load_topic(path))
    flagged = matcher.decide(ItemText("alpha beta", "")).reasons.splitlines()[0]
    assert flagged == "flagged: a + b within 6 words in one sentence"
    apart = matcher.decide(ItemText("alpha. Beta", "")).reasons.splitlines()[0]
    assert apart == "not flagged: a, b not within 6 words in one sentence"
    excluded = matcher.decide(ItemText("headline alpha beta", "")).reasons.splitlines()[0]
    assert excluded == "not flagged: excluded as head"
    assert matcher.find_matches(ItemText("", "headline")) == ()


def test_min_terms_needs_distinct_terms_of_a_group(tmp_path: Path) -> None:
    path = tmp_path / "min.toml"
    path.write_text(
        '[groups.a]\nterms = ["one", "two"]\nmin_terms = 2\n[rule]\nall_of = ["a"]\n',
        encoding="utf-8",
    )
    matcher = TopicMatcher(load_topic(path))
    assert not matcher.decide(ItemText("one one", "")).flagged
    assert matcher.decide(ItemText("one two", "")).flagged


@pytest.mark.slow
def test_a_thousand_terms_on_a_large_text(tmp_path: Path) -> None:
    """Many terms and a long text: every occurrence found, nothing else."""
    from dataclasses import replace

    from tracker.topics import TermGroup

    terms = tuple(parse_term(f"term{n}x") for n in range(990)) + tuple(
        parse_term(text) for text in ("needle*", "hay stack", "talib*")
    )
    topic: Topic = replace(TOPIC, groups=(TermGroup("many", "many", terms),))
    paragraph = "Some hay stack words and needles, a haystack, Talibs and term7x.\n"
    text = paragraph * 20_000  # about 1.3 MB
    matches = find_matches(topic, ItemText("", "", text))
    counts: dict[str, int] = {}
    for match in matches:
        counts[match.term] = counts.get(match.term, 0) + 1
    assert counts == {"hay stack": 20_000, "needle*": 20_000, "talib*": 20_000, "term7x": 20_000}


def test_a_full_lookup_memory_is_replaced_without_losing_matches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tracker import matching

    monkeypatch.setattr(matching, "TUNING", matching.Tuning(lookup_memo_limit=4))
    matcher = TopicMatcher(TOPIC, SEED)
    for n in range(5):
        text = ItemText(f"Word{n} other{n} filler{n}: US and Taliban hold talks", "")
        assert matcher.decide(text).flagged
