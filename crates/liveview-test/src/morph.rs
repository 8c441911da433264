//! The morph of `liveview.js` (assets/client/morph.js), reduced to what a
//! test can see: elements with an `id` move and are kept, other nodes of
//! the same kind and tag are updated in place, `data-liveview-permanent`
//! elements keep their content. Kept elements are not new: their
//! `data-liveview-init` does not fire again.

use std::collections::{HashMap, HashSet};

use ego_tree::NodeId;

use crate::dom::{Dom, Kind};

fn keyed(dom: &Dom, node: NodeId) -> Option<String> {
    match dom.kind(node) {
        Kind::Element(_, id) => id,
        _ => None,
    }
}

/// Morphs the children of `from` into `to` (detached nodes, consumed).
pub(crate) fn morph_children(dom: &mut Dom, from: NodeId, to: Vec<NodeId>) {
    let mut by_id: HashMap<String, NodeId> = HashMap::new();
    for child in dom.children(from) {
        if let Some(id) = keyed(dom, child) {
            by_id.entry(id).or_insert(child);
        }
    }
    let wanted: HashSet<String> = to.iter().filter_map(|&node| keyed(dom, node)).collect();
    let mut cur = dom.first_child(from);
    for node in to {
        while let Some(old) = cur {
            match keyed(dom, old) {
                Some(id) if !wanted.contains(&id) => {
                    cur = dom.next_sibling(old);
                    dom.detach(old);
                }
                _ => break,
            }
        }
        let kind = dom.kind(node);
        let matched = match (&kind, keyed(dom, node)) {
            (Kind::Element(tag, _), Some(id)) => by_id
                .remove(&id)
                .filter(|&old| matches!(dom.kind(old), Kind::Element(ref t, _) if t == tag)),
            _ => cur.filter(|&old| dom.kind(old) == kind),
        };
        match matched {
            None => dom.insert_before(from, node, cur),
            Some(old) => {
                if Some(old) == cur {
                    cur = dom.next_sibling(old);
                } else {
                    dom.detach(old);
                    dom.insert_before(from, old, cur);
                }
                morph_node(dom, old, node);
            }
        }
    }
    while let Some(old) = cur {
        cur = dom.next_sibling(old);
        dom.detach(old);
    }
}

/// Makes kept node `from` look like `to`.
pub(crate) fn morph_node(dom: &mut Dom, from: NodeId, to: NodeId) {
    let Kind::Element(tag, _) = dom.kind(from) else {
        return dom.copy_value(to, from);
    };
    if dom.has_attr(from, "data-liveview-permanent") {
        return;
    }
    dom.copy_value(to, from);
    let children = dom.children(to);
    for &child in &children {
        dom.detach(child);
    }
    if tag == "textarea" {
        for old in dom.children(from) {
            dom.detach(old);
        }
        for child in children {
            dom.append_child(from, child);
        }
        return;
    }
    morph_children(dom, from, children);
}
