//! Files for a file input, sent over the socket as `liveview.js` sends
//! them (docs/uploads.md): start, chunks acknowledged one by one, done,
//! then the event names the finished uploads.

use ego_tree::NodeId;
use liveview::protocol::{Chunk, MAX_CHUNK_BYTES, ServerMessage};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::error::TestError;
use crate::file::UploadFile;
use crate::page::TestPage;

impl TestPage {
    /// Chooses files for a file input and fires `input` and `change` on it,
    /// as picking them in the browser does. They are uploaded with the next
    /// event of its form that carries files (a submit), or at once when the
    /// input itself has an action.
    ///
    /// # Errors
    /// [`TestError::NotActionable`] when it is not a file input, and the
    /// errors of the answers.
    pub async fn upload(
        &mut self,
        selector: &str,
        files: Vec<UploadFile>,
    ) -> Result<(), TestError> {
        self.drain();
        let el = self.dom.find(selector)?;
        if crate::actions::el_type(&self.dom, el).as_deref() != Some("file") {
            return Err(TestError::NotActionable {
                action: "upload to".into(),
                element: self.dom.describe(el),
                reason: "it is not an <input type=file>".into(),
            });
        }
        self.files.insert(el, files);
        let mut refs = Vec::new();
        for kind in ["input", "change"] {
            let event = crate::actions::DomEvent {
                kind: kind.into(),
                target: el,
                key: None,
                submitter: None,
            };
            let dispatched = crate::actions::dispatch(&self.dom, &event);
            refs.extend(self.run(&dispatched.triggers, kind, None).await?);
        }
        self.settle(refs).await
    }

    /// Uploads the files of `inputs`; returns the event's `uploads` field.
    pub(crate) async fn upload_files(
        &mut self,
        function: &str,
        inputs: &[NodeId],
    ) -> Result<Value, TestError> {
        let mut ids: Map<String, Value> = Map::new();
        for &input in inputs {
            let field = self.dom.attr(input, "name").unwrap_or_default();
            for file in self.files.get(&input).cloned().unwrap_or_default() {
                self.last_upload_id += 1;
                let id = self.last_upload_id;
                self.upload_one(id, function, &field, &file).await?;
                if let Some(Value::Array(list)) = ids.get_mut(&field) {
                    list.push(json!(id));
                } else {
                    ids.insert(field.clone(), json!([id]));
                }
            }
        }
        Ok(Value::Object(ids))
    }

    async fn upload_one(
        &mut self,
        id: u32,
        function: &str,
        field: &str,
        file: &UploadFile,
    ) -> Result<(), TestError> {
        let failed = |message: String| TestError::Upload {
            file: file.name.clone(),
            function: function.to_owned(),
            message,
        };
        let start = json!({"upload": {"op": "start", "id": id, "function": function, "field": field,
            "name": file.name, "type": file.content_type, "size": file.data.len()}});
        self.socket.send_text(start.to_string())?;
        let deadline = Instant::now() + self.timeout;
        let status = |m: &ServerMessage| {
            m.upload
                .as_ref()
                .and_then(|u| u["status"].as_str().map(str::to_owned))
        };
        let answer = self.upload_frame(id, deadline, function).await?;
        if let Some(error) = answer.error {
            return Err(failed(error));
        }
        let mut done = status(&answer).as_deref() == Some("done");
        let mut offset = 0;
        for chunk in file.data.chunks(MAX_CHUNK_BYTES) {
            self.socket
                .send_binary(Chunk::encode(id, offset as u64, chunk))?;
            offset += chunk.len();
            loop {
                let frame = self.upload_frame(id, deadline, function).await?;
                if let Some(error) = frame.error {
                    return Err(failed(error));
                }
                done |= status(&frame).as_deref() == Some("done");
                let received = frame.upload.as_ref().and_then(|u| u["received"].as_u64());
                if done || received.is_some_and(|r| r >= offset as u64) {
                    break;
                }
            }
        }
        while !done {
            let frame = self.upload_frame(id, deadline, function).await?;
            if let Some(error) = frame.error {
                return Err(failed(error));
            }
            done = status(&frame).as_deref() == Some("done");
        }
        Ok(())
    }

    /// The next upload frame about upload `id`.
    async fn upload_frame(
        &mut self,
        id: u32,
        deadline: Instant,
        function: &str,
    ) -> Result<ServerMessage, TestError> {
        loop {
            let position = self.upload_frames.iter().position(|m| {
                m.upload.as_ref().and_then(|u| u["id"].as_u64()) == Some(u64::from(id))
            });
            if let Some(frame) = position.and_then(|i| self.upload_frames.remove(i)) {
                return Ok(frame);
            }
            match self.socket.next(deadline).await {
                Some(incoming) => self.receive(incoming),
                None => {
                    return Err(TestError::Timeout {
                        element: format!("upload {id}"),
                        function: function.to_owned(),
                        timeout: self.timeout,
                    });
                }
            }
            if let Some((code, reason)) = &self.closed {
                return Err(TestError::socket(
                    &self.socket.url,
                    format!("closed ({code} {reason}) during upload {id}"),
                ));
            }
        }
    }
}
