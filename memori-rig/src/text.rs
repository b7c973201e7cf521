//! Text utilities shared by lexical search and the hash embedder.

/// Lower-cased word tokens: runs of letters and digits. Characters of scripts written without
/// spaces (CJK, kana, Thai) are one token each, so such text is still searchable.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if is_unspaced_script(c) {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            tokens.push(c.to_string());
        } else if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens.into_iter()
}

pub(crate) fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF   // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK Extension A
        | 0x4E00..=0x9FFF // CJK Unified Ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0x0E00..=0x0E7F // Thai
        | 0xF900..=0xFAFF)
}

/// Month names, lower case, January first.
pub(crate) const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn splits_lowercases_and_handles_cjk() {
        let w: Vec<String> = words("I'm allergic to PEANUTS, Straße 5! 我喜欢茶").collect();
        assert_eq!(w, ["i", "m", "allergic", "to", "peanuts", "straße", "5", "我", "喜", "欢", "茶"]);
    }
}
