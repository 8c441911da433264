//! Key names and combinations, spelled as `liveview.js` spells them
//! (assets/client/keys.js): filters (`keydown.esc`) and keyboard maps
//! (`"ctrl+k"`) share one spelling.

const MODIFIERS: [&str; 4] = ["ctrl", "alt", "meta", "shift"];

/// A key press: the `key` of the DOM event and its modifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPress {
    pub(crate) key: String,
    pub(crate) ctrl: bool,
    pub(crate) alt: bool,
    pub(crate) meta: bool,
    pub(crate) shift: bool,
}

impl KeyPress {
    /// Reads `"ctrl+k"`, `"Enter"`, `"shift+?"`: modifiers, then the key as
    /// `KeyboardEvent.key` spells it (`+` alone is the plus key).
    pub(crate) fn parse(combo: &str) -> KeyPress {
        let mut press = KeyPress::default();
        let mut parts: Vec<&str> = combo.split('+').collect();
        if combo.ends_with("++") || combo == "+" {
            parts.retain(|part| !part.is_empty());
            parts.push("+");
        }
        let key = parts.pop().unwrap_or_default();
        for part in parts {
            match key_name(part).as_str() {
                "ctrl" => press.ctrl = true,
                "alt" => press.alt = true,
                "meta" => press.meta = true,
                "shift" => press.shift = true,
                _ => {}
            }
        }
        press.key = key.to_owned();
        press
    }

    fn modifier(&self, name: &str) -> bool {
        match name {
            "ctrl" => self.ctrl,
            "alt" => self.alt,
            "meta" => self.meta,
            "shift" => self.shift,
            _ => false,
        }
    }
}

/// `keyName`: lower case, `ArrowUp` → `up`, `PageUp` → `page_up`, aliases.
pub(crate) fn key_name(key: &str) -> String {
    let mut name = key.to_lowercase();
    if let Some(rest) = name.strip_prefix("arrow") {
        name = rest.to_owned();
    }
    if name == "pageup" || name == "pagedown" {
        name = format!("page_{}", &name[4..]);
    }
    match name.as_str() {
        "escape" => "esc".into(),
        " " => "space".into(),
        "control" => "ctrl".into(),
        "cmd" | "command" => "meta".into(),
        "option" => "alt".into(),
        "return" => "enter".into(),
        _ => name,
    }
}

/// `canonicalCombo`: modifiers first, in a fixed order, then the keys.
pub(crate) fn canonical_combo(spec: &str) -> String {
    let keys: Vec<String> = spec.split('+').map(key_name).collect();
    MODIFIERS
        .iter()
        .filter(|m| keys.iter().any(|k| k == *m))
        .map(|m| (*m).to_owned())
        .chain(
            keys.iter()
                .filter(|k| !MODIFIERS.contains(&k.as_str()))
                .cloned(),
        )
        .collect::<Vec<_>>()
        .join("+")
}

/// `eventCombo`: the modifiers held, then `key`.
pub(crate) fn event_combo(press: &KeyPress, key: &str, ignore_shift: bool) -> String {
    MODIFIERS
        .iter()
        .filter(|m| press.modifier(m) && !(ignore_shift && **m == "shift"))
        .map(|m| (*m).to_owned())
        .chain(std::iter::once(key.to_owned()))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("+")
}

/// True for the modifier keys themselves.
pub(crate) fn is_modifier(key: &str) -> bool {
    MODIFIERS.contains(&key)
}

/// A keyboard map (`data-liveview-keyboard-map`): canonical combo → function.
pub(crate) fn keyboard_map(json: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) {
        Ok(map) => map
            .into_iter()
            .map(|(combo, function)| {
                let function = match function {
                    serde_json::Value::String(name) => name,
                    other => other.to_string(),
                };
                (canonical_combo(&combo), function)
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_keys_and_combos_as_the_client() {
        assert_eq!(key_name("Escape"), "esc");
        assert_eq!(key_name("ArrowUp"), "up");
        assert_eq!(key_name("PageDown"), "page_down");
        assert_eq!(key_name(" "), "space");
        assert_eq!(canonical_combo("k+Shift+cmd"), "meta+shift+k");
        let press = KeyPress::parse("ctrl+shift+K");
        assert_eq!(
            event_combo(&press, &key_name(&press.key), false),
            "ctrl+shift+k"
        );
        assert_eq!(event_combo(&press, "k", true), "ctrl+k");
        assert_eq!(KeyPress::parse("ctrl++").key, "+");
        assert_eq!(
            keyboard_map(r#"{"Ctrl+K": "open"}"#),
            vec![("ctrl+k".into(), "open".into())]
        );
    }
}
