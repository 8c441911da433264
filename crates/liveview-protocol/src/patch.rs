//! One change to the page.

use serde::{Deserialize, Serialize};

/// One change to the page: replace, add to or remove the element a CSS
/// selector names, and optionally push a URL, set the title or scroll.
///
/// Build it with the constructors and chain the `with_*` methods:
///
/// ```
/// use liveview_protocol::Patch;
///
/// let patch = Patch::html("#content", "<h1>About</h1>")
///     .with_url("/about")
///     .with_title("About us")
///     .with_scroll_top();
/// assert_eq!(
///     serde_json::to_string(&patch).unwrap(),
///     r##"{"target":"#content","html":"<h1>About</h1>","url":"/about","title":"About us","scrollTop":true}"##
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Patch {
    /// CSS selector of the element to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The HTML to put in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Add `html` at the end of the target's content.
    #[serde(default, skip_serializing_if = "is_false")]
    pub append: bool,
    /// Add `html` at the start of the target's content (extension).
    #[serde(default, skip_serializing_if = "is_false")]
    pub prepend: bool,
    /// Replace the target element itself with `html` (extension).
    #[serde(default, skip_serializing_if = "is_false")]
    pub outer: bool,
    /// Remove the target element.
    #[serde(default, skip_serializing_if = "is_false")]
    pub remove: bool,
    /// Push this URL on the browser history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Set the document title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// CSS selector of an element to scroll into view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scroll: Option<String>,
    /// Scroll the window to the top.
    #[serde(default, skip_serializing_if = "is_false")]
    pub scroll_top: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Patch {
    fn targeting(target: impl Into<String>, html: impl Into<String>) -> Self {
        Patch {
            target: Some(target.into()),
            html: Some(html.into()),
            ..Patch::default()
        }
    }

    /// Replace the content of `target` with `html` (a version-1 client morphs it).
    pub fn html(target: impl Into<String>, html: impl Into<String>) -> Self {
        Self::targeting(target, html)
    }

    /// Add `html` at the end of the content of `target`.
    pub fn append(target: impl Into<String>, html: impl Into<String>) -> Self {
        Patch {
            append: true,
            ..Self::targeting(target, html)
        }
    }

    /// Add `html` at the start of the content of `target` (extension).
    pub fn prepend(target: impl Into<String>, html: impl Into<String>) -> Self {
        Patch {
            prepend: true,
            ..Self::targeting(target, html)
        }
    }

    /// Replace the element `target` itself with `html` (extension).
    pub fn replace(target: impl Into<String>, html: impl Into<String>) -> Self {
        Patch {
            outer: true,
            ..Self::targeting(target, html)
        }
    }

    /// Remove the element `target`.
    pub fn remove(target: impl Into<String>) -> Self {
        Patch {
            target: Some(target.into()),
            remove: true,
            ..Patch::default()
        }
    }

    /// A patch that changes no element, only the URL (and whatever is chained).
    pub fn navigate(url: impl Into<String>) -> Self {
        Patch {
            url: Some(url.into()),
            ..Patch::default()
        }
    }

    /// Also push `url` on the browser history.
    #[must_use]
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Also set the document title.
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Also scroll the element `selector` into view.
    #[must_use]
    pub fn with_scroll(mut self, selector: impl Into<String>) -> Self {
        self.scroll = Some(selector.into());
        self
    }

    /// Also scroll the window to the top.
    #[must_use]
    pub fn with_scroll_top(mut self) -> Self {
        self.scroll_top = true;
        self
    }
}
