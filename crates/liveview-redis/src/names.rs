//! The names of keys and channels.
//!
//! Keys are `{prefix}:g:{group}` (a group's replay stream),
//! `{prefix}:n:{node}` (a node's) and `{prefix}:s:{session}` (a page
//! session's snapshot); channels are `{prefix}:{db}:g:{group}`,
//! `{prefix}:{db}:n:{node}` and `{prefix}:{db}:presence`. Redis pub/sub
//! ignores database numbers, so the number is part of every channel name.

use liveview::layer::NodeId;

/// Key and channel names.
pub(crate) struct Names {
    /// `{prefix}:`, for keys.
    pub(crate) key: String,
    /// `{prefix}:{db}:`, for channels.
    pub(crate) channel: String,
}

impl Names {
    pub(crate) fn group_key(&self, group: &str) -> String {
        format!("{}g:{group}", self.key)
    }
    pub(crate) fn group_channel(&self, group: &str) -> String {
        format!("{}g:{group}", self.channel)
    }
    pub(crate) fn node_key(&self, node: NodeId) -> String {
        format!("{}n:{node}", self.key)
    }
    pub(crate) fn node_channel(&self, node: NodeId) -> String {
        format!("{}n:{node}", self.channel)
    }
    /// The hash where Redis keeps the last message number it ran for a
    /// node (a retried publish runs once).
    pub(crate) fn origin_key(&self, node: NodeId) -> String {
        format!("{}o:{node}", self.key)
    }
    /// The hash of a page session's snapshot (`secret`, `snapshot`).
    pub(crate) fn session_key(&self, id: &str) -> String {
        format!("{}s:{id}", self.key)
    }
    pub(crate) fn presence_channel(&self) -> String {
        format!("{}presence", self.channel)
    }
    /// The stream key of a channel.
    pub(crate) fn stream_of(&self, channel: &str) -> Option<String> {
        channel
            .strip_prefix(&self.channel)
            .map(|rest| format!("{}{rest}", self.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_apps_and_databases_apart() {
        let names = Names {
            key: "app:".to_owned(),
            channel: "app:3:".to_owned(),
        };
        assert_eq!(names.group_key("room"), "app:g:room");
        assert_eq!(names.group_channel("room"), "app:3:g:room");
        assert_eq!(
            names.node_channel(NodeId::new(255)),
            "app:3:n:00000000000000ff"
        );
        assert_eq!(
            names.stream_of("app:3:n:00000000000000ff").as_deref(),
            Some("app:n:00000000000000ff")
        );
        assert_eq!(names.stream_of("other:3:g:x"), None);
        assert_eq!(names.origin_key(NodeId::new(255)), "app:o:00000000000000ff");
    }
}
