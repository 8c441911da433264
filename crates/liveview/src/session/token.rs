//! Resume tokens: unguessable, one use.

use std::fmt::Write;

/// A new token: 64 hex digits of two version-4 UUIDs (244 random bits from
/// the operating system's generator). The first half names the session for
/// its whole life (its id in a backend), the second half is its secret,
/// new at each resume.
pub(crate) fn new_token() -> Box<str> {
    let mut token = String::with_capacity(64);
    for _ in 0..2 {
        let _ = write!(token, "{}", uuid::Uuid::new_v4().simple());
    }
    token.into_boxed_str()
}

/// The token of session `id` with a new secret.
pub(crate) fn new_secret(id: &str) -> Box<str> {
    format!("{id}{}", uuid::Uuid::new_v4().simple()).into_boxed_str()
}

/// A token's session id and secret (`None` for a token not made here).
pub(crate) fn split_token(token: &str) -> Option<(&str, &str)> {
    (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())).then(|| token.split_at(32))
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
        let (id, secret) = split_token(&a).unwrap();
        let renewed = new_secret(id);
        assert_eq!(split_token(&renewed).unwrap().0, id);
        assert_ne!(split_token(&renewed).unwrap().1, secret);
        assert!(split_token("abc").is_none());
    }
}
