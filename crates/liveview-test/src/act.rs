//! What a user does on a page: each fires the DOM events a browser fires,
//! sends the events `liveview.js` would send, and returns once the server
//! has answered them.

use ego_tree::NodeId;
use serde_json::{Map, Value};

use crate::actions::{DomEvent, dispatch, el_type, is_submit_type, keyboard_maps};
use crate::error::TestError;
use crate::form;
use crate::keys::{KeyPress, key_name};
use crate::page::TestPage;

impl TestPage {
    fn event(&self, kind: &str, target: NodeId) -> DomEvent {
        DomEvent {
            kind: kind.to_owned(),
            target,
            key: None,
            submitter: None,
        }
    }

    fn refuse(&self, action: &str, el: NodeId, reason: &str) -> TestError {
        TestError::NotActionable {
            action: action.to_owned(),
            element: self.dom.describe(el),
            reason: reason.to_owned(),
        }
    }

    fn nothing(&self, action: &str, el: NodeId, event: &str) -> TestError {
        TestError::NoAction {
            action: action.to_owned(),
            element: self.dom.describe(el),
            event: event.to_owned(),
        }
    }

    /// Fires `kind` at `el`; returns the refs sent and whether an action matched.
    async fn fire_at(
        &mut self,
        el: NodeId,
        kind: &str,
        submitter: Option<NodeId>,
    ) -> Result<(Vec<u64>, bool, bool), TestError> {
        let mut event = self.event(kind, el);
        event.submitter = submitter;
        let dispatched = dispatch(&self.dom, &event);
        let matched = !dispatched.triggers.is_empty();
        let refs = self.run(&dispatched.triggers, kind, submitter).await?;
        Ok((refs, matched, dispatched.prevented))
    }

    /// A `submit` event on a form (as `requestSubmit`), which must have an action.
    async fn submit_form(
        &mut self,
        form: NodeId,
        submitter: Option<NodeId>,
        action: &str,
    ) -> Result<Vec<u64>, TestError> {
        let (refs, matched, _) = self.fire_at(form, "submit", submitter).await?;
        if !matched {
            return Err(self.nothing(action, form, "submit"));
        }
        Ok(refs)
    }

    /// Clicks the first element `selector` matches: its click actions and
    /// its ancestors' run (`:stop`, `:self`, `:prevent` honoured); unless
    /// prevented, a checkbox or radio toggles (and fires `input` and
    /// `change`), a submit button submits its form, a link loads its page.
    ///
    /// # Errors
    /// [`TestError::NotFound`], [`TestError::NoFunction`] (an action without a
    /// function), [`TestError::NoAction`] (nothing would happen), and the
    /// errors of the answers ([`TestError::UnknownFunction`],
    /// [`TestError::Server`], [`TestError::Timeout`]).
    pub async fn click(&mut self, selector: &str) -> Result<(), TestError> {
        self.drain();
        let el = self.dom.find(selector)?;
        let kind = el_type(&self.dom, el);
        if kind.is_some() && form::is_disabled(&self.dom, el) {
            return Err(self.refuse("click", el, "it is disabled"));
        }
        let was_checked = self.dom.has_attr(el, "checked");
        let toggles = match kind.as_deref() {
            Some("checkbox") => true,
            Some("radio") => !was_checked,
            _ => false,
        };
        if toggles {
            self.set_checked(el, !was_checked);
        }
        let (mut refs, matched, prevented) = self.fire_at(el, "click", None).await?;
        let mut happened = matched;
        if toggles && prevented {
            self.set_checked(el, was_checked);
        } else if toggles {
            happened = true;
            for kind in ["input", "change"] {
                refs.extend(self.fire_at(el, kind, None).await?.0);
            }
        }
        if !prevented && is_submit_type(kind.as_deref()) {
            if let Some(owner) = form::form_owner(&self.dom, el) {
                refs.extend(self.submit_form(owner, Some(el), "click").await?);
                happened = true;
            }
        }
        if !prevented && !matched && self.dom.tag(el) == "a" {
            if let Some(href) = self
                .dom
                .attr(el, "href")
                .filter(|h| !h.is_empty() && !h.starts_with('#'))
            {
                self.settle(refs).await?;
                return self.goto(&href).await;
            }
        }
        if !happened {
            return Err(self.nothing("click", el, "click"));
        }
        self.settle(refs).await
    }

    fn set_checked(&mut self, el: NodeId, checked: bool) {
        if checked && el_type(&self.dom, el).as_deref() == Some("radio") {
            let name = self.dom.attr(el, "name").unwrap_or_default();
            let owner = form::form_owner(&self.dom, el);
            for other in self.dom.select("input").unwrap_or_default() {
                if other != el
                    && self.dom.attr(other, "name").unwrap_or_default() == name
                    && form::form_owner(&self.dom, other) == owner
                {
                    self.dom.set_attr(other, "checked", None);
                }
            }
        }
        self.dom.set_attr(el, "checked", checked.then_some(""));
    }

    /// Sets the value of a field (`<input>`, `<textarea>`, or the option of a
    /// `<select>` with that value), then fires `input` and `change` on it, as
    /// typing and leaving the field do.
    ///
    /// # Errors
    /// [`TestError::NotFound`], [`TestError::NotActionable`] (not a text
    /// field, disabled), and the errors of the answers.
    pub async fn fill(&mut self, selector: &str, value: &str) -> Result<(), TestError> {
        self.drain();
        let el = self.dom.find(selector)?;
        let kind = el_type(&self.dom, el).unwrap_or_default();
        if form::is_disabled(&self.dom, el) {
            return Err(self.refuse("fill", el, "it is disabled"));
        }
        match kind.as_str() {
            "textarea" => self.dom.set_text(el, value),
            "select-one" | "select-multiple" => return self.select(selector, &[value]).await,
            "checkbox" | "radio" | "file" | "submit" | "image" | "reset" | "button" => {
                return Err(self.refuse(
                    "fill",
                    el,
                    &format!("an input of type {kind} takes no text"),
                ));
            }
            "" => return Err(self.refuse("fill", el, "it is not a form field")),
            _ => self.dom.set_attr(el, "value", Some(value)),
        }
        self.changed(el).await
    }

    async fn changed(&mut self, el: NodeId) -> Result<(), TestError> {
        let mut refs = Vec::new();
        for kind in ["input", "change"] {
            refs.extend(self.fire_at(el, kind, None).await?.0);
        }
        self.settle(refs).await
    }

    /// Selects the options of a `<select>` with these values (only the
    /// first for a single select), then fires `input` and `change`.
    ///
    /// # Errors
    /// [`TestError::NotFound`], [`TestError::NotActionable`] (not a select, no
    /// such option), and the errors of the answers.
    pub async fn select(&mut self, selector: &str, values: &[&str]) -> Result<(), TestError> {
        self.drain();
        let el = self.dom.find(selector)?;
        if self.dom.tag(el) != "select" {
            return Err(self.refuse("select", el, "it is not a <select>"));
        }
        let multiple = self.dom.has_attr(el, "multiple");
        let options = form::options(&self.dom, el);
        let mut chosen = 0;
        for (option, _) in options {
            let value = self
                .dom
                .attr(option, "value")
                .unwrap_or_else(|| self.dom.text(option).trim().to_owned());
            let pick = values.contains(&value.as_str()) && (multiple || chosen == 0);
            chosen += usize::from(pick);
            self.dom.set_attr(option, "selected", pick.then_some(""));
        }
        if chosen < values.len().min(if multiple { usize::MAX } else { 1 }) {
            return Err(self.refuse(
                "select",
                el,
                &format!("it has no option with value {values:?}"),
            ));
        }
        self.changed(el).await
    }

    /// Submits a form (as `requestSubmit()`: no submitter), or, given a
    /// submit button, clicks it; given another element, submits its form.
    ///
    /// # Errors
    /// [`TestError::NoAction`] when the form has no submit action (a
    /// browser would leave the page), and as [`TestPage::click`].
    pub async fn submit(&mut self, selector: &str) -> Result<(), TestError> {
        self.drain();
        let el = self.dom.find(selector)?;
        if is_submit_type(el_type(&self.dom, el).as_deref()) {
            return self.click(selector).await;
        }
        let Some(owner) = form::form_of(&self.dom, el) else {
            return Err(self.refuse("submit", el, "it is not in a form"));
        };
        let refs = self.submit_form(owner, None, "submit").await?;
        self.settle(refs).await
    }

    /// Presses a key on an element: `"Enter"`, `"esc"`, `"ctrl+k"`,
    /// `"shift+?"`. Keyboard maps (`data-liveview-keyboard-map`) are looked
    /// up first, then `keydown` actions with their filters; Enter in a
    /// text field submits its form, as browsers do.
    ///
    /// # Errors
    /// [`TestError::NoAction`] when no map or action takes the key, and as
    /// [`TestPage::click`].
    pub async fn press(&mut self, selector: &str, keys: &str) -> Result<(), TestError> {
        self.drain();
        let el = self.dom.find(selector)?;
        let press = KeyPress::parse(keys);
        let maps = keyboard_maps(&self.dom, el, &press);
        let mut refs = self.run(&maps.triggers, "keydown", None).await?;
        let event = DomEvent {
            key: Some(press.clone()),
            ..self.event("keydown", el)
        };
        let actions = dispatch(&self.dom, &event);
        refs.extend(self.run(&actions.triggers, "keydown", None).await?);
        let mut happened = !maps.triggers.is_empty() || !actions.triggers.is_empty();
        let text_field = self.dom.tag(el) == "input"
            && !matches!(
                el_type(&self.dom, el).as_deref(),
                Some("checkbox" | "radio" | "file" | "submit" | "image" | "reset" | "button")
            );
        if key_name(&press.key) == "enter" && !maps.prevented && !actions.prevented && text_field {
            if let Some(owner) = form::form_owner(&self.dom, el) {
                let submitter = self.dom.subtree(owner).into_iter().find(|&b| {
                    is_submit_type(el_type(&self.dom, b).as_deref())
                        && form::form_owner(&self.dom, b) == Some(owner)
                });
                refs.extend(self.submit_form(owner, submitter, "press Enter").await?);
                happened = true;
            }
        }
        if !happened {
            return Err(self.nothing(&format!("press {keys}"), el, "keydown"));
        }
        self.settle(refs).await
    }

    /// Fires a DOM event of any type (`"focus"`, `"toggle"`, `"mouseenter"`,
    /// `"intersect"`…) at an element, for `data-action="focus->page#run"`
    /// and the like.
    ///
    /// # Errors
    /// [`TestError::NoAction`] when no action takes it, and as [`TestPage::click`].
    pub async fn fire(&mut self, selector: &str, event: &str) -> Result<(), TestError> {
        self.drain();
        let el = self.dom.find(selector)?;
        let (refs, matched, _) = self.fire_at(el, event, None).await?;
        if !matched {
            return Err(self.nothing(event, el, event));
        }
        self.settle(refs).await
    }

    /// Sends an event as `window.liveview.send(function, data, form)` does.
    ///
    /// # Errors
    /// The errors of the answer.
    pub async fn send(
        &mut self,
        function: &str,
        data: Value,
        fields: Value,
    ) -> Result<(), TestError> {
        let object = |value: Value| match value {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let reference = self.send_event(function, object(data), object(fields), None, None)?;
        self.settle(vec![reference]).await
    }

    /// Waits for the next frame the server pushes (one that answers no
    /// event: a broadcast, `ctx.send` from a task), and applies it. Each
    /// call takes one push: one that came since the previous call (already
    /// applied by a reader) counts.
    ///
    /// # Errors
    /// [`TestError::Timeout`] when none comes within the page's timeout.
    pub async fn next_push(&mut self) -> Result<(), TestError> {
        let seen = self.push_cursor;
        self.settle_until(Vec::new(), "a pushed frame", move |page| page.pushes > seen)
            .await?;
        self.push_cursor += 1;
        Ok(())
    }

    /// Waits until the first element `selector` matches contains `text`
    /// (applying what the server pushes meanwhile).
    ///
    /// # Errors
    /// [`TestError::Timeout`] when it does not within the page's timeout.
    pub async fn wait_for_text(&mut self, selector: &str, text: &str) -> Result<(), TestError> {
        let selector_owned = selector.to_owned();
        let wanted = text.to_owned();
        self.settle_until(
            Vec::new(),
            &format!("text {text:?} in {selector}"),
            move |page| {
                page.try_text(&selector_owned)
                    .is_ok_and(|t| t.contains(&wanted))
            },
        )
        .await
    }
}
