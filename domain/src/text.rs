//! Text a client chose (paths, names, details), bounded before it is stored or logged.

/// At most `max` characters of `text`, cut at a character boundary.
pub fn clipped(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(super::clipped("ééé", 2), "éé");
        assert_eq!(super::clipped("ab", 5), "ab");
    }
}
