//! The offline extractor: statements about the speaker and the people they name become typed
//! memories, with no model.
//!
//! A message is cut into clauses ([`clauses`]): contractions expanded, questions dropped,
//! compound sentences split where a new subject starts, and lead-ins taken off ("Big news:",
//! "Please remember that", "Honestly,", "Next month"). A clause is then read by its subject:
//! "I ..." (and "we have ..."), "my sister Ana lives ..." (someone the speaker names, verbs
//! turned back to the first person so the same rules apply), "my X is Y", "call me X", and
//! reactions where the thing comes first ("peanuts give me hives", "crowds are not my thing").
//! The verb phrase is matched against [`rules::RULES`] (allergies and diets, likes and dislikes,
//! work, places, relations, possessions, skills, study, plans and wishes, identities and
//! states) and a few shapes that need more than a prefix: "I'd rather X than Y", "I don't
//! drive", habits ("I go climbing every Saturday"), dated plans ("I'm flying to Berlin on
//! Friday"), age. Memory texts are third-person sentences; a triple is kept only when its
//! object is a thing (a noun phrase without pronouns or chat), so the graph holds "Lisbon",
//! not "keep ya posted". Everything gets confidence 0.6: rules are right about form, not meaning.
//!
//! It misses what is not said in these forms: sarcasm, statements spread over several turns,
//! facts about people named only by a pronoun ("she lives in Madrid"), negations beyond a few
//! verbs, and time references ("next Friday" stays in the text but is not resolved).
//! `tests/data/offline_extractor.tsv` is its labelled set; the unit test below prints
//! precision and recall on each part of it.

mod clauses;
mod rules;
mod words;

use super::{Extracted, Triple};
use crate::model::MemoryKind;
use rules::{Object, RULES};
use words::{AUXILIARIES, FREQUENCY, NEGATED, NOT_HABITS, NOT_PLANS, RELATION_ADJECTIVES, RELATIONS};

/// Confidence of every rule-based extraction.
pub const CONFIDENCE: f64 = 0.6;

/// Who a clause is about.
struct Subject {
    /// How memory texts name it: "Maya", "Maya's sister Ana".
    text: String,
    /// Its graph node: "Maya", "Ana", "Maya's mom".
    node: String,
    /// Its node's type.
    kind: &'static str,
    /// Whether its verbs come in the third person ("my sister lives ...").
    third_person: bool,
    /// What "my" inside an object becomes: "their" for the speaker, "Maya's" for others.
    my: String,
}

impl Subject {
    fn speaker(speaker: &str) -> Self {
        Self {
            text: speaker.to_owned(),
            node: speaker.to_owned(),
            kind: "person",
            third_person: false,
            my: "their".to_owned(),
        }
    }
}

/// Extract memories from one message's text, attributing them to `speaker`.
pub fn extract(speaker: &str, text: &str) -> Vec<Extracted> {
    let mut out: Vec<Extracted> = Vec::new();
    for clause in clauses::clauses(text) {
        if let Some(e) = statement(speaker, &clause)
            && !out.iter().any(|o| o.text == e.text)
        {
            out.push(e);
        }
    }
    out
}

/// The memory one clause holds, if any.
fn statement(speaker: &str, clause: &str) -> Option<Extracted> {
    let lower = clause.to_ascii_lowercase();
    if let Some(e) = reaction(speaker, clause, &lower) {
        return Some(e);
    }
    if lower.starts_with("call me ") {
        return name(speaker, &clause["call me ".len()..]);
    }
    let (subject, verb_phrase) = if lower.starts_with("i ") {
        (Subject::speaker(speaker), &clause[2..])
    } else if ["we have ", "we adopted ", "we got "].iter().any(|p| lower.starts_with(p)) {
        (Subject::speaker(speaker), &clause[3..])
    } else if lower.starts_with("my ") {
        match relation(speaker, clause) {
            Some(found) => found,
            None => return possessive(speaker, clause, &lower),
        }
    } else {
        return None;
    };
    let words = verb_words(verb_phrase, subject.third_person);
    predicate(&subject, &words).or_else(|| subject.third_person.then(|| possessive(speaker, clause, &lower)).flatten())
}

/// The words of a verb phrase as the rules read them: fillers in the auxiliary chain dropped,
/// a third-person verb put back in the first person, "have been" read as "am".
fn verb_words(verb_phrase: &str, third_person: bool) -> Vec<String> {
    let mut ws: Vec<String> = verb_phrase.split_whitespace().map(str::to_owned).collect();
    let mut i = 0;
    while i < ws.len() {
        let w = ws[i].to_ascii_lowercase();
        if words::FILLERS.contains(&w.as_str()) {
            ws.remove(i);
        } else if AUXILIARIES.contains(&w.as_str()) || (i == 0 && third_person) {
            i += 1;
        } else {
            break;
        }
    }
    if third_person && let Some(first) = ws.first_mut() {
        *first = rules::first_person(first);
    }
    if ws.len() >= 2 && ws[0].eq_ignore_ascii_case("have") && ws[1].eq_ignore_ascii_case("been") {
        ws.splice(0..2, ["am".to_owned()]);
    }
    ws
}

/// "my" inside an object, as the memory names it.
fn own(object: &str, subject: &Subject) -> String {
    object
        .split(' ')
        .map(|w| if w.eq_ignore_ascii_case("my") { subject.my.as_str() } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Match a verb phrase: the special shapes, then the rule table.
fn predicate(subject: &Subject, ws: &[String]) -> Option<Extracted> {
    let lw: Vec<String> = ws.iter().map(|w| w.to_ascii_lowercase()).collect();
    let lw: Vec<&str> = lw.iter().map(String::as_str).collect();
    going_to(subject, ws, &lw)
        .or_else(|| age(subject, &lw))
        .or_else(|| table(subject, ws, &lw))
        .or_else(|| negation(subject, ws, &lw))
        .or_else(|| rather(subject, ws, &lw))
        .or_else(|| progressive(subject, ws, &lw))
        .or_else(|| habit(subject, ws, &lw))
}

fn table(subject: &Subject, ws: &[String], lw: &[&str]) -> Option<Extracted> {
    RULES.iter().find_map(|rule| {
        let n = rule.prefixes.iter().map(|p| p.split(' ').collect::<Vec<_>>()).find(|p| lw.starts_with(p))?.len();
        let rest = ws[n..].join(" ");
        if rule.object == Object::Whole {
            let lower = rest.to_ascii_lowercase();
            let state = words::STATES.iter().find(|s| {
                lower.starts_with(**s) && !lower[s.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '-')
            })?;
            let (predicate, exclusive) = rules::state_predicate(state);
            let text = rule.template.replace("{s}", &subject.text).replace("{o}", state);
            return Some(memory(
                rule.kind,
                text,
                rule.importance,
                Some(triple(subject, predicate, state, "state", exclusive)),
            ));
        }
        let obj = own(&rules::object(&rest, rule.object)?, subject);
        if !rules::satisfies(rule.needs, &obj) || rules::is_conversational(&obj) {
            return None;
        }
        let text = rule.template.replace("{s}", &subject.text).replace("{o}", &obj);
        let t = rules::node(&obj, rule.object).map(|(node, verb)| {
            let predicate = verb.map_or_else(|| rule.predicate.to_owned(), |v| format!("{}_{v}", rule.predicate));
            triple(subject, &predicate, &node, object_type(rule.predicate), is_exclusive(rule.predicate))
        });
        Some(memory(rule.kind, text, rule.importance, t))
    })
}

/// "I'm going to Japan next spring" (a place) or "I'm going to run a marathon next year" (a
/// plan); without a time it is chat ("I'm going to grab a coffee").
fn going_to(subject: &Subject, ws: &[String], lw: &[&str]) -> Option<Extracted> {
    if !lw.starts_with(&["am", "going", "to"]) {
        return None;
    }
    let obj = own(&rules::object(&ws[3..].join(" "), Object::Phrase)?, subject);
    if !rules::has_time(&obj) || rules::is_conversational(&obj) {
        return None;
    }
    let place = ws[3].starts_with(char::is_uppercase) || ["the", "a", "an"].contains(&lw[3]);
    let (text, kind) = if place {
        (format!("{} is going to {obj}", subject.text), Object::Noun)
    } else {
        if !rules::satisfies(rules::Needs::RealVerb, &obj) {
            return None;
        }
        (format!("{} plans to {obj}", subject.text), Object::Phrase)
    };
    let t = rules::node(&obj, kind).map(|(node, verb)| {
        triple(subject, &verb.map_or_else(|| "going_to".to_owned(), |v| format!("plans_{v}")), &node, "event", false)
    });
    Some(memory(MemoryKind::Event, text, 0.6, t))
}

/// "I am 34 years old".
fn age(subject: &Subject, lw: &[&str]) -> Option<Extracted> {
    match lw {
        ["am", n, "years", "old", ..] if n.chars().all(|c| c.is_ascii_digit()) && n.len() <= 3 => {
            let value = format!("{n} years old");
            let text = format!("{} is {value}", subject.text);
            Some(memory(MemoryKind::Attribute, text, 0.7, Some(triple(subject, "age", &value, "age", true))))
        }
        _ => None,
    }
}

fn negation(subject: &Subject, ws: &[String], lw: &[&str]) -> Option<Extracted> {
    let ["do", "not", verb, ..] = lw else { return None };
    if !NEGATED.contains(verb) {
        return None;
    }
    let rest = ws[3..].join(" ");
    let obj = if rest.trim().is_empty() { String::new() } else { own(&rules::object(&rest, Object::Noun)?, subject) };
    if rules::is_conversational(&obj) || (*verb == "have" && !rules::satisfies(rules::Needs::Possession, &obj)) {
        return None;
    }
    let text = format!("{} does not {verb}{}{obj}", subject.text, if obj.is_empty() { "" } else { " " });
    let t = rules::node(&obj, Object::Noun)
        .map(|(node, _)| triple(subject, &format!("does_not_{verb}"), &node, "thing", false));
    Some(memory(MemoryKind::Preference, text, 0.6, t))
}

/// "I'd rather take the train than fly" → "prefers taking the train to flying".
fn rather(subject: &Subject, ws: &[String], lw: &[&str]) -> Option<Extracted> {
    if !lw.starts_with(&["would", "rather"]) {
        return None;
    }
    let rest = ws[2..].join(" ");
    let at = rest.to_ascii_lowercase().find(" than ")?;
    let ing = |phrase: &str| -> Option<String> {
        let phrase = rules::object(phrase, Object::Phrase)?;
        let (verb, tail) = phrase.split_once(' ').unwrap_or((&phrase, ""));
        Some(format!("{} {tail}", rules::gerund(verb)).trim().to_owned())
    };
    let (a, b) = (ing(&rest[..at])?, ing(&rest[at + " than ".len()..])?);
    if rules::is_conversational(&a) || rules::is_conversational(&b) {
        return None;
    }
    let text = format!("{} prefers {a} to {b}", subject.text);
    let t = rules::node(&a, Object::Noun).map(|(node, _)| triple(subject, "prefers", &node, "thing", false));
    Some(memory(MemoryKind::Preference, text, 0.6, t))
}

/// "I'm flying to Berlin on Friday", "I'm getting married in June": a dated plan.
fn progressive(subject: &Subject, ws: &[String], lw: &[&str]) -> Option<Extracted> {
    let ["am", verb, ..] = lw else { return None };
    if !verb.ends_with("ing") || verb.len() < 5 || NOT_PLANS.contains(verb) {
        return None;
    }
    let obj = own(&rules::object(&ws[1..].join(" "), Object::Phrase)?, subject);
    if !rules::has_time(&obj) || rules::is_conversational(&obj) {
        return None;
    }
    let text = format!("{} is {obj}", subject.text);
    let t = rules::node(&obj, Object::Phrase)
        .map(|(node, verb)| triple(subject, &format!("is_{}", verb.unwrap_or_default()), &node, "event", false));
    Some(memory(MemoryKind::Event, text, 0.6, t))
}

/// "I go climbing every Saturday", "I usually go to bed around ten", "I never eat breakfast".
fn habit(subject: &Subject, ws: &[String], lw: &[&str]) -> Option<Extracted> {
    let adverb = lw.first().filter(|w| FREQUENCY.contains(w)).map(|_| ws[0].to_ascii_lowercase());
    let at = usize::from(adverb.is_some());
    let verb = lw.get(at)?;
    // "I always wanted ...": a past verb is a story, not a habit.
    let past = verb.len() > 4 && verb.ends_with("ed");
    if NOT_HABITS.contains(verb) || past || !verb.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let rest = ws[at + 1..].join(" ");
    if adverb.is_none() && !rules::has_frequency(&rest) {
        return None;
    }
    let obj = own(&rules::object(&rest, Object::Phrase)?, subject);
    if rules::is_conversational(&obj) {
        return None;
    }
    let adverb = adverb.map(|a| format!("{a} ")).unwrap_or_default();
    let text = format!("{} {adverb}{} {obj}", subject.text, rules::third_person(verb));
    Some(memory(MemoryKind::Fact, text, 0.5, None))
}

/// Things that come first: "Peanuts give me hives", "Crowds are not my thing".
fn reaction(speaker: &str, clause: &str, lower: &str) -> Option<Extracted> {
    // "X give(s) me hives", "X make(s) me sick": a reaction, so an allergy or intolerance.
    const GIVES: &[&str] = &[
        "hives",
        "a rash",
        "rashes",
        "migraines",
        "a migraine",
        "headaches",
        "a headache",
        "heartburn",
        "an allergic reaction",
        "eczema",
        "a stomach ache",
        "stomach aches",
        "cramps",
    ];
    const MAKES: &[&str] =
        &["sick", "ill", "break out", "itch", "itchy", "sneeze", "swell", "nauseous", "throw up", "vomit", "bloated"];
    const ALLERGIC: &[(&str, &[&str])] =
        &[(" give me ", GIVES), (" gives me ", GIVES), (" make me ", MAKES), (" makes me ", MAKES)];
    const DISLIKED: &[&str] = &[" is not my thing", " are not my thing", " is not for me", " are not for me"];
    let (at, predicate) = ALLERGIC
        .iter()
        .find_map(|(verb, outcomes)| {
            let i = lower.find(verb)?;
            let after = &lower[i + verb.len()..];
            outcomes
                .iter()
                .any(|o| after.starts_with(o) && !after[o.len()..].starts_with(char::is_alphanumeric))
                .then_some((i, "allergic_to"))
        })
        .or_else(|| DISLIKED.iter().find_map(|d| lower.find(d).map(|i| (i, "dislikes"))))?;
    let thing = clause[..at].trim();
    let first = thing.split_whitespace().next()?.to_ascii_lowercase();
    const NOT_THINGS: &[&str] = &[
        "it",
        "this",
        "that",
        "he",
        "she",
        "they",
        "people",
        "everything",
        "nothing",
        "someone",
        "something",
        "which",
        "what",
        "who",
        "there",
        "you",
        "i",
        "and",
    ];
    let count = thing.split_whitespace().count();
    if NOT_THINGS.contains(&first.as_str())
        || count > 4
        || rules::is_conversational(thing)
        || !thing.starts_with(char::is_alphabetic)
    {
        return None;
    }
    // The sentence's capital is not the thing's: "Peanuts" → "peanuts", "K-pop" stays.
    let mut chars = thing.chars();
    let head = chars.next()?;
    let tail = chars.as_str();
    let first_word_rest = tail.split(' ').next().unwrap_or_default();
    let thing = if first_word_rest.chars().all(|c| !c.is_uppercase()) && !first_word_rest.contains('-') {
        format!("{}{tail}", head.to_lowercase())
    } else {
        thing.to_owned()
    };
    let subject = Subject::speaker(speaker);
    let (kind, text, importance) = if predicate == "allergic_to" {
        (MemoryKind::Attribute, format!("{speaker} is allergic to {thing}"), 0.9)
    } else {
        (MemoryKind::Preference, format!("{speaker} dislikes {thing}"), 0.6)
    };
    let t = rules::node(&thing, Object::Noun).map(|(node, _)| triple(&subject, predicate, &node, "thing", false));
    Some(memory(kind, text, importance, t))
}

/// "Call me Jo" → the speaker's name.
fn name(speaker: &str, rest: &str) -> Option<Extracted> {
    let name: Vec<&str> = rest
        .split_whitespace()
        .map(|w| w.trim_end_matches([',', '.', '!']))
        .take_while(|w| w.starts_with(char::is_uppercase))
        .take(3)
        .collect();
    if name.is_empty() {
        return None;
    }
    let name = name.join(" ");
    let subject = Subject::speaker(speaker);
    let text = format!("{speaker}'s name is {name}");
    Some(memory(MemoryKind::Attribute, text, 0.7, Some(triple(&subject, "name", &name, "name", true))))
}

/// "my [adjective] relation [Name]," and the verb phrase after it.
fn relation<'c>(speaker: &str, clause: &'c str) -> Option<(Subject, &'c str)> {
    /// The next word of `rest` (up to a space or comma), and what follows it.
    fn word(rest: &str) -> (&str, &str) {
        let r = rest.trim_start_matches([',', ' ']);
        r.split_at(r.find([' ', ',']).unwrap_or(r.len()))
    }
    let mut relation = Vec::new();
    let (mut w, mut rest) = word(&clause[3..]);
    if RELATION_ADJECTIVES.contains(&w.to_lowercase().as_str()) {
        relation.push(w);
        (w, rest) = word(rest);
    }
    if !RELATIONS.contains(&w.to_lowercase().as_str()) {
        return None;
    }
    relation.push(w);
    let relation = relation.join(" ");
    let mut name = Vec::new();
    loop {
        let (w, after) = word(rest);
        if name.len() == 3 || !w.starts_with(char::is_uppercase) || w == "I" {
            break;
        }
        name.push(w);
        rest = after;
    }
    let verb_phrase = rest.trim_start_matches([',', ' ']);
    if !verb_phrase.starts_with(|c: char| c.is_lowercase()) {
        return None;
    }
    let animal = ["dog", "cat"].contains(&relation.as_str());
    let name = name.join(" ");
    let text =
        if name.is_empty() { format!("{speaker}'s {relation}") } else { format!("{speaker}'s {relation} {name}") };
    let node = if name.is_empty() { text.clone() } else { name };
    let subject = Subject {
        text,
        node,
        kind: if animal { "animal" } else { "person" },
        third_person: true,
        my: format!("{speaker}'s"),
    };
    Some((subject, verb_phrase))
}

/// "my X is Y" / "my X's name is Y" → an attribute of the speaker.
fn possessive(speaker: &str, clause: &str, lower: &str) -> Option<Extracted> {
    let rest_lower = lower.strip_prefix("my ")?;
    let is = rest_lower.find(" is ")?;
    let named = rest_lower[..is].ends_with("'s name");
    let thing = rest_lower[..is].trim_end_matches("'s name").trim();
    let plain = thing.chars().all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '\'');
    if thing.is_empty() || !plain || thing.split_whitespace().count() > 4 {
        return None;
    }
    let subject = Subject::speaker(speaker);
    let value = own(&rules::object(&clause[3 + is + 4..], Object::Noun)?, &subject);
    // "my day is so ...", "my job is like ...": a mood, not a value.
    let vague = value.rsplit(' ').next().is_some_and(|w| {
        ["always", "never", "so", "very", "really", "too", "now", "still", "just"]
            .contains(&w.to_ascii_lowercase().as_str())
    }) || value.to_ascii_lowercase().starts_with("like ");
    if vague || rules::is_conversational(&value) {
        return None;
    }
    let text =
        if named { format!("{speaker}'s {thing} is named {value}") } else { format!("{speaker}'s {thing} is {value}") };
    let predicate = format!("{}{}", thing.replace(' ', "_"), if named { "_name" } else { "" });
    let t = rules::node(&value, Object::Noun).map(|(node, _)| triple(&subject, &predicate, &node, "thing", true));
    Some(memory(MemoryKind::Attribute, text, 0.6, t))
}

fn memory(kind: MemoryKind, text: String, importance: f64, triple: Option<Triple>) -> Extracted {
    Extracted { kind, text, importance, confidence: CONFIDENCE, sources: Vec::new(), refers_to: None, triple }
}

/// The type of a rule's object node.
fn object_type(predicate: &str) -> &'static str {
    match predicate {
        "lives_in" | "from" | "works_in" => "place",
        "works_at" => "organization",
        "works_as" | "is_a" => "role",
        "speaks" => "language",
        "can" | "good_at" | "plays" | "is_learning" | "studies" => "activity",
        "plans" | "wants" | "used_to" => "event",
        "lives_with" => "person",
        _ => "thing",
    }
}

/// Predicates with one value at a time: a new object invalidates the old statement.
fn is_exclusive(predicate: &str) -> bool {
    matches!(predicate, "lives_in" | "works_at" | "works_as" | "from")
}

fn triple(subject: &Subject, predicate: &str, object: &str, object_type: &str, exclusive: bool) -> Triple {
    Triple {
        subject: subject.node.clone(),
        subject_type: subject.kind.to_owned(),
        predicate: predicate.to_owned(),
        object: object.to_owned(),
        object_type: object_type.to_owned(),
        exclusive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_statements() {
        let got = extract(
            "Maya",
            "Hi! I'm Maya. I just moved to Lyon for a job as a structural engineer. I'm allergic to shellfish, and I don't eat pork.",
        );
        let texts: Vec<&str> = got.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["Maya lives in Lyon", "Maya is allergic to shellfish", "Maya does not eat pork"]);
        assert_eq!(got[1].kind, MemoryKind::Attribute);
        assert_eq!(got[1].triple.as_ref().map(|t| t.predicate.as_str()), Some("allergic_to"));
        let got = extract("Ann", "My dog's name is Rex. I love hiking in the Alps!");
        let texts: Vec<&str> = got.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["Ann's dog is named Rex", "Ann likes hiking in the Alps"]);
    }

    #[test]
    fn odd_text_never_panics() {
        for text in [
            "İ am allergic to İstanbul dust, and İ love Ǆ",
            "I AM ALLERGIC TO ŞEKER",
            "My İİİ is ẞ",
            "i",
            "I ",
            "my  is ",
            ", i",
            "I am",
            "\u{0}I love \u{0}",
        ] {
            let _ = extract("Ünïcødé", text);
        }
        assert_eq!(extract("A", "I AM ALLERGIC TO ŞEKER")[0].text, "A is allergic to ŞEKER");
    }

    #[test]
    fn questions_and_other_people_are_skipped() {
        assert!(extract("A", "Do you like jazz?").is_empty());
        assert!(extract("A", "She lives in Paris.").is_empty());
        assert!(extract("A", "I can't believe it!").is_empty());
        assert!(extract("A", "I'm a bit tired today").is_empty());
    }

    /// Precision and recall over lines of the labelled set: `(tp, fp, fn, misses)`.
    fn score<'a>(lines: impl Iterator<Item = &'a str>) -> (usize, usize, usize, Vec<String>) {
        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        let mut misses = Vec::new();
        for line in lines.filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            let (text, expected) = line.split_once('\t').unwrap_or((line, ""));
            let expected: Vec<&str> = expected.split(" | ").map(str::trim).filter(|s| !s.is_empty()).collect();
            let got: Vec<String> = extract("User", text).into_iter().map(|e| e.text).collect();
            for g in &got {
                if expected.contains(&g.as_str()) {
                    tp += 1;
                } else {
                    fp += 1;
                    misses.push(format!("extra: {g:?} from {text:?}"));
                }
            }
            for e in &expected {
                if !got.iter().any(|g| g == e) {
                    fn_ += 1;
                    misses.push(format!("missed: {e:?} in {text:?}"));
                }
            }
        }
        (tp, fp, fn_, misses)
    }

    /// Precision and recall of a `(tp, fp, fn)` count.
    fn rates((tp, fp, fn_): (usize, usize, usize)) -> (f64, f64) {
        (tp as f64 / (tp + fp).max(1) as f64, tp as f64 / (tp + fn_).max(1) as f64)
    }

    /// The labelled set `tests/data/offline_extractor.tsv`: `text<TAB>expected memories` joined
    /// by " | " (empty when the sentence holds no memory), in parts that start with a `# Name:`
    /// line. The first part was written with the rules; "Seen" and "Held out" after them;
    /// "Development" alongside extractor v2; "Frozen" was written and committed before v2
    /// changed any rule and was never tuned against. Prints each part's precision and recall
    /// and fails when the frozen part falls below the targets or the rest below its floor.
    #[test]
    fn labelled_set_precision_and_recall() {
        let data = include_str!("../../tests/data/offline_extractor.tsv");
        let mut parts: Vec<(&str, Vec<&str>)> = vec![("Written with the rules", Vec::new())];
        for line in data.lines() {
            match line.strip_prefix("# ").and_then(|h| h.split_once(':')).filter(|(name, _)| name.len() <= 12) {
                Some((name, _)) if name.chars().next().is_some_and(char::is_uppercase) => {
                    parts.push((name, Vec::new()));
                }
                _ => parts.last_mut().expect("a first part").1.push(line),
            }
        }
        assert!(parts.iter().any(|(n, l)| *n == "Frozen" && l.len() >= 100), "the frozen part holds 100 sentences");
        let mut rest = (0, 0, 0);
        for (name, lines) in &parts {
            let (tp, fp, fn_, misses) = score(lines.iter().copied());
            let (p, r) = rates((tp, fp, fn_));
            println!("offline extractor, {name}: precision {p:.3} recall {r:.3} (tp {tp}, fp {fp}, fn {fn_})");
            for m in &misses {
                println!("  {m}");
            }
            if *name == "Frozen" {
                assert!(p >= 0.90 && r >= 0.75, "frozen part: precision {p:.3} recall {r:.3}");
            } else {
                rest = (rest.0 + tp, rest.1 + fp, rest.2 + fn_);
            }
        }
        let (p, r) = rates(rest);
        println!("offline extractor, all but the frozen part: precision {p:.3} recall {r:.3}");
        assert!(p >= 0.90 && r >= 0.85, "precision {p:.3} recall {r:.3}");
    }
}
