//! The rule table and the small pieces of English the rules need: verb forms, objects cut at
//! clause boundaries, and graph nodes that are things rather than chunks of chat.

use super::words::{
    BEFORE_TO, CHAT_VERBS, CONVERSATIONAL, DAYS, DEGREES, MONTHS, NODE_LEADS, NODE_PARTICLES, NODE_TAILS, NOT_A_NODE,
    NOT_A_NODE_ALONE, NOT_AN_IDENTITY, POSSESSIONS, QUANTITY_LEADS, TIME_MARKERS,
};
use crate::model::MemoryKind;

/// What follows a rule's prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Object {
    /// A noun phrase; time words that belong to the sentence are cut ("in Porto last month").
    Noun,
    /// A verb phrase; its time is part of it ("visit Japan in April").
    Phrase,
    /// Nothing: the prefix is the whole statement ("I am vegan").
    Whole,
}

/// What else a match needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Needs {
    Nothing,
    /// A time reference in the object ("I will ... next month"): plans without one are chat.
    Time,
    /// Something one has (a pet, children, a condition), not "a question".
    Possession,
    /// An identity, not a feeling ("I am a bit tired").
    Identity,
    /// A verb that is not about the conversation ("I can help", "I want to ask").
    RealVerb,
}

pub(super) struct Rule {
    /// Lower-case first-person verb phrases that start the statement, after the subject.
    pub prefixes: &'static [&'static str],
    pub kind: MemoryKind,
    pub predicate: &'static str,
    /// Third-person rendering: `{s}` is the subject, `{o}` the object.
    pub template: &'static str,
    pub importance: f64,
    pub object: Object,
    pub needs: Needs,
}

const fn rule(
    prefixes: &'static [&'static str],
    kind: MemoryKind,
    predicate: &'static str,
    template: &'static str,
    importance: f64,
    object: Object,
    needs: Needs,
) -> Rule {
    Rule { prefixes, kind, predicate, template, importance, object, needs }
}

use MemoryKind::{Attribute, Event, Fact, Preference, Skill};
use Needs::{Identity, Nothing, Possession, RealVerb, Time};
use Object::{Noun, Phrase, Whole};

/// Tried in order; the first that matches wins, so longer forms come before shorter ones.
pub(super) const RULES: &[Rule] = &[
    rule(
        &["am allergic to", "have an allergy to", "have allergies to", "am severely allergic to"],
        Attribute,
        "allergic_to",
        "{s} is allergic to {o}",
        0.9,
        Noun,
        Nothing,
    ),
    rule(
        &["do not eat", "can not eat", "no longer eat", "stopped eating", "avoid eating", "do not eat any"],
        Preference,
        "does_not_eat",
        "{s} does not eat {o}",
        0.8,
        Noun,
        Nothing,
    ),
    rule(
        &[
            "do not like",
            "do not enjoy",
            "do not love",
            "dislike",
            "hate",
            "can not stand",
            "can not bear",
            "am not a fan of",
            "am not a big fan of",
            "am not a huge fan of",
            "am not into",
            "detest",
        ],
        Preference,
        "dislikes",
        "{s} dislikes {o}",
        0.6,
        Noun,
        Nothing,
    ),
    rule(
        &[
            "love",
            "like",
            "enjoy",
            "adore",
            "am a fan of",
            "am a big fan of",
            "am a huge fan of",
            "am into",
            "am obsessed with",
            "am crazy about",
            "am passionate about",
            "am a lover of",
        ],
        Preference,
        "likes",
        "{s} likes {o}",
        0.5,
        Noun,
        Nothing,
    ),
    rule(&["prefer"], Preference, "prefers", "{s} prefers {o}", 0.6, Noun, Nothing),
    rule(
        &[
            "work at",
            "am working at",
            "am employed at",
            "got a job at",
            "got a new job at",
            "started a new job at",
            "started a job at",
            "am starting a new job at",
            "am starting a job at",
            "have worked at",
        ],
        Fact,
        "works_at",
        "{s} works at {o}",
        0.7,
        Noun,
        Nothing,
    ),
    rule(
        &["work for", "work remotely for", "am working for", "am employed by", "have worked for"],
        Fact,
        "works_at",
        "{s} works for {o}",
        0.7,
        Noun,
        Nothing,
    ),
    rule(&["work as", "am working as", "got a job as"], Attribute, "works_as", "{s} works as {o}", 0.7, Noun, Nothing),
    rule(&["work in", "am working in"], Fact, "works_in", "{s} works in {o}", 0.6, Noun, Nothing),
    rule(
        &[
            "live in",
            "am living in",
            "moved to",
            "relocated to",
            "have lived in",
            "am based in",
            "settled in",
            "moved back to",
        ],
        Attribute,
        "lives_in",
        "{s} lives in {o}",
        0.8,
        Noun,
        Nothing,
    ),
    rule(&["live with", "am living with"], Fact, "lives_with", "{s} lives with {o}", 0.6, Noun, Nothing),
    rule(&["used to"], Fact, "used_to", "{s} used to {o}", 0.4, Phrase, RealVerb),
    rule(
        &["am from", "grew up in", "was born in", "come from"],
        Attribute,
        "from",
        "{s} is from {o}",
        0.6,
        Noun,
        Nothing,
    ),
    rule(&["play"], Fact, "plays", "{s} plays {o}", 0.5, Noun, Nothing),
    rule(&["speak"], Skill, "speaks", "{s} speaks {o}", 0.5, Noun, Nothing),
    rule(&["am learning"], Skill, "is_learning", "{s} is learning {o}", 0.5, Phrase, Nothing),
    rule(&["study", "am studying"], Fact, "studies", "{s} studies {o}", 0.6, Noun, Nothing),
    rule(&["know how to", "can"], Skill, "can", "{s} can {o}", 0.5, Phrase, RealVerb),
    rule(&["am good at", "am great at"], Skill, "good_at", "{s} is good at {o}", 0.5, Noun, Nothing),
    rule(&["am planning", "have planned"], Event, "plans", "{s} plans {o}", 0.6, Phrase, Nothing),
    rule(&["plan to", "intend to"], Event, "plans", "{s} plans to {o}", 0.6, Phrase, RealVerb),
    rule(&["will", "am about to"], Event, "plans", "{s} plans to {o}", 0.6, Phrase, Time),
    rule(
        &["want to", "would love to", "would like to", "hope to", "dream of"],
        Preference,
        "wants",
        "{s} wants to {o}",
        0.5,
        Phrase,
        RealVerb,
    ),
    rule(&["have", "adopted", "just adopted", "got"], Fact, "has", "{s} has {o}", 0.5, Noun, Possession),
    rule(&["quit", "gave up"], Event, "quit", "{s} quit {o}", 0.5, Noun, Nothing),
    // Keeps its article: the object starts right after "am".
    rule(&["am"], Attribute, "is_a", "{s} is {o}", 0.6, Noun, Identity),
    rule(&["am"], Attribute, "is", "{s} is {o}", 0.7, Whole, Nothing),
];

/// The predicate of a state ("I am vegan") and whether it has one value at a time.
pub(super) fn state_predicate(state: &str) -> (&'static str, bool) {
    match state {
        "married" | "single" | "divorced" | "engaged" | "widowed" => ("marital_status", true),
        "retired" | "self-employed" | "unemployed" => ("employment", true),
        "vegetarian" | "vegan" | "pescatarian" | "gluten-free" | "gluten free" | "lactose intolerant"
        | "lactose-intolerant" | "diabetic" | "celiac" | "coeliac" | "kosher" | "halal" | "sober" | "teetotal" => {
            ("diet", false)
        }
        _ => ("is", false),
    }
}

/// Tokens of a phrase, split on what is not a letter, digit or apostrophe.
fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty())
}

pub(super) fn is_conversational(object: &str) -> bool {
    words(object).any(|w| CONVERSATIONAL.iter().any(|c| c.eq_ignore_ascii_case(w)))
}

/// Whether `object` satisfies what the rule `needs`.
pub(super) fn satisfies(needs: Needs, object: &str) -> bool {
    let first = words(object).next().unwrap_or_default().to_lowercase();
    match needs {
        Needs::Nothing => true,
        // "I will see you next week" is chat; "I will go to Rome next week" is not: of the chat
        // verbs, those that also make plans stay.
        Needs::Time => {
            const PLANS: &[&str] =
                &["be", "go", "get", "do", "make", "start", "stop", "read", "order", "book", "come", "take", "have"];
            has_time(object) && (PLANS.contains(&first.as_str()) || !CHAT_VERBS.contains(&first.as_str()))
        }
        Needs::Possession => words(object).take(3).any(|w| {
            let w = w.to_lowercase();
            POSSESSIONS.iter().any(|p| w == *p || w.strip_suffix('s') == Some(p))
        }),
        Needs::Identity => {
            let mut w = words(object).map(str::to_lowercase);
            matches!(w.next().as_deref(), Some("a" | "an"))
                && w.next().is_some_and(|second| !NOT_AN_IDENTITY.contains(&second.as_str()))
        }
        // "I want to do one ...", "I can get em": the verb is real, its object is not.
        Needs::RealVerb => {
            let second = words(object).nth(1).unwrap_or_default().to_lowercase();
            !CHAT_VERBS.contains(&first.as_str()) && !["one", "em", "some"].contains(&second.as_str())
        }
    }
}

/// Whether a phrase names a time ("next month", "in April", "on Friday", "in 2027").
pub(super) fn has_time(phrase: &str) -> bool {
    words(phrase).any(|w| {
        let w = w.to_lowercase();
        TIME_MARKERS.contains(&w.as_str())
            || MONTHS.contains(&w.as_str())
            || DAYS.iter().any(|d| w == *d || w.strip_suffix('s') == Some(d))
            || (w.len() == 4 && w.starts_with("20") && w.chars().all(|c| c.is_ascii_digit()))
    })
}

/// Words that mark a repeated habit ("every Saturday", "twice a week", "on Sundays").
pub(super) fn has_frequency(phrase: &str) -> bool {
    let lower = format!(" {} ", phrase.to_lowercase());
    [" every ", " each ", " daily", " weekly", " twice a ", " once a ", " times a ", " on weekends", " at weekends"]
        .iter()
        .any(|m| lower.contains(m))
        || words(&lower).any(|w| DAYS.iter().any(|d| w.strip_suffix('s') == Some(d)))
}

/// Cut an object phrase at clause boundaries, filler and (for nouns) at time words that belong
/// to the sentence rather than to the object. `None` when nothing usable is left.
pub(super) fn object(rest: &str, kind: Object) -> Option<String> {
    const CLAUSE: &[&str] = &[
        ",",
        " but ",
        " because ",
        " since ",
        " so ",
        " which ",
        " though",
        " - ",
        " \u{2014} ",
        " :)",
        " lol",
        " haha",
        " there",
        " here",
        " as well",
        " too",
        " and had ",
        " and was ",
        " and were ",
        " and is ",
        " and she ",
        " and he ",
        " and they ",
        " and i ",
        " and we ",
    ];
    const TIME: &[&str] = &[
        " last ",
        " yesterday",
        " today",
        " originally",
        " now",
        " recently",
        " these days",
        " anymore",
        " any more",
        " lately",
        " for ",
        " ago",
        " nowadays",
        " at the moment",
    ];
    let lower = format!("{} ", rest.to_ascii_lowercase());
    let mut end = rest.len();
    for stop in CLAUSE.iter().chain(if kind == Object::Noun { TIME } else { &[][..] }) {
        if let Some(i) = lower.find(stop).filter(|&i| i < end) {
            // " there" / " here" / " too" only end a phrase when a word ends there.
            let word_ends =
                lower[i + stop.len()..].starts_with([' ', ',', '.', '!']) || !stop.ends_with(char::is_alphabetic);
            if word_ends {
                end = i;
            }
        }
    }
    if kind == Object::Noun {
        // "in 2021", "in March": the time of the statement, not part of its object.
        for (i, _) in lower.match_indices(" in ") {
            let next = lower[i + 4..].split_whitespace().next().unwrap_or_default();
            if i < end && (MONTHS.contains(&next) || (next.len() == 4 && next.chars().all(|c| c.is_ascii_digit()))) {
                end = i;
            }
        }
    }
    let o = rest[..end].trim().trim_end_matches(['.', '!', '?', ')', '(', ',', ':']).trim();
    let count = words(o).count();
    // A phrase cut off after an article ("I like the ...") is not an object.
    let dangling = o.rsplit(' ').next().is_some_and(|w| {
        ["the", "a", "an", "to", "of", "and", "or", "with", "in", "at"].contains(&w.to_ascii_lowercase().as_str())
    });
    (count > 0 && count <= 12 && !dangling).then(|| o.to_owned())
}

/// Third-person singular of a verb: "go" → "goes", "study" → "studies".
pub(super) fn third_person(verb: &str) -> String {
    let lower = verb.to_ascii_lowercase();
    match lower.as_str() {
        "have" => return "has".into(),
        "am" | "are" => return "is".into(),
        "do" => return "does".into(),
        "go" => return "goes".into(),
        _ => {}
    }
    let b = lower.as_bytes();
    if b.len() > 1 && b[b.len() - 1] == b'y' && !b"aeiou".contains(&b[b.len() - 2]) {
        return format!("{}ies", &verb[..verb.len() - 1]);
    }
    if ["s", "sh", "ch", "x", "z", "o"].iter().any(|e| lower.ends_with(e)) {
        return format!("{verb}es");
    }
    format!("{verb}s")
}

/// First person of a third-person singular verb: "lives" → "live", "is" → "am".
pub(super) fn first_person(verb: &str) -> String {
    let lower = verb.to_ascii_lowercase();
    match lower.as_str() {
        "is" => return "am".into(),
        "has" => return "have".into(),
        "does" => return "do".into(),
        "goes" => return "go".into(),
        "was" | "always" | "never" | "usually" | "often" | "sometimes" => return lower,
        _ => {}
    }
    if let Some(stem) = lower.strip_suffix("ies").filter(|s| s.len() > 1) {
        return format!("{stem}y");
    }
    if let Some(stem) = ["sses", "shes", "ches", "xes", "zes", "oes"]
        .iter()
        .find(|e| lower.ends_with(**e))
        .map(|_| &lower[..lower.len() - 2])
    {
        return stem.to_owned();
    }
    match lower.strip_suffix('s') {
        Some(stem) if !stem.ends_with(['s', 'u', 'i']) && !stem.is_empty() => stem.to_owned(),
        _ => lower,
    }
}

/// The -ing form: "take" → "taking", "run" → "running", "fly" → "flying".
pub(super) fn gerund(verb: &str) -> String {
    let v = verb.to_ascii_lowercase();
    let vowel = |c: char| "aeiou".contains(c);
    let chars: Vec<char> = v.chars().collect();
    if let Some(stem) = v.strip_suffix("ie") {
        return format!("{stem}ying");
    }
    if v.ends_with('e') && !v.ends_with("ee") && !v.ends_with("ye") && !v.ends_with("oe") && v.len() > 2 {
        return format!("{}ing", &v[..v.len() - 1]);
    }
    let n = chars.len();
    if (3..=4).contains(&n)
        && !vowel(chars[n - 1])
        && !"wxy".contains(chars[n - 1])
        && vowel(chars[n - 2])
        && !vowel(chars[n - 3])
    {
        return format!("{v}{}ing", chars[n - 1]);
    }
    format!("{v}ing")
}

/// Whether a word reads as an "-ly" adverb ("positively", "relatively"; not "Kimberly", "rely").
fn adverb(w: &str) -> bool {
    w.len() >= 7 && w.ends_with("ly") && w.starts_with(|c: char| c.is_lowercase())
}

/// The graph node an object names, if it is a thing and not a chunk of chat: at most five
/// words, none of them pronouns, auxiliaries or fillers. Verb phrases lose their verb first.
pub(super) fn node(object: &str, kind: Object) -> Option<(String, Option<String>)> {
    let mut ws: Vec<&str> = object.split_whitespace().collect();
    let mut verb = None;
    if kind == Object::Phrase {
        while ws.first().is_some_and(|w| w.eq_ignore_ascii_case("to")) {
            ws.remove(0);
        }
        // "positively affect people": the adverb goes with the verb.
        while ws.len() > 1 && adverb(ws[0]) {
            ws.remove(0);
        }
        // "a trip to Lisbon" keeps its noun; "visit Japan" loses its verb.
        if ws.first().is_some_and(|w| !["a", "an", "the"].contains(&w.to_ascii_lowercase().as_str())) {
            verb = Some(ws.remove(0).to_ascii_lowercase());
        }
    }
    // Time at the end belongs to the statement, not to the thing.
    if let Some(cut) = ws.iter().position(|w| {
        let l = w.to_ascii_lowercase();
        ["next", "last", "this", "every", "each", "tomorrow", "tonight", "someday", "soon", "one"].contains(&l.as_str())
            || has_time(w)
    }) {
        // "in July", "on Friday": drop the preposition with the time.
        let cut = if cut > 0
            && ["in", "on", "at", "by", "from", "around"].contains(&ws[cut - 1].to_ascii_lowercase().as_str())
        {
            cut - 1
        } else {
            cut
        };
        ws.truncate(cut);
    }
    // "plan first", "go again", "stay for a week": what follows is about the statement.
    if let Some(cut) = ws.iter().position(|w| {
        ["first", "again", "now", "later", "too", "anymore", "for", "because", "since"]
            .contains(&w.to_ascii_lowercase().as_str())
    }) {
        ws.truncate(cut);
    }
    let lower = |w: &str| w.to_ascii_lowercase();
    loop {
        let first = ws.first().map(|w| lower(w)).unwrap_or_default();
        let next = ws.get(1).map(|w| lower(w));
        // "out in nature", "together an art show": a verb's particle before its object;
        // "few fish", "a couple of books": a quantity before its noun.
        let particle =
            NODE_PARTICLES.contains(&first.as_str()) && next.as_deref().is_some_and(|n| NODE_LEADS.contains(&n));
        let quantity = QUANTITY_LEADS.contains(&first.as_str()) && next.is_some();
        if NODE_LEADS.contains(&first.as_str()) || particle || quantity {
            ws.remove(0);
        } else {
            break;
        }
    }
    // "current schedule of", "events like the", "bike yet": a chunk cut off mid-phrase.
    while ws.len() > 1 && ws.last().is_some_and(|w| NODE_TAILS.contains(&lower(w).as_str())) {
        ws.pop();
    }
    // "pretty expensive", "relatively small", "actually on the way": a degree or a comment,
    // not a thing; "car serviced", "oil changed": a clause.
    let degree = ws.first().is_some_and(|w| DEGREES.contains(&lower(w).as_str()) || (ws.len() > 1 && adverb(w)));
    let participle = ws.len() > 1
        && ws.last().is_some_and(|w| w.len() >= 5 && w.ends_with("ed") && w.starts_with(|c: char| c.is_lowercase()));
    if degree || participle {
        return None;
    }
    // "sure to share a pic", "able to swim": a state and a verb, not a thing; "coming along",
    // "hanging out": a verb and its particle.
    if let [first, second, ..] = ws.as_slice() {
        let (first, second) = (lower(first), lower(second));
        if (second == "to" && BEFORE_TO.contains(&first.as_str()))
            || (ws.len() == 2 && first.ends_with("ing") && NODE_PARTICLES.contains(&second.as_str()))
        {
            return None;
        }
    }
    // "and show their support": a clause, not a thing.
    if ws.first().is_some_and(|w| ["and", "or", "but"].contains(&w.to_ascii_lowercase().as_str())) {
        return None;
    }
    let text = ws.join(" ");
    let text = text.trim_matches(|c: char| !c.is_alphanumeric()).to_owned();
    let ok = !text.is_empty()
        && ws.len() <= 5
        && text.chars().any(char::is_alphabetic)
        && !words(&text).any(|w| NOT_A_NODE.contains(&w.to_ascii_lowercase().as_str()))
        && !(ws.len() == 1 && NOT_A_NODE_ALONE.contains(&text.to_ascii_lowercase().as_str()));
    ok.then_some((text, verb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verb_forms() {
        assert_eq!(third_person("go"), "goes");
        assert_eq!(third_person("study"), "studies");
        assert_eq!(third_person("play"), "plays");
        assert_eq!(third_person("watch"), "watches");
        assert_eq!(third_person("drink"), "drinks");
        assert_eq!(first_person("lives"), "live");
        assert_eq!(first_person("studies"), "study");
        assert_eq!(first_person("watches"), "watch");
        assert_eq!(first_person("is"), "am");
        assert_eq!(first_person("moved"), "moved");
        assert_eq!(gerund("take"), "taking");
        assert_eq!(gerund("fly"), "flying");
        assert_eq!(gerund("run"), "running");
        assert_eq!(gerund("walk"), "walking");
        assert_eq!(gerund("visit"), "visiting");
        assert_eq!(gerund("lie"), "lying");
    }

    #[test]
    fn objects_and_nodes() {
        assert_eq!(object("Porto last month", Object::Noun).as_deref(), Some("Porto"));
        assert_eq!(object("Lisbon in 2021", Object::Noun).as_deref(), Some("Lisbon"));
        assert_eq!(object("a data analyst there", Object::Noun).as_deref(), Some("a data analyst"));
        assert_eq!(object("the", Object::Noun), None);
        assert_eq!(
            object("be in Rome for a conference next month", Object::Phrase).as_deref(),
            Some("be in Rome for a conference next month")
        );
        assert_eq!(node("visit Japan in April", Object::Phrase), Some(("Japan".into(), Some("visit".into()))));
        assert_eq!(node("a trip to Lisbon in July", Object::Phrase), Some(("trip to Lisbon".into(), None)));
        assert_eq!(node("keep ya posted", Object::Phrase), None);
        assert_eq!(node("start thinking about what we can do", Object::Phrase), None);
        assert_eq!(node("the city library", Object::Noun), Some(("city library".into(), None)));
        assert_eq!(node("playing", Object::Noun), None);
        assert_eq!(node("and show their support", Object::Noun), None);
        assert_eq!(node("plan first", Object::Phrase), None);
        assert_eq!(node("also cheese pizza", Object::Noun), Some(("cheese pizza".into(), None)));
        assert_eq!(node("Paris for a week", Object::Noun), Some(("Paris".into(), None)));
        // Particles, quantities, states and adverbs around the thing.
        assert_eq!(node("get out in nature", Object::Phrase), Some(("nature".into(), Some("get".into()))));
        assert_eq!(
            node("putting together an LGBTQ art show", Object::Phrase).map(|n| n.0).as_deref(),
            Some("LGBTQ art show")
        );
        assert_eq!(node("a few fish", Object::Noun), Some(("fish".into(), None)));
        assert_eq!(node("a couple of old books", Object::Noun), Some(("old books".into(), None)));
        assert_eq!(node("a ton", Object::Noun), None);
        assert_eq!(node("spend more time in nature myself", Object::Phrase), None);
        assert_eq!(node("be sure to share a pic", Object::Phrase), None);
        assert_eq!(node("coming along", Object::Noun), None);
        assert_eq!(node("positively affect the world", Object::Phrase), Some(("world".into(), Some("affect".into()))));
        assert_eq!(node("back pain", Object::Noun), Some(("back pain".into(), None)));
        assert_eq!(node("a trip to Lisbon", Object::Noun), Some(("trip to Lisbon".into(), None)));
        assert_eq!(node("the current schedule of", Object::Noun), Some(("current schedule".into(), None)));
        assert_eq!(node("a new bike yet", Object::Noun), Some(("new bike".into(), None)));
        assert_eq!(node("its own sauce", Object::Noun), Some(("sauce".into(), None)));
        assert_eq!(node("pretty expensive", Object::Noun), None);
        assert_eq!(node("relatively small", Object::Noun), None);
        assert_eq!(node("close to public transportation", Object::Noun), None);
        assert_eq!(node("the car serviced", Object::Noun), None);
        assert_eq!(node("Manchester United", Object::Noun), Some(("Manchester United".into(), None)));
        assert_eq!(node("Kimberly Smith", Object::Noun), Some(("Kimberly Smith".into(), None)));
        assert_eq!(node("weighted keys", Object::Noun), Some(("weighted keys".into(), None)));
    }
}
