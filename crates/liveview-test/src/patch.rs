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
