//! A forgiving deserializer for form and data values.
//!
//! A browser sends every form field as a string: `{"age": "42", "subscribe":
//! "on"}`. Handlers want `struct Signup { age: u32, subscribe: bool }`. This
//! deserializer reads a JSON value and, where the target type asks for a
//! number or a boolean and the value is a string, parses the string; where
//! it asks for a sequence and gets a single value, it makes a sequence of
//! one (a checkbox group with one box checked); an empty string is `None`
//! for an `Option`. Errors name the field they are about.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Value};

/// Deserializes `T` from a borrowed JSON value, leniently.
#[cfg(test)]
fn from_value<'de, T: de::Deserialize<'de>>(value: &'de Value) -> Result<T, DeError> {
    T::deserialize(Lenient(value))
}

/// Deserializes `T` from the fields of an event's `data` or `form`, leniently.
pub(crate) fn from_map<'de, T: de::Deserialize<'de>>(
    map: &'de Map<String, Value>,
) -> Result<T, DeError> {
    T::deserialize(LenientMap(map))
}

/// The top level of `data`/`form`: an object that is not wrapped in a `Value`.
struct LenientMap<'de>(&'de Map<String, Value>);

impl<'de> Deserializer<'de> for LenientMap<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(Fields::new(self.0))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.0.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// A field could not be read into the handler's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeError {
    path: Vec<String>,
    message: String,
}

impl DeError {
    fn at(mut self, segment: impl Into<String>) -> Self {
        self.path.push(segment.into());
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            return f.write_str(&self.message);
        }
        f.write_str("field `")?;
        for (i, segment) in self.path.iter().rev().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(segment)?;
        }
        write!(f, "`: {}", self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            path: Vec::new(),
            message: msg.to_string(),
        }
    }
}

#[derive(Clone, Copy)]
struct Lenient<'de>(&'de Value);

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "1" | "yes" | "checked" => Some(true),
        "false" | "off" | "0" | "no" | "" => Some(false),
        _ => None,
    }
}

macro_rules! lenient_number {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.0 {
                Value::String(text) => match text.trim().parse::<$ty>() {
                    Ok(number) => visitor.$visit(number),
                    Err(err) => Err(de::Error::custom(format_args!(
                        "{text:?} is not a valid {}: {err}", stringify!($ty)
                    ))),
                },
                _ => self.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Lenient<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Seq {
                items: items.iter(),
                index: 0,
            }),
            Value::Object(map) => visitor.visit_map(Fields::new(map)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(text) => match parse_bool(text) {
                Some(b) => visitor.visit_bool(b),
                None => Err(de::Error::custom(format_args!(
                    "{text:?} is not a valid boolean"
                ))),
            },
            Value::Number(n) if n.as_u64() == Some(0) => visitor.visit_bool(false),
            Value::Number(n) if n.as_u64() == Some(1) => visitor.visit_bool(true),
            // A checkbox group (several fields of one name) counts as checked.
            Value::Array(items) => visitor.visit_bool(!items.is_empty()),
            _ => self.deserialize_any(visitor),
        }
    }

    lenient_number! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            Value::String(s) if s.is_empty() => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Array(_) => self.deserialize_any(visitor),
            Value::Null => visitor.visit_seq(Seq {
                items: [].iter(),
                index: 0,
            }),
            single => visitor.visit_seq(Seq {
                items: std::slice::from_ref(single).iter(),
                index: 0,
            }),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => other
                .deserialize_enum(name, variants, visitor)
                .map_err(de::Error::custom),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::String(s) if s.is_empty() => visitor.visit_unit(),
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit_struct tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct Seq<'de> {
    items: std::slice::Iter<'de, Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(Lenient(item))
            .map(Some)
            .map_err(|err| err.at(index.to_string()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Fields<'de> {
    entries: serde_json::map::Iter<'de>,
    current: Option<(&'de str, &'de Value)>,
}

impl<'de> Fields<'de> {
    fn new(map: &'de Map<String, Value>) -> Self {
        Fields {
            entries: map.iter(),
            current: None,
        }
    }
}

impl<'de> MapAccess<'de> for Fields<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some((key.as_str(), value));
        let key_de: de::value::BorrowedStrDeserializer<'de, DeError> =
            de::value::BorrowedStrDeserializer::new(key.as_str());
        seed.deserialize(key_de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.current.take() else {
            return Err(de::Error::custom("value requested before its key"));
        };
        seed.deserialize(Lenient(value)).map_err(|err| err.at(key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Plan {
        Free,
        Pro,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Signup {
        name: String,
        age: u32,
        score: f64,
        #[serde(default)]
        subscribe: bool,
        tags: Vec<String>,
        nickname: Option<String>,
        plan: Plan,
        ids: Vec<i64>,
    }

    #[test]
    fn reads_browser_form_values_into_typed_fields() {
        let form = json!({
            "name": "Ada", "age": " 36 ", "score": "9.5", "subscribe": "on",
            "tags": "rust", "nickname": "", "plan": "pro", "ids": ["1", 2],
            "extra": "ignored"
        });
        let signup: Signup = from_value(&form).unwrap();
        assert_eq!(
            signup,
            Signup {
                name: "Ada".into(),
                age: 36,
                score: 9.5,
                subscribe: true,
                tags: vec!["rust".into()],
                nickname: None,
                plan: Plan::Pro,
                ids: vec![1, 2],
            }
        );
        let _ = Plan::Free;
    }

    #[test]
    fn errors_name_the_field() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Age {
            age: u8,
        }
        let err = from_value::<Age>(&json!({"age": "old"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `age`: \"old\" is not a valid u8: invalid digit found in string"
        );
        let err = from_value::<Age>(&json!({})).unwrap_err();
        assert_eq!(err.to_string(), "missing field `age`");
        let err = from_value::<Vec<u8>>(&json!(["1", "x"])).unwrap_err();
        assert!(err.to_string().starts_with("field `1`: "), "{err}");
    }

    #[test]
    fn booleans_follow_html_checkboxes() {
        for (value, expected) in [
            (json!("on"), true),
            (json!("true"), true),
            (json!("1"), true),
            (json!("off"), false),
            (json!(""), false),
            (json!(false), false),
            (json!(1), true),
        ] {
            assert_eq!(from_value::<bool>(&value).unwrap(), expected, "{value}");
        }
        assert!(from_value::<bool>(&json!("maybe")).is_err());
    }

    #[test]
    fn raw_values_pass_through() {
        let value = json!({"a": [1, {"b": null}], "c": 2.5});
        let back: Value = from_value(&value).unwrap();
        assert_eq!(back, value);
    }

    /// Any JSON a client can put in `form` or `data`: nested, of every kind.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "(on|off|true|1|0|-3|4.5|1e309|free|pro|)".prop_map(Value::String),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever the client sends, extraction answers Ok or an error
        /// naming a field: it never panics.
        #[test]
        fn any_fields_deserialize_or_are_refused(
            fields in proptest::collection::btree_map(
                "(name|age|score|subscribe|tags|nickname|plan|ids|other)",
                json_value(),
                0..9,
            )
        ) {
            let map: Map<String, Value> = fields.into_iter().collect();
            let _ = from_map::<Signup>(&map);
            let _ = from_map::<std::collections::HashMap<String, Option<u8>>>(&map);
            let _ = from_map::<Vec<bool>>(&map);
        }

        /// A number sent as a browser string arrives as the number.
        #[test]
        fn numeric_strings_parse(
            age in proptest::prelude::any::<u32>(),
            id in proptest::prelude::any::<i64>(),
        ) {
            let map = json!({"age": age.to_string(), "id": [id.to_string()]});
            let map = map.as_object().unwrap();
            #[derive(Deserialize)]
            struct Numbers { age: u32, id: Vec<i64> }
            let numbers: Numbers = from_map(map).unwrap();
            proptest::prop_assert_eq!((numbers.age, numbers.id), (age, vec![id]));
        }
    }
}
