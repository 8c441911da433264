//! What a test reads from a page: text, HTML, values, URL, title, and the
//! frames and events exchanged. Each first applies what has arrived.

use serde_json::Value;

use crate::error::TestError;
use crate::form;
use crate::page::{ErrorFrame, TestPage};

impl TestPage {
    /// The text of the first element `selector` matches.
    ///
    /// # Panics
    /// When nothing matches (or the selector is not valid CSS), with the
    /// selector in the message, as an assertion would.
    #[track_caller]
    pub fn text(&mut self, selector: &str) -> String {
        self.try_text(selector).unwrap_or_else(|err| fail(&err))
    }

    /// The inner HTML of the first element `selector` matches.
    ///
    /// # Panics
    /// As [`TestPage::text`].
    #[track_caller]
    pub fn html(&mut self, selector: &str) -> String {
        self.try_html(selector).unwrap_or_else(|err| fail(&err))
    }

    /// [`TestPage::text`], as a `Result`.
    ///
    /// # Errors
    /// [`TestError::NotFound`], [`TestError::BadSelector`].
    pub fn try_text(&mut self, selector: &str) -> Result<String, TestError> {
        self.drain();
        let el = self.dom.find(selector)?;
        Ok(self.dom.text(el))
    }

    /// [`TestPage::html`], as a `Result`.
    ///
    /// # Errors
    /// [`TestError::NotFound`], [`TestError::BadSelector`].
    pub fn try_html(&mut self, selector: &str) -> Result<String, TestError> {
        self.drain();
        let el = self.dom.find(selector)?;
        Ok(self.dom.inner_html(el))
    }

    /// The outer HTML of the first match.
    ///
    /// # Panics
    /// As [`TestPage::text`].
    #[track_caller]
    pub fn outer_html(&mut self, selector: &str) -> String {
        self.drain();
        match self.dom.find(selector) {
            Ok(el) => self.dom.outer_html(el),
            Err(err) => fail(&err),
        }
    }

    /// How many elements `selector` matches (0 for a bad selector).
    pub fn count(&mut self, selector: &str) -> usize {
        self.drain();
        self.dom
            .select(selector)
            .map(|found| found.len())
            .unwrap_or(0)
    }

    /// Whether `selector` matches an element.
    pub fn exists(&mut self, selector: &str) -> bool {
        self.count(selector) > 0
    }

    /// An attribute of the first match; `None` when it has none.
    ///
    /// # Panics
    /// As [`TestPage::text`].
    #[track_caller]
    pub fn attr(&mut self, selector: &str, name: &str) -> Option<String> {
        self.drain();
        match self.dom.find(selector) {
            Ok(el) => self.dom.attr(el, name),
            Err(err) => fail(&err),
        }
    }

    /// A field's current value (what [`TestPage::fill`] set, or the page's).
    ///
    /// # Panics
    /// As [`TestPage::text`].
    #[track_caller]
    pub fn value(&mut self, selector: &str) -> String {
        self.drain();
        match self.dom.find(selector) {
            Ok(el) => form::value(&self.dom, el),
            Err(err) => fail(&err),
        }
    }

    /// The whole document's HTML.
    pub fn document(&mut self) -> String {
        self.drain();
        self.dom
            .root_id()
            .map(|root| self.dom.outer_html(root))
            .unwrap_or_default()
    }

    /// The current path with its query (`/about`), as patches' `url` left it.
    pub fn path(&mut self) -> String {
        self.drain();
        self.path.clone()
    }

    /// The current URL (`http://127.0.0.1:…/about`).
    pub fn url(&mut self) -> String {
        let path = self.path();
        format!("http://{}{path}", self.addr)
    }

    /// `document.title`, as patches' `title` left it.
    pub fn title(&mut self) -> String {
        self.drain();
        self.dom.title()
    }

    /// The page's room.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// Every error frame the server sent this page, in order.
    pub fn errors(&mut self) -> &[ErrorFrame] {
        self.drain();
        &self.errors
    }

    /// What the browser client would have warned about in the console
    /// (a patch target not found, an unreadable frame).
    pub fn warnings(&mut self) -> &[String] {
        self.drain();
        &self.warnings
    }

    /// Every event this page sent, as JSON, in order.
    pub fn sent(&self) -> &[Value] {
        &self.sent
    }

    /// How many frames the server pushed (answering no event) so far.
    pub fn pushes(&mut self) -> u64 {
        self.drain();
        self.pushes
    }

    /// The close code and reason when the server closed the socket.
    pub fn closed(&mut self) -> Option<(u16, String)> {
        self.drain();
        self.closed.clone()
    }
}

#[track_caller]
#[allow(clippy::panic)] // the kit's readers fail the test as an assertion does
fn fail(err: &TestError) -> ! {
    panic!("{err}")
}
