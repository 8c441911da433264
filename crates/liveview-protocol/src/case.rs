//! camelCase → snake_case, the way Django LiveView converts event keys.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// Converts a camelCase (or PascalCase) key to snake_case.
///
/// Matches Django LiveView's conversion (two regular expressions:
/// `(.)([A-Z][a-z]+)` and `([a-z0-9])([A-Z])`, then lower case): an
/// underscore goes before an upper-case letter that follows a lower-case
/// letter or a digit, or that starts a capitalised word.
///
/// ```
/// use liveview_protocol::snake_case;
/// assert_eq!(snake_case("userId"), "user_id");
/// assert_eq!(snake_case("HTMLParser"), "html_parser");
/// assert_eq!(snake_case("already_snake"), "already_snake");
/// ```
pub fn snake_case(key: &str) -> Cow<'_, str> {
    if !key.bytes().any(|b| b.is_ascii_uppercase()) {
        return Cow::Borrowed(key);
    }
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || next_is_lower {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    Cow::Owned(out)
}

/// Converts every key of `map`, recursively through nested objects and
/// arrays, to snake_case. Keys that are already snake_case are not
/// reallocated.
pub fn snake_case_keys(map: Map<String, Value>) -> Map<String, Value> {
    if !map.iter().any(|(k, v)| needs_conversion(k, v)) {
        return map;
    }
    map.into_iter()
        .map(|(k, v)| {
            let key = match snake_case(&k) {
                Cow::Borrowed(_) => k,
                Cow::Owned(converted) => converted,
            };
            (key, snake_case_value(v))
        })
        .collect()
}

fn snake_case_value(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(snake_case_keys(map)),
        Value::Array(items) => Value::Array(items.into_iter().map(snake_case_value).collect()),
        other => other,
    }
}

fn needs_conversion(key: &str, value: &Value) -> bool {
    key.bytes().any(|b| b.is_ascii_uppercase())
        || match value {
            Value::Object(map) => map.iter().any(|(k, v)| needs_conversion(k, v)),
            Value::Array(items) => items.iter().any(|v| needs_conversion("", v)),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_django_liveview_conversion() {
        let cases = [
            ("userId", "user_id"),
            ("HTMLParser", "html_parser"),
            ("getHTTPResponseCode", "get_http_response_code"),
            ("item2Name", "item2_name"),
            ("value2", "value2"),
            ("ABcDe", "a_bc_de"),
            ("aBC", "a_bc"),
            ("Name", "name"),
            ("a_Bc", "a__bc"),
            ("", ""),
            ("ünïcodeKey", "ünïcode_key"),
        ];
        for (input, expected) in cases {
            assert_eq!(snake_case(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn converts_nested_keys() {
        let Value::Object(map) =
            json!({"userId": 1, "nested": {"innerKey": [{"deepKey": true}]}, "plain": "x"})
        else {
            unreachable!()
        };
        let converted = Value::Object(snake_case_keys(map));
        assert_eq!(
            converted,
            json!({"user_id": 1, "nested": {"inner_key": [{"deep_key": true}]}, "plain": "x"})
        );
    }
}
