//! Resume tokens: unguessable, one use.

use std::fmt::Write;

/// A new token: 64 hex digits of two version-4 UUIDs (244 random bits from
/// the operating system's generator).
pub(crate) fn new_token() -> Box<str> {
    let mut token = String::with_capacity(64);
    for _ in 0..2 {
        let _ = write!(token, "{}", uuid::Uuid::new_v4().simple());
    }
    token.into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
