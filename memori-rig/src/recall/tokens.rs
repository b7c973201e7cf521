//! Token counts with a real tokenizer: OpenAI's `o200k_base` BPE (GPT-4o and later models),
//! whose ranks ship inside `tiktoken-rs`, so counting never downloads anything. Other model
//! families tokenize differently, but within a few percent on English prose; the budget is a
//! budget, not a contract with one provider.

/// Tokens in `text`. The first call loads the BPE ranks (about 100 ms); later calls are cheap.
pub fn count(text: &str) -> usize {
    tiktoken_rs::o200k_base_singleton().encode_ordinary(text).len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_bpe_tokens_not_characters() {
        assert_eq!(super::count(""), 0);
        assert_eq!(super::count("hello world"), 2);
        // A long rare word is several tokens; characters/4 would be far off for CJK.
        assert!(super::count("antidisestablishmentarianism") > 3);
        assert!(super::count("我对花生过敏") >= 3);
    }
}
