//! Events out, answers in: what `liveview.js` sends for an element
//! (`sendFrom`, `send`), and the wait for the server's answers.

use ego_tree::NodeId;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::actions::{Trigger, el_type, is_submit_type};
use crate::error::TestError;
use crate::form;
use crate::page::{ErrorFrame, Pending, TestPage};

impl TestPage {
    /// `sendFrom`: the element's data and form, its files uploaded first.
    pub(crate) async fn send_from(
        &mut self,
        el: NodeId,
        function: &str,
        kind: &str,
        submitter: Option<NodeId>,
    ) -> Result<u64, TestError> {
        let data = form::data(&self.dom, el);
        let owner = form::form_of(&self.dom, el);
        let fields = form::fields(&self.dom, owner, el, submitter);
        let el_kind = el_type(&self.dom, el);
        let with_files = kind == "submit"
            || el_kind.as_deref() == Some("file")
            || is_submit_type(el_kind.as_deref());
        let inputs = if with_files {
            let files = &self.files;
            form::file_inputs(&self.dom, owner.unwrap_or(el), |input| {
                files.get(&input).is_some_and(|list| !list.is_empty())
            })
        } else {
            Vec::new()
        };
        let uploads = if inputs.is_empty() {
            None
        } else {
            Some(self.upload_files(function, &inputs).await?)
        };
        self.send_event(function, data, fields, Some(el), uploads)
    }

    /// `send`: one event on the socket; returns its `ref`.
    pub(crate) fn send_event(
        &mut self,
        function: &str,
        data: Map<String, Value>,
        fields: Map<String, Value>,
        el: Option<NodeId>,
        uploads: Option<Value>,
    ) -> Result<u64, TestError> {
        self.last_ref += 1;
        let reference = self.last_ref;
        let mut message = json!({
            "function": function, "data": data, "form": fields, "room": self.room, "ref": reference,
        });
        let lang = self
            .dom
            .root_id()
            .and_then(|root| self.dom.attr(root, "lang"))
            .filter(|l| !l.is_empty());
        if let (Some(lang), Some(object)) = (lang, message.as_object_mut()) {
            object.insert("lang".into(), Value::String(lang));
        }
        if let (Some(uploads), Some(object)) = (uploads, message.as_object_mut()) {
            object.insert("uploads".into(), uploads);
        }
        let owner = el.and_then(|el| form::form_of(&self.dom, el));
        self.clear_error(owner);
        self.pending.insert(
            reference,
            Pending {
                element: el.map_or_else(|| "the page".to_owned(), |el| self.dom.describe(el)),
                function: function.to_owned(),
                form: owner,
            },
        );
        self.socket.send_text(message.to_string())?;
        self.sent.push(message);
        Ok(reference)
    }

    /// Sends the events of matched actions (`trigger`), minding debounce
    /// and throttle when they are honoured.
    pub(crate) async fn run(
        &mut self,
        triggers: &[Trigger],
        kind: &str,
        submitter: Option<NodeId>,
    ) -> Result<Vec<u64>, TestError> {
        let mut refs = Vec::new();
        for trigger in triggers {
            let Some(function) = trigger.function.clone().filter(|f| !f.is_empty()) else {
                return Err(TestError::NoFunction {
                    element: self.dom.describe(trigger.el),
                    event: kind.to_owned(),
                });
            };
            if trigger.timed && self.honour_debounce {
                let ms = |name: &str| {
                    self.dom
                        .attr(trigger.el, name)
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .filter(|ms| *ms > 0.0)
                };
                if let Some(debounce) = ms("data-liveview-debounce") {
                    tokio::time::sleep(std::time::Duration::from_secs_f64(debounce / 1000.0)).await;
                    self.drain();
                } else if let Some(throttle) = ms("data-liveview-throttle") {
                    let now = Instant::now();
                    let window = std::time::Duration::from_secs_f64(throttle / 1000.0);
                    if self
                        .throttled
                        .get(&trigger.el)
                        .is_some_and(|last| now - *last < window)
                    {
                        continue;
                    }
                    self.throttled.insert(trigger.el, now);
                }
            }
            refs.push(
                self.send_from(trigger.el, &function, kind, submitter)
                    .await?,
            );
        }
        Ok(refs)
    }

    /// Waits until every event in `refs` (and the init events of elements
    /// their patches brought) is answered and `done` holds; returns the
    /// first error frame among those answers as an error.
    pub(crate) async fn settle_until(
        &mut self,
        mut refs: Vec<u64>,
        waiting_for: &str,
        mut done: impl FnMut(&mut TestPage) -> bool,
    ) -> Result<(), TestError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            self.drain();
            let inits: Vec<NodeId> = std::mem::take(&mut self.to_init);
            for el in inits {
                if !self.dom.is_attached(el) {
                    continue;
                }
                if let Some(function) = self.dom.attr(el, "data-liveview-init") {
                    refs.push(self.send_from(el, &function, "init", None).await?);
                }
            }
            if !self.to_init.is_empty() {
                continue;
            }
            if refs.iter().all(|r| self.answered.contains_key(r)) && done(self) {
                break;
            }
            if let Some((code, reason)) = &self.closed {
                return Err(TestError::socket(
                    &self.socket.url,
                    format!(
                        "closed by the server ({code} {reason}) before {}",
                        self.waiting(&refs, waiting_for)
                    ),
                ));
            }
            match self.socket.next(deadline).await {
                Some(incoming) => self.receive(incoming),
                None => {
                    let unanswered = refs.iter().find(|r| !self.answered.contains_key(r));
                    let pending = unanswered.and_then(|r| self.pending.get(r));
                    return Err(TestError::Timeout {
                        element: pending
                            .map_or_else(|| "the page".to_owned(), |p| p.element.clone()),
                        function: pending
                            .map_or_else(|| waiting_for.to_owned(), |p| p.function.clone()),
                        timeout: self.timeout,
                    });
                }
            }
        }
        for reference in &refs {
            if let Some(Some(frame)) = self.answered.get(reference) {
                return Err(error_of(frame));
            }
        }
        Ok(())
    }

    pub(crate) async fn settle(&mut self, refs: Vec<u64>) -> Result<(), TestError> {
        self.settle_until(refs, "the answers", |_| true).await
    }

    fn waiting(&self, refs: &[u64], waiting_for: &str) -> String {
        refs.iter()
            .find(|r| !self.answered.contains_key(r))
            .and_then(|r| self.pending.get(r))
            .map_or_else(
                || waiting_for.to_owned(),
                |p| format!("answering {:?} of {}", p.function, p.element),
            )
    }
}

fn error_of(frame: &ErrorFrame) -> TestError {
    if frame.code == "unknown_function" {
        TestError::UnknownFunction {
            element: frame.element.clone(),
            function: frame.function.clone(),
            message: frame.message.clone(),
        }
    } else {
        TestError::Server {
            element: frame.element.clone(),
            function: frame.function.clone(),
            code: frame.code.clone(),
            message: frame.message.clone(),
        }
    }
}
