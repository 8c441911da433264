//! What an event carries, as `liveview.js` builds it (`sendFrom`,
//! `fieldsOf` in assets/client/actions.js): the element's `data-*` values
//! (`dataset`, camelCase) and the fields of its form.

use ego_tree::NodeId;
use serde_json::{Map, Value};

use crate::dom::Dom;

const ASSOCIATED: [&str; 7] = [
    "input", "select", "textarea", "button", "fieldset", "output", "object",
];

/// `el.form`: the form a form-associated element belongs to.
pub(crate) fn form_owner(dom: &Dom, el: NodeId) -> Option<NodeId> {
    if !ASSOCIATED.contains(&dom.tag(el).as_str()) {
        return None;
    }
    if let Some(id) = dom.attr(el, "form") {
        return dom.by_id(&id).filter(|&form| dom.tag(form) == "form");
    }
    dom.ancestors(el)
        .into_iter()
        .skip(1)
        .find(|&a| dom.tag(a) == "form")
}

/// `formOf`: the form itself, its owner, or the closest enclosing form.
pub(crate) fn form_of(dom: &Dom, el: NodeId) -> Option<NodeId> {
    if dom.tag(el) == "form" {
        return Some(el);
    }
    form_owner(dom, el).or_else(|| {
        dom.ancestors(el)
            .into_iter()
            .find(|&a| dom.tag(a) == "form")
    })
}

/// `form.elements`: the form's listed elements, in tree order.
fn elements(dom: &Dom, form: NodeId) -> Vec<NodeId> {
    let Some(root) = dom.root_id() else {
        return Vec::new();
    };
    dom.subtree(root)
        .into_iter()
        .filter(|&el| form_owner(dom, el) == Some(form))
        .collect()
}

/// `:disabled`: its own attribute, or a disabled fieldset around it
/// (outside that fieldset's first legend).
pub(crate) fn is_disabled(dom: &Dom, el: NodeId) -> bool {
    if dom.has_attr(el, "disabled") {
        return true;
    }
    let chain = dom.ancestors(el);
    for (i, &a) in chain.iter().enumerate().skip(1) {
        if dom.tag(a) == "fieldset" && dom.has_attr(a, "disabled") {
            let legend = dom
                .children(a)
                .into_iter()
                .find(|&c| dom.is_element(c) && dom.tag(c) == "legend");
            let inside_legend = legend.is_some() && chain[..i].contains(&legend.unwrap_or(a));
            if !inside_legend {
                return true;
            }
        }
    }
    false
}

fn option_value(dom: &Dom, option: NodeId) -> String {
    dom.attr(option, "value").unwrap_or_else(|| {
        dom.text(option)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// A `<select>`'s options, each with whether it is selected (a
/// single select with none marked selects its first enabled option).
pub(crate) fn options(dom: &Dom, select: NodeId) -> Vec<(NodeId, bool)> {
    let all: Vec<NodeId> = dom
        .subtree(select)
        .into_iter()
        .filter(|&el| dom.tag(el) == "option")
        .collect();
    let mut marked: Vec<(NodeId, bool)> = all
        .iter()
        .map(|&o| (o, dom.has_attr(o, "selected")))
        .collect();
    if !dom.has_attr(select, "multiple") {
        let last = marked.iter().rposition(|(_, s)| *s);
        let pick = last.or_else(|| all.iter().position(|&o| !dom.has_attr(o, "disabled")));
        for (i, entry) in marked.iter_mut().enumerate() {
            entry.1 = Some(i) == pick;
        }
    }
    marked
}

/// `field.value`.
pub(crate) fn value(dom: &Dom, el: NodeId) -> String {
    match dom.tag(el).as_str() {
        "textarea" => dom.text(el),
        "select" => options(dom, el)
            .into_iter()
            .find(|(_, selected)| *selected)
            .map(|(o, _)| option_value(dom, o))
            .unwrap_or_default(),
        _ => match dom.attr(el, "value") {
            Some(value) => value,
            None if matches!(el_type(dom, el).as_deref(), Some("checkbox" | "radio")) => {
                "on".into()
            }
            None => String::new(),
        },
    }
}

/// Adds a value; a name seen before becomes an array.
fn put(object: &mut Map<String, Value>, key: &str, value: Value) {
    match object.remove(key) {
        None => {
            object.insert(key.to_owned(), value);
        }
        Some(old) => {
            let mut list = match old {
                Value::Array(list) => list,
                other => vec![other],
            };
            match value {
                Value::Array(more) => list.extend(more),
                one => list.push(one),
            }
            object.insert(key.to_owned(), Value::Array(list));
        }
    }
}

/// `fieldsOf`: what a form submission would send (files aside), by name, else by id.
pub(crate) fn fields(
    dom: &Dom,
    form: Option<NodeId>,
    el: NodeId,
    submitter: Option<NodeId>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let list = match form {
        Some(form) => elements(dom, form),
        None if matches!(dom.tag(el).as_str(), "input" | "select" | "textarea") => vec![el],
        None => Vec::new(),
    };
    for field in list {
        let tag = dom.tag(field);
        if !matches!(tag.as_str(), "input" | "select" | "textarea") {
            continue;
        }
        let key = dom
            .attr(field, "name")
            .filter(|n| !n.is_empty())
            .or_else(|| dom.attr(field, "id"))
            .unwrap_or_default();
        let kind = el_type(dom, field).unwrap_or_default();
        if key.is_empty()
            || is_disabled(dom, field)
            || matches!(
                kind.as_str(),
                "submit" | "button" | "reset" | "image" | "file"
            )
            || (matches!(kind.as_str(), "checkbox" | "radio") && !dom.has_attr(field, "checked"))
        {
            continue;
        }
        let value = if kind == "select-multiple" {
            Value::Array(
                options(dom, field)
                    .into_iter()
                    .filter(|(_, selected)| *selected)
                    .map(|(o, _)| Value::String(option_value(dom, o)))
                    .collect(),
            )
        } else {
            Value::String(value(dom, field))
        };
        put(&mut out, &key, value);
    }
    if let Some(submitter) = submitter {
        if let Some(name) = dom.attr(submitter, "name").filter(|n| !n.is_empty()) {
            let value = dom.attr(submitter, "value").unwrap_or_default();
            put(&mut out, &name, Value::String(value));
        }
    }
    out
}

/// `data-user-id` → `userId`, as `dataset` spells it.
fn dataset_key(attr: &str) -> Option<String> {
    let rest = attr.strip_prefix("data-")?;
    let mut key = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&next) if c == '-' && next.is_ascii_lowercase() => {
                key.push(next.to_ascii_uppercase());
                chars.next();
            }
            _ => key.push(c),
        }
    }
    Some(key)
}

/// The element's `dataset`, less `action`, `controller` and `liveview…`.
pub(crate) fn data(dom: &Dom, el: NodeId) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in dom.attrs(el) {
        let Some(key) = dataset_key(&name) else {
            continue;
        };
        let ours = key == "action"
            || key == "controller"
            || key
                .strip_prefix("liveview")
                .and_then(|rest| rest.chars().next())
                .is_some_and(|c| c.is_ascii_uppercase());
        if !ours {
            out.insert(key, Value::String(value));
        }
    }
    out
}

/// `filesOf`: the file inputs of a scope (a form, or the input itself)
/// that have a name, are enabled and have files chosen.
pub(crate) fn file_inputs(
    dom: &Dom,
    scope: NodeId,
    has_files: impl Fn(NodeId) -> bool,
) -> Vec<NodeId> {
    let candidates = if dom.tag(scope) == "input" {
        vec![scope]
    } else {
        elements(dom, scope)
    };
    candidates
        .into_iter()
        .filter(|&input| {
            dom.tag(input) == "input"
                && el_type(dom, input).as_deref() == Some("file")
                && dom.attr(input, "name").is_some_and(|n| !n.is_empty())
                && !dom.has_attr(input, "disabled")
                && has_files(input)
        })
        .collect()
}

/// `el.type` as the DOM reports it, for the elements that have one.
pub(crate) fn el_type(dom: &Dom, el: NodeId) -> Option<String> {
    const INPUT_TYPES: [&str; 22] = [
        "hidden",
        "text",
        "search",
        "tel",
        "url",
        "email",
        "password",
        "date",
        "month",
        "week",
        "time",
        "datetime-local",
        "number",
        "range",
        "color",
        "checkbox",
        "radio",
        "file",
        "submit",
        "image",
        "reset",
        "button",
    ];
    let declared = dom.attr(el, "type").map(|t| t.to_ascii_lowercase());
    match dom.tag(el).as_str() {
        "input" => Some(
            declared
                .filter(|t| INPUT_TYPES.contains(&t.as_str()))
                .unwrap_or_else(|| "text".into()),
        ),
        "button" => Some(
            declared
                .filter(|t| matches!(t.as_str(), "submit" | "reset" | "button"))
                .unwrap_or_else(|| "submit".into()),
        ),
        "select" => Some(
            if dom.has_attr(el, "multiple") {
                "select-multiple"
            } else {
                "select-one"
            }
            .into(),
        ),
        "textarea" => Some("textarea".into()),
        _ => None,
    }
}

pub(crate) fn is_submit_type(kind: Option<&str>) -> bool {
    matches!(kind, Some("submit" | "image"))
}
