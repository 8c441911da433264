//! Per-connection state types registered as portable: how each is written
//! into a snapshot and read back.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

type Save = fn(&(dyn Any + Send)) -> Option<serde_json::Value>;
type Load = fn(serde_json::Value) -> Option<Box<dyn Any + Send>>;

/// One registered type.
#[derive(Clone)]
struct Portable {
    name: Box<str>,
    type_id: TypeId,
    save: Save,
    load: Load,
}

/// The state types whose values travel with a session's snapshot.
#[derive(Clone, Default)]
pub(crate) struct PortableStates {
    types: Vec<Portable>,
}

fn save_as<T: Serialize + 'static>(value: &(dyn Any + Send)) -> Option<serde_json::Value> {
    let value = value.downcast_ref::<T>()?;
    match serde_json::to_value(value) {
        Ok(json) => Some(json),
        Err(err) => {
            tracing::warn!(%err, state = std::any::type_name::<T>(), "liveview: session state does not serialize");
            None
        }
    }
}

fn load_as<T: DeserializeOwned + Send + 'static>(
    json: serde_json::Value,
) -> Option<Box<dyn Any + Send>> {
    match serde_json::from_value::<T>(json) {
        Ok(value) => Some(Box::new(value)),
        Err(err) => {
            tracing::warn!(%err, state = std::any::type_name::<T>(), "liveview: session state in a snapshot does not deserialize");
            None
        }
    }
}

impl PortableStates {
    /// Registers `T` under `name` (a later registration of the name wins).
    pub(crate) fn register<T>(&mut self, name: &str)
    where
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        self.types
            .retain(|p| &*p.name != name && p.type_id != TypeId::of::<T>());
        self.types.push(Portable {
            name: name.into(),
            type_id: TypeId::of::<T>(),
            save: save_as::<T>,
            load: load_as::<T>,
        });
    }

    /// Writes the registered values among `slots`; the flag is false when a
    /// slot holds a type that is not registered (or fails to serialize).
    pub(crate) fn save(
        &self,
        slots: &[(TypeId, Box<dyn Any + Send>)],
    ) -> (BTreeMap<String, serde_json::Value>, bool) {
        let mut states = BTreeMap::new();
        let mut portable = true;
        for (type_id, value) in slots {
            let saved = self
                .types
                .iter()
                .find(|p| p.type_id == *type_id)
                .and_then(|p| Some((p.name.to_string(), (p.save)(&**value)?)));
            match saved {
                Some((name, json)) => {
                    states.insert(name, json);
                }
                None => portable = false,
            }
        }
        (states, portable)
    }

    /// Reads the values of a snapshot back (names not registered here, and
    /// values that do not deserialize, are left out and logged).
    pub(crate) fn load(
        &self,
        states: BTreeMap<String, serde_json::Value>,
    ) -> Vec<(TypeId, Box<dyn Any + Send>)> {
        let mut slots = Vec::new();
        for (name, json) in states {
            match self.types.iter().find(|p| *p.name == *name) {
                Some(p) => {
                    if let Some(value) = (p.load)(json) {
                        slots.push((p.type_id, value));
                    }
                }
                None => {
                    tracing::warn!(
                        state = name,
                        "liveview: a snapshot's state is not registered here"
                    )
                }
            }
        }
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Count(u32);

    #[test]
    fn registered_state_round_trips_and_other_state_is_not_portable() {
        let mut portable = PortableStates::default();
        portable.register::<Count>("count");
        let slots: Vec<(TypeId, Box<dyn Any + Send>)> =
            vec![(TypeId::of::<Count>(), Box::new(Count(7)))];
        let (states, all) = portable.save(&slots);
        assert!(all);
        assert_eq!(states["count"], serde_json::json!(7));
        let back = portable.load(states);
        assert_eq!(back[0].1.downcast_ref::<Count>(), Some(&Count(7)));
        let local: Vec<(TypeId, Box<dyn Any + Send>)> =
            vec![(TypeId::of::<String>(), Box::new(String::from("x")))];
        assert!(!portable.save(&local).1);
        let wrong = BTreeMap::from([("count".to_owned(), serde_json::json!("seven"))]);
        assert!(portable.load(wrong).is_empty());
    }
}
