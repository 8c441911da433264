//! The page's in-memory DOM: html5ever's parse, scraper's tree and selectors.

use ego_tree::NodeId;
use html5ever::tendril::TendrilSink;
use html5ever::{Attribute, LocalName, Namespace, QualName, driver};
use scraper::node::{Element, Text};
use scraper::{ElementRef, Html, HtmlTreeSink, Node, Selector};

use crate::error::TestError;

const HTML_NS: &str = "http://www.w3.org/1999/xhtml";

/// A parsed document that patches change in place.
#[derive(Debug, Clone)]
pub(crate) struct Dom {
    html: Html,
}

fn qual(name: &str) -> QualName {
    QualName::new(None, Namespace::from(HTML_NS), LocalName::from(name))
}

pub(crate) fn selector(css: &str) -> Result<Selector, TestError> {
    Selector::parse(css).map_err(|err| TestError::BadSelector {
        selector: css.to_owned(),
        message: err.to_string(),
    })
}

impl Dom {
    pub(crate) fn parse(document: &str) -> Dom {
        Dom {
            html: Html::parse_document(document),
        }
    }

    fn root(&self) -> Option<ElementRef<'_>> {
        self.html
            .tree
            .root()
            .children()
            .find(|child| child.value().is_element())
            .and_then(ElementRef::wrap)
    }

    pub(crate) fn root_id(&self) -> Option<NodeId> {
        self.root().map(|root| root.id())
    }

    fn element(&self, id: NodeId) -> Option<ElementRef<'_>> {
        self.html.tree.get(id).and_then(ElementRef::wrap)
    }

    /// Every element matching `css`, in document order.
    pub(crate) fn select(&self, css: &str) -> Result<Vec<NodeId>, TestError> {
        let selector = selector(css)?;
        let Some(root) = self.root() else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        if selector.matches(&root) {
            found.push(root.id());
        }
        found.extend(root.select(&selector).map(|el| el.id()));
        Ok(found)
    }

    pub(crate) fn first(&self, css: &str) -> Result<Option<NodeId>, TestError> {
        Ok(self.select(css)?.into_iter().next())
    }

    /// The element `css` names, or a [`TestError::NotFound`].
    pub(crate) fn find(&self, css: &str) -> Result<NodeId, TestError> {
        self.first(css)?.ok_or_else(|| TestError::NotFound {
            selector: css.to_owned(),
        })
    }

    /// The tag name, lower case.
    pub(crate) fn tag(&self, id: NodeId) -> String {
        self.element(id)
            .map(|el| el.value().name().to_ascii_lowercase())
            .unwrap_or_default()
    }

    pub(crate) fn attr(&self, id: NodeId, name: &str) -> Option<String> {
        self.element(id)?.value().attr(name).map(str::to_owned)
    }

    pub(crate) fn has_attr(&self, id: NodeId, name: &str) -> bool {
        self.element(id)
            .is_some_and(|el| el.value().attr(name).is_some())
    }

    /// Every attribute, in the element's order.
    pub(crate) fn attrs(&self, id: NodeId) -> Vec<(String, String)> {
        self.element(id)
            .map(|el| {
                el.value()
                    .attrs()
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets (`Some`) or removes (`None`) an attribute.
    pub(crate) fn set_attr(&mut self, id: NodeId, name: &str, value: Option<&str>) {
        let Some(mut node) = self.html.tree.get_mut(id) else {
            return;
        };
        let Node::Element(element) = node.value() else {
            return;
        };
        let mut attrs: Vec<Attribute> = element
            .attrs
            .iter()
            .filter(|(qual_name, _)| &*qual_name.local != name)
            .map(|(qual_name, value)| Attribute {
                name: qual_name.clone(),
                value: value.to_string().into(),
            })
            .collect();
        if let Some(value) = value {
            attrs.push(Attribute {
                name: QualName::new(None, Namespace::from(""), LocalName::from(name)),
                value: value.into(),
            });
        }
        *element = Element::new(element.name.clone(), attrs);
    }

    pub(crate) fn parent_element(&self, id: NodeId) -> Option<NodeId> {
        let parent = self.html.tree.get(id)?.parent()?;
        parent.value().is_element().then(|| parent.id())
    }

    /// The element and its ancestors, innermost first.
    pub(crate) fn ancestors(&self, id: NodeId) -> Vec<NodeId> {
        let mut chain = vec![id];
        let mut at = id;
        while let Some(parent) = self.parent_element(at) {
            chain.push(parent);
            at = parent;
        }
        chain
    }

    /// Attached to the document (not removed by a patch).
    pub(crate) fn is_attached(&self, id: NodeId) -> bool {
        self.root_id()
            .is_some_and(|root| self.ancestors(id).last() == Some(&root))
    }

    pub(crate) fn text(&self, id: NodeId) -> String {
        self.element(id)
            .map(|el| el.text().collect())
            .unwrap_or_default()
    }

    pub(crate) fn inner_html(&self, id: NodeId) -> String {
        self.element(id)
            .map(|el| el.inner_html())
            .unwrap_or_default()
    }

    pub(crate) fn outer_html(&self, id: NodeId) -> String {
        self.element(id).map(|el| el.html()).unwrap_or_default()
    }

    /// The element and its descendant elements, in document order.
    pub(crate) fn subtree(&self, id: NodeId) -> Vec<NodeId> {
        match self.element(id) {
            Some(el) => std::iter::once(id)
                .chain(el.descendent_elements().map(|child| child.id()))
                .collect(),
            None => Vec::new(),
        }
    }

    /// The child nodes (elements and text) of a node.
    pub(crate) fn children(&self, id: NodeId) -> Vec<NodeId> {
        self.html
            .tree
            .get(id)
            .map(|node| node.children().map(|child| child.id()).collect())
            .unwrap_or_default()
    }

    pub(crate) fn is_element(&self, id: NodeId) -> bool {
        self.element(id).is_some()
    }

    /// The element whose `id` attribute is `value`.
    pub(crate) fn by_id(&self, value: &str) -> Option<NodeId> {
        let root = self.root()?;
        std::iter::once(root)
            .chain(root.descendent_elements())
            .find(|el| el.value().id() == Some(value))
            .map(|el| el.id())
    }

    /// `<tag id="…" name="…">`, to name an element in an error.
    pub(crate) fn describe(&self, id: NodeId) -> String {
        let mut text = format!("<{}", self.tag(id));
        for name in ["id", "name", "data-liveview-function"] {
            if let Some(value) = self.attr(id, name) {
                text += &format!(" {name}=\"{value}\"");
            }
        }
        text + ">"
    }

    /// Replaces the children of `id` with one text node.
    pub(crate) fn set_text(&mut self, id: NodeId, text: &str) {
        for child in self.children(id) {
            self.detach(child);
        }
        if let Some(mut node) = self.html.tree.get_mut(id) {
            node.append(Node::Text(Text {
                text: text.to_owned().into(),
            }));
        }
    }

    /// Parses `html` as the content of a `context` element (as `innerHTML`
    /// does) and returns its top-level nodes, not yet attached.
    pub(crate) fn fragment(&mut self, html: &str, context: &str) -> Vec<NodeId> {
        let context = if context.is_empty() { "body" } else { context };
        let parsed = driver::parse_fragment(
            HtmlTreeSink::new(Html::new_fragment()),
            Default::default(),
            qual(context),
            Vec::new(),
            false,
        )
        .one(html);
        let holder = self.html.tree.extend_tree(parsed.tree).id();
        // html5ever puts the fragment's nodes under an `<html>` element.
        let container = self
            .children(holder)
            .into_iter()
            .find(|&child| self.is_element(child))
            .unwrap_or(holder);
        let nodes = self.children(container);
        for &node in &nodes {
            self.detach(node);
        }
        nodes
    }

    pub(crate) fn detach(&mut self, id: NodeId) {
        if let Some(mut node) = self.html.tree.get_mut(id) {
            node.detach();
        }
    }

    pub(crate) fn append_child(&mut self, parent: NodeId, child: NodeId) {
        if let Some(mut node) = self.html.tree.get_mut(parent) {
            node.append_id(child);
        }
    }

    /// Inserts `node` before `sibling`, or at the end of `parent` when `None`.
    pub(crate) fn insert_before(&mut self, parent: NodeId, node: NodeId, sibling: Option<NodeId>) {
        match sibling.and_then(|sibling| self.html.tree.get_mut(sibling)) {
            Some(mut sibling) => {
                sibling.insert_id_before(node);
            }
            None => self.append_child(parent, node),
        }
    }

    pub(crate) fn first_child(&self, id: NodeId) -> Option<NodeId> {
        self.html
            .tree
            .get(id)?
            .first_child()
            .map(|child| child.id())
    }

    pub(crate) fn next_sibling(&self, id: NodeId) -> Option<NodeId> {
        self.html
            .tree
            .get(id)?
            .next_sibling()
            .map(|child| child.id())
    }

    /// `document.title`: the `<title>`'s text, whitespace collapsed.
    pub(crate) fn title(&self) -> String {
        self.first("title")
            .ok()
            .flatten()
            .map(|id| {
                self.text(id)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    }

    /// Sets `document.title`, adding a `<title>` to the head when there is none.
    pub(crate) fn set_title(&mut self, title: &str) {
        if let Ok(Some(id)) = self.first("title") {
            return self.set_text(id, title);
        }
        let Ok(Some(head)) = self.first("head") else {
            return;
        };
        if let Some(mut node) = self.html.tree.get_mut(head) {
            let id = node
                .append(Node::Element(Element::new(qual("title"), Vec::new())))
                .id();
            self.set_text(id, title);
        }
    }
}

/// What a node is, for the morph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An element: its tag and `id`.
    Element(String, Option<String>),
    /// A text node.
    Text,
    /// A comment, doctype or anything else.
    Other,
}

impl Dom {
    pub(crate) fn kind(&self, id: NodeId) -> Kind {
        match self.html.tree.get(id).map(|node| node.value()) {
            Some(Node::Element(el)) => Kind::Element(
                el.name().to_ascii_lowercase(),
                el.attr("id").filter(|id| !id.is_empty()).map(str::to_owned),
            ),
            Some(Node::Text(_)) => Kind::Text,
            _ => Kind::Other,
        }
    }

    /// Gives node `to` the value of node `from` (text, comment), or
    /// element `to` the attributes of element `from`.
    pub(crate) fn copy_value(&mut self, from: NodeId, to: NodeId) {
        let Some(value) = self.html.tree.get(from).map(|node| node.value().clone()) else {
            return;
        };
        if let Some(mut node) = self.html.tree.get_mut(to) {
            let slot = node.value();
            match (&value, &*slot) {
                (Node::Element(new), Node::Element(old)) => {
                    let name = old.name.clone();
                    let attrs = new
                        .attrs
                        .iter()
                        .map(|(name, value)| Attribute {
                            name: name.clone(),
                            value: value.to_string().into(),
                        })
                        .collect();
                    *slot = Node::Element(Element::new(name, attrs));
                }
                (Node::Element(_), _) | (_, Node::Element(_)) => {}
                _ => *slot = value,
            }
        }
    }
}
