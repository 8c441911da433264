//! A patch applied to the in-memory DOM as `liveview.js` applies it
//! (assets/client/patches.js): remove, else outer, append, prepend or
//! html (morphed), then `title`, and the URL of the page.

use ego_tree::NodeId;
use liveview::Patch;

use crate::dom::Dom;
use crate::morph::{morph_children, morph_node};

/// What applying a patch did.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Where new elements may be (to hydrate: `data-liveview-init`).
    pub(crate) scope: Option<NodeId>,
    /// The URL it pushed.
    pub(crate) url: Option<String>,
    /// What the browser client would have warned about.
    pub(crate) warning: Option<String>,
}

/// Applies one patch.
pub(crate) fn apply(dom: &mut Dom, patch: &Patch) -> Applied {
    let mut applied = Applied {
        url: patch.url.clone(),
        ..Applied::default()
    };
    if let Some(selector) = &patch.target {
        match dom.first(selector) {
            Ok(Some(target)) => applied.scope = change(dom, target, patch),
            Ok(None) => applied.warning = Some(format!("patch target not found: {selector}")),
            Err(err) => applied.warning = Some(err.to_string()),
        }
    }
    if let Some(title) = &patch.title {
        dom.set_title(title);
    }
    applied
}

/// The DOM part of a patch; returns the scope to hydrate.
fn change(dom: &mut Dom, target: NodeId, patch: &Patch) -> Option<NodeId> {
    if patch.remove {
        dom.detach(target);
        return None;
    }
    let html = patch.html.as_deref()?;
    if patch.outer {
        let parent = dom.parent_element(target)?;
        let nodes = dom.fragment(html, &dom.tag(parent));
        let elements: Vec<NodeId> = nodes
            .iter()
            .copied()
            .filter(|&n| dom.is_element(n))
            .collect();
        if let [only] = elements[..] {
            if dom.tag(only) == dom.tag(target) {
                // The target itself, so a permanent target is replaced too.
                dom.copy_value(only, target);
                let children = dom.children(only);
                for &child in &children {
                    dom.detach(child);
                }
                morph_children(dom, target, children);
                return Some(parent);
            }
        }
        for node in nodes {
            dom.insert_before(parent, node, Some(target));
        }
        dom.detach(target);
        return Some(parent);
    }
    let nodes = dom.fragment(html, &dom.tag(target));
    if patch.append || patch.prepend {
        insert_children(dom, target, nodes, patch.prepend);
    } else {
        morph_children(dom, target, nodes);
    }
    Some(target)
}

/// A child with the same id is updated and moved, not duplicated.
fn insert_children(dom: &mut Dom, parent: NodeId, nodes: Vec<NodeId>, at_start: bool) {
    let mut before = if at_start {
        dom.first_child(parent)
    } else {
        None
    };
    for node in nodes {
        let old = dom
            .attr(node, "id")
            .filter(|id| !id.is_empty())
            .and_then(|id| dom.by_id(&id))
            .filter(|&old| dom.parent_element(old) == Some(parent));
        match old {
            Some(old) => {
                morph_node(dom, old, node);
                if Some(old) == before {
                    before = dom.next_sibling(old);
                }
                dom.detach(old);
                dom.insert_before(parent, old, before);
            }
            None => dom.insert_before(parent, node, before),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dom(body: &str) -> Dom {
        Dom::parse(&format!(
            "<!DOCTYPE html><html><head><title>T</title></head><body>{body}</body></html>"
        ))
    }

    #[test]
    fn every_patch_kind_applies() {
        let mut d =
            dom(r#"<ul id="l"><li id="a">a</li></ul><div id="x">x</div><p id="gone">g</p>"#);
        apply(&mut d, &Patch::append("#l", r#"<li id="b">b</li>"#));
        apply(&mut d, &Patch::prepend("#l", r#"<li id="z">z</li>"#));
        apply(&mut d, &Patch::append("#l", r#"<li id="a">a2</li>"#));
        let list = d.find("#l").unwrap();
        assert_eq!(
            d.inner_html(list),
            r#"<li id="z">z</li><li id="b">b</li><li id="a">a2</li>"#,
            "an id is moved, not duplicated"
        );
        apply(
            &mut d,
            &Patch::replace("#x", r#"<section id="y">y</section>"#),
        );
        assert!(d.first("#x").unwrap().is_none() && d.first("section#y").unwrap().is_some());
        apply(&mut d, &Patch::remove("#gone"));
        assert!(d.first("#gone").unwrap().is_none());
        let applied = apply(&mut d, &Patch::navigate("/next").with_title("Next"));
        assert_eq!(
            (applied.url.as_deref(), d.title()),
            (Some("/next"), "Next".to_owned())
        );
        let missing = apply(&mut d, &Patch::html("#nowhere", "x"));
        assert_eq!(
            missing.warning.as_deref(),
            Some("patch target not found: #nowhere")
        );
    }

    #[test]
    fn the_morph_keeps_elements_and_permanent_content() {
        let mut d = dom(
            r#"<div id="t"><p id="keep" data-liveview-init="f">old</p><span data-liveview-permanent>mine</span></div>"#,
        );
        let kept = d.find("#keep").unwrap();
        apply(
            &mut d,
            &Patch::html(
                "#t",
                r#"<p id="keep" class="new">new</p><span data-liveview-permanent>theirs</span>"#,
            ),
        );
        assert_eq!(
            d.find("#keep").unwrap(),
            kept,
            "the same node: its init does not fire again"
        );
        assert_eq!(d.attr(kept, "class").as_deref(), Some("new"));
        assert_eq!(d.text(kept), "new");
        let target = d.find("#t").unwrap();
        assert!(
            d.inner_html(target).contains("mine"),
            "{}",
            d.inner_html(target)
        );
    }

    #[test]
    fn fragments_parse_in_their_target_context() {
        let mut d = dom(r#"<table><tbody id="rows"></tbody></table>"#);
        apply(&mut d, &Patch::html("#rows", "<tr><td>1</td></tr>"));
        assert_eq!(d.select("#rows tr td").unwrap().len(), 1);
    }
}
