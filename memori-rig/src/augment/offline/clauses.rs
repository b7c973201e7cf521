//! From a message to the clauses that may hold a statement.
//!
//! Contractions are expanded, the text is cut into sentences (questions are dropped), sentences
//! into clauses where a new subject starts ("I'm from Chile, I live in Lyon and I work as a
//! chef" is three clauses), and each clause loses its lead-in ("Big news:", "Please remember
//! that", "Honestly,", "Next month"), so the rules see a clause that starts with its subject.

/// Contractions and their expansions; both capitalisations of the first letter are replaced.
const CONTRACTIONS: &[(&str, &str)] = &[
    ("i'm ", "i am "),
    ("i've ", "i have "),
    ("i'll ", "i will "),
    ("i'd ", "i would "),
    ("we're ", "we are "),
    ("we've ", "we have "),
    ("don't ", "do not "),
    ("doesn't ", "does not "),
    ("didn't ", "did not "),
    ("can't ", "can not "),
    ("cannot ", "can not "),
    ("won't ", "will not "),
    ("isn't ", "is not "),
    ("aren't ", "are not "),
    ("it's ", "it is "),
    ("that's ", "that is "),
    ("he's ", "he is "),
    ("she's ", "she is "),
];

/// Expand contractions and unify apostrophes so the rules see one form.
pub(super) fn normalise(text: &str) -> String {
    let mut s = text.replace(['\u{2019}', '\u{2018}'], "'");
    s.push(' ');
    for (from, to) in CONTRACTIONS {
        s = s.replace(from, to);
        let mut upper = from.chars();
        let mut upper_to = to.chars();
        if let (Some(f), Some(t)) = (upper.next(), upper_to.next()) {
            let from = format!("{}{}", f.to_ascii_uppercase(), upper.as_str());
            let to = format!("{}{}", t.to_ascii_uppercase(), upper_to.as_str());
            s = s.replace(&from, &to);
        }
    }
    s.truncate(s.trim_end().len());
    s
}

/// Sentences of `text`, without the questions. A sentence ends at `.`, `!` or `?` followed by
/// a space (so "3.5" and "e.g." mid-word stay), at `;` and at line breaks.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        let end = match c {
            '.' | '!' | '?' => next_is_space,
            ';' | '\n' => true,
            _ => false,
        };
        if end {
            let sentence = &text[start..i];
            if c != '?' {
                out.push(sentence);
            }
            start = i + c.len_utf8();
        }
    }
    out.push(&text[start..]);
    out.into_iter().map(|s| s.trim().trim_matches(['.', '!', ' '])).filter(|s| !s.is_empty()).collect()
}

/// Where a clause boundary is followed by a new subject: the separator and how many of its
/// bytes stay with the clause that follows (the subject itself).
const SUBJECT_BREAKS: &[(&str, usize)] = &[
    (", and i ", 2),
    (" and i ", 2),
    (", but i ", 2),
    (" but i ", 2),
    (", so i ", 2),
    (", i ", 2),
    (", and my ", 3),
    (" and my ", 3),
    (", but my ", 3),
    (" but my ", 3),
    (" and we have ", 8),
];

/// Split a sentence where a new first-person statement starts.
fn split_subjects(sentence: &str) -> Vec<&str> {
    // ASCII lowercasing keeps byte offsets, so positions found in `lower` index `sentence`.
    let lower = sentence.to_ascii_lowercase();
    let mut out = Vec::new();
    let (mut start, mut search) = (0, 0);
    while let Some((at, len, keep)) = SUBJECT_BREAKS
        .iter()
        .filter_map(|(sep, keep)| lower[search..].find(sep).map(|j| (search + j, sep.len(), *keep)))
        .min()
    {
        out.push(&sentence[start..at]);
        start = at + len - keep;
        search = start + keep;
    }
    out.push(&sentence[start..]);
    out
}

/// Words and phrases that open a clause without being part of its statement.
const LEAD_INS: &[&str] = &[
    "please remember that",
    "please remember",
    "please note that",
    "remember that",
    "remember",
    "note that",
    "keep in mind that",
    "keep in mind",
    "do not forget that",
    "just so you know",
    "just to let you know",
    "just letting you know",
    "as you know",
    "as i said",
    "for the record",
    "to be honest",
    "in case you forgot",
    "i should mention that",
    "i should mention",
    "i wanted to tell you that",
    "i want you to know that",
    "by the way",
    "fun fact",
    "quick note",
    "side note",
    "good news",
    "big news",
    "great news",
    "quick update",
    "update",
    "heads up",
    "careful though",
    "careful",
    "oh and",
    "and",
    "also",
    "actually",
    "well",
    "oh",
    "but",
    "so",
    "now",
    "btw",
    "fyi",
    "ps",
    "p.s.",
    "plus",
    "ok",
    "okay",
    "yes",
    "yeah",
    "no",
    "honestly",
    "ugh",
    "hey",
    "hi",
    "hello",
    "anyway",
    "sadly",
    "luckily",
    "basically",
    "seriously",
    "personally",
    "frankly",
    "lately",
    "currently",
    "these days",
    "nowadays",
    "since last year",
];

/// Words of a time lead-in ("Next month I'm starting ..."), taken off when a subject follows.
const TIME_WORDS: &[&str] = &[
    "next", "last", "this", "week", "month", "year", "summer", "winter", "spring", "autumn", "fall", "since", "as",
    "of", "now",
];

/// Whether a clause (lower case) starts with a subject the rules read.
pub(super) fn starts_with_subject(lower: &str) -> bool {
    ["i ", "my ", "we have ", "we adopted ", "we got ", "call me "].iter().any(|s| lower.starts_with(s))
}

/// Take lead-ins off the start of a clause.
fn strip_lead_in(clause: &str) -> &str {
    let mut c = clause.trim();
    for _ in 0..4 {
        let lower = c.to_ascii_lowercase();
        // A known lead-in word or phrase, then punctuation or a space.
        let known =
            LEAD_INS.iter().find(|l| lower.starts_with(**l) && lower[l.len()..].starts_with([' ', ',', ':', '-']));
        if let Some(l) = known {
            c = c[l.len()..].trim_start_matches([',', ':', '-', ' ']);
            continue;
        }
        if starts_with_subject(&lower) {
            return c;
        }
        // "Careful though: ...", "Long story short - ...": a short phrase ending in a colon or dash.
        if let Some(i) = lower.find([':', '\u{2014}']).filter(|&i| lower[..i].split_whitespace().count() <= 6) {
            c = c[i..].trim_start_matches([':', '\u{2014}', ' ']);
            continue;
        }
        // "Next month I'm ...": time words and then a subject.
        let time_lead = lower.find(" i ").filter(|&i| {
            let words: Vec<&str> = lower[..i].split_whitespace().collect();
            words.len() <= 3 && words.iter().all(|w| TIME_WORDS.contains(&w.trim_end_matches(',')))
        });
        if let Some(i) = time_lead {
            c = &c[i + 1..];
            continue;
        }
        return c;
    }
    c
}

/// The clauses of a message that may hold a statement, normalised and without lead-ins.
pub(super) fn clauses(text: &str) -> Vec<String> {
    let text = normalise(text);
    sentences(&text)
        .into_iter()
        .flat_map(split_subjects)
        .map(|c| strip_lead_in(c).trim().trim_end_matches(['.', '!', ',']).trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_clauses_and_lead_ins() {
        assert_eq!(
            clauses(
                "Good restaurant tips would help. Careful though: I'm allergic to shellfish, and I don't eat pork."
            ),
            ["Good restaurant tips would help", "I am allergic to shellfish", "I do not eat pork"]
        );
        assert_eq!(clauses("Big news: I moved to Porto last month."), ["I moved to Porto last month"]);
        assert_eq!(clauses("Please remember that I'm vegan!"), ["I am vegan"]);
        assert_eq!(clauses("Also, remember that I'm lactose intolerant."), ["I am lactose intolerant"]);
        assert_eq!(clauses("Next month I'm starting a new job."), ["I am starting a new job"]);
        assert_eq!(clauses("Do I like spicy food? Hmm."), ["Hmm"]);
        assert_eq!(
            clauses("I'm from Chile, I live in Lyon and I work as a chef."),
            ["I am from Chile", "I live in Lyon", "I work as a chef"]
        );
        assert_eq!(clauses("It costs 3.5 euros; I paid."), ["It costs 3.5 euros", "I paid"]);
    }

    #[test]
    fn odd_text_keeps_char_boundaries() {
        for text in ["İ’m ü: I", "é, i ", ":", "—I", "next İ i", "ß. ß? ß!", "\u{0}, and my "] {
            let _ = clauses(text);
        }
    }
}
