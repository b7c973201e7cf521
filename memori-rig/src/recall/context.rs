//! What a turn's surroundings and a query's people add to the evidence. Pure functions.
//!
//! A chat turn is short and says little on its own: "Researching adoption agencies" answers
//! "what are you up to?", and the reply after a user's question repeats its subject. So an
//! episode's lexical score takes in a share ([`RecallConfig::context_weight`]) of the BM25
//! scores of the turns just before and after it in its session ([`spread`]), and so does a
//! memory extracted from it.
//!
//! A speaker's name is in every one of their turns ("Caroline: ..."), so as a search term it
//! finds half a conversation. When a query names a speaker of the entity's conversations, the
//! name is taken out of its terms and that speaker's turns, and the memories about them, are
//! lifted instead ([`RecallConfig::speaker_weight`]). In a user/assistant conversation "I" and
//! "my" name the user, "you" and "your" the assistant.
//!
//! [`RecallConfig::context_weight`]: crate::config::RecallConfig::context_weight
//! [`RecallConfig::speaker_weight`]: crate::config::RecallConfig::speaker_weight

use std::collections::{HashMap, HashSet};

use crate::model::{Memory, MemoryKind};

/// Speaker names longer than this are not names (a colon inside a sentence).
const MAX_NAME_CHARS: usize = 48;

/// Who a memory is by or about, lower case: an episode's speaker (its text is
/// "speaker: what was said"), or the first word of an extracted memory, which names its
/// subject ("Caroline researched ...", "User's dog is named Max").
pub(crate) fn who(memory: &Memory) -> Option<String> {
    let name = if memory.kind == MemoryKind::Episode {
        memory.text.split_once(": ").map(|(speaker, _)| speaker.trim())?
    } else {
        let first = memory.text.split_whitespace().next()?;
        first.trim_end_matches("'s").trim_end_matches('\u{2019}').trim_end_matches(|c: char| !c.is_alphanumeric())
    };
    (!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS && !name.contains('\n')).then(|| name.to_lowercase())
}

/// The speakers of an entity's episodes, with how many episodes each said.
#[derive(Clone, Debug, Default)]
pub(crate) struct Speakers(HashMap<String, u32>);

impl Speakers {
    pub(crate) fn add(&mut self, name: &str) {
        *self.0.entry(name.to_owned()).or_default() += 1;
    }

    pub(crate) fn remove(&mut self, name: &str) {
        if let Some(n) = self.0.get_mut(name) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(name);
            }
        }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The speakers a query names, sorted: those whose every word it contains, and in a
    /// conversation with a `user` and an `assistant`, the user for "I"/"my", the assistant
    /// for "you"/"your". A query that names every speaker names none of them in particular.
    pub(crate) fn named_in(&self, query: &str) -> Vec<String> {
        const ME: [&str; 5] = ["i", "me", "my", "mine", "myself"];
        const YOU: [&str; 4] = ["you", "your", "yours", "yourself"];
        if self.0.len() < 2 {
            return Vec::new();
        }
        let words: HashSet<String> = crate::text::words(query).collect();
        let mut named: Vec<String> =
            self.0.keys().filter(|name| crate::text::words(name).all(|w| words.contains(&w))).cloned().collect();
        let says = |list: &[&str]| list.iter().any(|w| words.contains(*w));
        let (me, you) = (says(&ME), says(&YOU));
        for (person, pronoun, other) in [("user", me, you), ("assistant", you, me)] {
            if pronoun && !other && self.contains(person) && !named.iter().any(|n| n == person) {
                named.push(person.to_owned());
            }
        }
        named.sort_unstable();
        if named.len() == self.0.len() { Vec::new() } else { named }
    }
}

/// The query's terms without the words of the people it names (they are matched by who
/// said a turn, not as text).
pub(crate) fn without_names(terms: &[String], people: &[String]) -> Vec<String> {
    let names: HashSet<String> = people.iter().flat_map(|p| super::lexical::terms(p)).collect();
    terms.iter().filter(|t| !names.contains(*t)).cloned().collect()
}

/// Lexical scores with context: each candidate's own BM25 (`raw`, 0 for no match) plus
/// `weight` times that of the turns around the one it was said in (`around`: for an episode
/// its neighbours, for an extracted memory those of its episode). Candidates are the `hits`
/// (slots with their own BM25, in slot order) and, that `keep` lets through, the slots that
/// take a share of a hit's score (`receivers`: an episode's neighbours and the memories
/// extracted from them); the result is in slot order.
pub(crate) fn spread(
    hits: &[(usize, f64)],
    raw: impl Fn(usize) -> f64,
    around: impl Fn(usize) -> [Option<usize>; 2],
    receivers: impl Fn(usize, &mut Vec<usize>),
    keep: impl Fn(usize) -> bool,
    weight: f64,
) -> Vec<(usize, f64)> {
    if weight <= 0.0 {
        return hits.to_vec();
    }
    let mut candidates: Vec<usize> = hits.iter().map(|&(i, _)| i).collect();
    let mut more = Vec::new();
    for &(i, _) in hits {
        receivers(i, &mut more);
    }
    candidates.extend(more.into_iter().filter(|&n| keep(n)));
    candidates.sort_unstable();
    candidates.dedup();
    candidates
        .into_iter()
        .filter_map(|i| {
            let [before, after] = around(i);
            let s = raw(i) + weight * (before.map_or(0.0, &raw) + after.map_or(0.0, &raw));
            (s > 0.0).then_some((i, s))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn speakers(names: &[&str]) -> Speakers {
        let mut s = Speakers::default();
        for n in names {
            s.add(n);
        }
        s
    }

    #[test]
    fn who_is_the_speaker_of_an_episode_or_the_subject_of_a_memory() {
        let m = |kind, text: &str| crate::model::test_memory(1, kind, text, Utc::now());
        assert_eq!(
            who(&m(MemoryKind::Episode, "Caroline: Researching adoption agencies")).as_deref(),
            Some("caroline")
        );
        assert_eq!(who(&m(MemoryKind::Episode, "user: note: buy milk")).as_deref(), Some("user"));
        assert_eq!(who(&m(MemoryKind::Fact, "User's dog is named Max")).as_deref(), Some("user"));
        assert_eq!(who(&m(MemoryKind::Preference, "Jon likes dancing")).as_deref(), Some("jon"));
        assert_eq!(who(&m(MemoryKind::Episode, "no speaker here")), None);
        let long = format!("{}: text", "x".repeat(60));
        assert_eq!(who(&m(MemoryKind::Episode, &long)), None);
    }

    #[test]
    fn a_query_names_speakers_by_name_or_by_pronoun() {
        let two = speakers(&["caroline", "melanie"]);
        assert_eq!(two.named_in("What did Caroline research?"), ["caroline"]);
        assert_eq!(two.named_in("What do Caroline and Melanie share?"), Vec::<String>::new());
        assert_eq!(two.named_in("What did I say?"), Vec::<String>::new(), "no user in this conversation");
        let chat = speakers(&["user", "assistant"]);
        assert_eq!(chat.named_in("What can't I eat?"), ["user"]);
        assert_eq!(chat.named_in("Which book did you recommend?"), ["assistant"]);
        assert_eq!(chat.named_in("What did you tell me?"), Vec::<String>::new());
        assert_eq!(speakers(&["user"]).named_in("what can't I eat?"), Vec::<String>::new(), "one speaker");
        let full = speakers(&["anna maria", "bob"]);
        assert_eq!(full.named_in("Where does Anna Maria live?"), ["anna maria"]);
        assert_eq!(full.named_in("Where does Maria live?"), Vec::<String>::new());
        let mut s = speakers(&["a", "b", "b"]);
        s.remove("b");
        assert!(s.contains("b"));
        s.remove("b");
        assert!(!s.contains("b"));
    }

    #[test]
    fn names_leave_the_terms() {
        let terms = crate::recall::lexical::terms("What did Caroline research?");
        assert_eq!(without_names(&terms, &["caroline".into()]), crate::recall::lexical::terms("What did research?"));
    }

    #[test]
    fn a_turn_takes_a_share_of_its_neighbours_scores() {
        // Turns 0..5 in one session; 2 and 3 match; 4 is filtered out.
        let raw = [0.0, 0.0, 2.0, 1.0, 0.0, 0.0];
        let hits = [(2, 2.0), (3, 1.0)];
        let adjacent = |i: usize| [i.checked_sub(1), (i + 1 < raw.len()).then_some(i + 1)];
        let receivers = |i: usize, out: &mut Vec<usize>| out.extend(adjacent(i).into_iter().flatten());
        let out = spread(&hits, |i| raw[i], adjacent, receivers, |i| i != 4, 0.5);
        assert_eq!(out, [(1, 1.0), (2, 2.5), (3, 2.0)]);
        assert_eq!(spread(&hits, |i| raw[i], adjacent, receivers, |_| true, 0.0), hits);
    }
}
