//! Which elements a DOM event triggers, as `liveview.js` decides
//! (assets/client/actions.js, keys.js): `data-action` tokens in Stimulus
//! syntax, default events per tag, key filters, `:prevent`, `:stop`,
//! `:self`, and keyboard maps.

use ego_tree::NodeId;

use crate::dom::Dom;
pub(crate) use crate::form::{el_type, is_submit_type};
use crate::keys::{KeyPress, canonical_combo, event_combo, is_modifier, key_name, keyboard_map};

/// One `…->…#run:…` token of `data-action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Action {
    pub(crate) event: Option<String>,
    pub(crate) filter: Option<String>,
    pub(crate) options: Vec<String>,
}

impl Action {
    fn has(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }
}

/// A DOM event the kit fires.
#[derive(Debug, Clone)]
pub(crate) struct DomEvent {
    pub(crate) kind: String,
    pub(crate) target: NodeId,
    pub(crate) key: Option<KeyPress>,
    pub(crate) submitter: Option<NodeId>,
}

/// An element whose action matched, or a keyboard map's function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trigger {
    pub(crate) el: NodeId,
    /// `data-liveview-function`, or the keyboard map's function; `None`
    /// when the element has an action but no function.
    pub(crate) function: Option<String>,
    /// Whether debounce and throttle apply (not for keyboard maps).
    pub(crate) timed: bool,
}

/// What dispatching an event did.
#[derive(Debug, Default)]
pub(crate) struct Dispatched {
    pub(crate) triggers: Vec<Trigger>,
    pub(crate) prevented: bool,
}

/// Parses `[event[.filter]->]controller#method[:option…]`; `None` when the
/// token is not of that form.
/// A parsed token: event, filter, method, options.
type Token = (Option<String>, Option<String>, String, Vec<String>);

fn parse_token(token: &str) -> Option<Token> {
    fn rest(rest: &str) -> Option<(String, Vec<String>)> {
        let (controller, after) = rest.split_once('#')?;
        if controller.is_empty() || controller.chars().any(char::is_whitespace) {
            return None;
        }
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let end = after.find(|c: char| !word(c)).unwrap_or(after.len());
        let (method, options) = after.split_at(end);
        if method.is_empty() {
            return None;
        }
        // (?::!?\w+)*
        let mut parsed = vec![String::new()];
        if !options.is_empty() {
            let body = options.strip_prefix(':')?;
            for option in body.split(':') {
                let name = option.strip_prefix('!').unwrap_or(option);
                if name.is_empty() || !name.chars().all(word) {
                    return None;
                }
                parsed.push(option.to_owned());
            }
        }
        Some((method.to_owned(), parsed))
    }
    if let Some(gt) = token.find('>') {
        if gt > 0 && token.as_bytes()[gt - 1] == b'-' {
            let prefix = &token[..gt - 1];
            let split = match prefix.split_once('.') {
                Some((event, filter)) if !event.is_empty() && !filter.is_empty() => {
                    Some((event, Some(filter)))
                }
                None if !prefix.is_empty() => Some((prefix, None)),
                _ => None,
            };
            if let (Some((event, filter)), Some((method, options))) =
                (split, rest(&token[gt + 1..]))
            {
                return Some((
                    Some(event.to_owned()),
                    filter.map(str::to_owned),
                    method,
                    options,
                ));
            }
        }
    }
    rest(token).map(|(method, options)| (None, None, method, options))
}

/// The actions of a `data-action` value that are ours (method `run`).
pub(crate) fn actions_of(attr: &str) -> Vec<Action> {
    attr.split_whitespace()
        .filter_map(parse_token)
        .filter(|(_, _, method, _)| method == "run")
        .map(|(event, filter, _, options)| Action {
            event,
            filter: filter.map(|f| canonical_combo(&f)),
            options,
        })
        .collect()
}

/// `defaultEvent`: the event `page#run` without an event listens to.
pub(crate) fn default_event(dom: &Dom, el: NodeId) -> &'static str {
    match dom.tag(el).as_str() {
        "input" => match el_type(dom, el).as_deref() {
            Some("submit" | "image" | "button" | "reset") => "click",
            _ => "input",
        },
        "a" | "button" => "click",
        "form" => "submit",
        "details" => "toggle",
        "select" => "change",
        "textarea" => "input",
        _ => "click",
    }
}

fn bubbles(kind: &str) -> bool {
    !matches!(
        kind,
        "focus" | "blur" | "toggle" | "load" | "scroll" | "mouseenter" | "mouseleave"
    )
}

fn matches(dom: &Dom, action: &Action, el: NodeId, event: &DomEvent) -> bool {
    let kind = action
        .event
        .as_deref()
        .unwrap_or_else(|| default_event(dom, el));
    if kind != event.kind {
        return false;
    }
    if let Some(filter) = &action.filter {
        let press = event.key.clone().unwrap_or_default();
        if *filter != event_combo(&press, &key_name(&press.key), false) {
            return false;
        }
    }
    !(action.has("self") && event.target != el)
}

/// `wouldLeavePage`: defaults that would leave the page are prevented.
fn would_leave_page(dom: &Dom, el: NodeId, kind: &str) -> bool {
    match kind {
        "submit" => true,
        "click" if dom.tag(el) == "a" => {
            let href = dom.attr(el, "href").unwrap_or_default();
            href.is_empty() || href == "#"
        }
        "click" => {
            crate::form::form_owner(dom, el).is_some()
                && is_submit_type(el_type(dom, el).as_deref())
        }
        _ => false,
    }
}

/// `onEvent`: the target, then (for bubbling events) its ancestors.
pub(crate) fn dispatch(dom: &Dom, event: &DomEvent) -> Dispatched {
    let mut out = Dispatched::default();
    let chain = if bubbles(&event.kind) {
        dom.ancestors(event.target)
    } else {
        vec![event.target]
    };
    for el in chain {
        let mut stopped = false;
        let attr = dom.attr(el, "data-action").unwrap_or_default();
        for action in actions_of(&attr) {
            if !matches(dom, &action, el, event) {
                continue;
            }
            if action.has("prevent") || would_leave_page(dom, el, &event.kind) {
                out.prevented = true;
            }
            if action.has("stop") {
                stopped = true;
            }
            out.triggers.push(Trigger {
                el,
                function: dom.attr(el, "data-liveview-function"),
                timed: true,
            });
        }
        if stopped {
            break;
        }
    }
    out
}

/// The keyboard maps' functions for a key press on `target` (keys.js).
pub(crate) fn keyboard_maps(dom: &Dom, target: NodeId, press: &KeyPress) -> Dispatched {
    let mut out = Dispatched::default();
    let key = key_name(&press.key);
    let printable = key.chars().count() == 1 || key == "space";
    if key.is_empty() || is_modifier(&key) {
        return out;
    }
    let field = matches!(dom.tag(target).as_str(), "input" | "select" | "textarea")
        || dom
            .attr(target, "contenteditable")
            .is_some_and(|v| v != "false");
    if printable && !press.ctrl && !press.alt && !press.meta && field {
        return out;
    }
    for el in dom
        .select("[data-liveview-keyboard-map]")
        .unwrap_or_default()
    {
        let map = keyboard_map(
            &dom.attr(el, "data-liveview-keyboard-map")
                .unwrap_or_default(),
        );
        let lookup = |combo: String| {
            map.iter()
                .find(|(c, _)| *c == combo)
                .map(|(_, f)| f.clone())
        };
        let function = lookup(event_combo(press, &key, false)).or_else(|| {
            if printable {
                lookup(event_combo(press, &key, true))
            } else {
                None
            }
        });
        if let Some(function) = function {
            out.prevented = true;
            out.triggers.push(Trigger {
                el,
                function: Some(function),
                timed: false,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_data_action_as_the_client() {
        let actions = actions_of("keydown.ctrl+s->page#run:prevent click->page#run other#ignored");
        assert_eq!(actions.len(), 2);
        assert_eq!(actions[0].event.as_deref(), Some("keydown"));
        assert_eq!(actions[0].filter.as_deref(), Some("ctrl+s"));
        assert!(actions[0].has("prevent"));
        assert_eq!(actions_of("page#run")[0].event, None);
        assert_eq!(
            actions_of("a.->page#run")[0].event,
            None,
            "no filter: the regexp falls back"
        );
        assert!(actions_of("click->page#").is_empty());
        assert!(actions_of("click->page#run:").is_empty());
    }
}
