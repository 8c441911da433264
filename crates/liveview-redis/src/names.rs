//! The names of keys and channels.
//!
//! Keys are `{prefix}:g:{group}` (a group's replay stream),
//! `{prefix}:n:{node}` (a node's) and `{prefix}:s:{session}` (a page
//! session's snapshot); channels are `{prefix}:{db}:g:{group}`,
//! `{prefix}:{db}:n:{node}` and `{prefix}:{db}:presence`. Redis pub/sub
//! ignores database numbers, so the number is part of every channel name.
//!
//! On a Redis Cluster the part after the prefix is a hash tag:
//! `{prefix}:{g:{group}}` and `{prefix}:0:{g:{group}}`, so that a group's
//! stream and shard channel live in one slot, and each group on the shard
//! of its slot. The origin hash that a publish script checks lives in the
//! same slot: `{prefix}:{T}:o:{node}`, where `T` is a tag of that slot
//! ([`crate::cluster::slot_tag`]). Presence keeps all its keys and its
//! channel under the tag `{presence}` (one slot: its scripts read several
//! keys).

use liveview::layer::NodeId;

use crate::cluster::{slot, slot_tag};

/// Key and channel names.
pub(crate) struct Names {
    /// `{prefix}:`, for keys.
    pub(crate) key: String,
    /// `{prefix}:{db}:`, for channels.
    pub(crate) channel: String,
    /// On a Redis Cluster: names carry hash tags.
    pub(crate) cluster: bool,
}

impl Names {
    /// `rest`, as a hash tag on a cluster.
    fn part(&self, rest: &str) -> String {
        if self.cluster {
            format!("{{{rest}}}")
        } else {
            rest.to_owned()
        }
    }
    pub(crate) fn group_key(&self, group: &str) -> String {
        format!("{}{}", self.key, self.part(&format!("g:{group}")))
    }
    pub(crate) fn group_channel(&self, group: &str) -> String {
        format!("{}{}", self.channel, self.part(&format!("g:{group}")))
    }
    pub(crate) fn node_key(&self, node: NodeId) -> String {
        format!("{}{}", self.key, self.part(&format!("n:{node}")))
    }
    pub(crate) fn node_channel(&self, node: NodeId) -> String {
        format!("{}{}", self.channel, self.part(&format!("n:{node}")))
    }
    /// The publisher's lane of a message for `stream`: its slot on a
    /// cluster (one pipeline, one message numbering per slot), else 0.
    pub(crate) fn lane(&self, stream: &str) -> u16 {
        if self.cluster {
            slot(stream.as_bytes())
        } else {
            0
        }
    }
    /// The hash where Redis keeps the last message number it ran for a
    /// node (a retried publish runs once); on a cluster, one per lane.
    pub(crate) fn origin_key(&self, node: NodeId, lane: u16) -> String {
        if self.cluster {
            format!("{}{{{}}}:o:{node}", self.key, slot_tag(lane))
        } else {
            format!("{}o:{node}", self.key)
        }
    }
    /// The hash of a page session's snapshot (`secret`, `snapshot`): one
    /// key, so its scripts touch one slot on a cluster too.
    pub(crate) fn session_key(&self, id: &str) -> String {
        format!("{}{}", self.key, self.part(&format!("s:{id}")))
    }
    pub(crate) fn presence_channel(&self) -> String {
        format!("{}{}", self.channel, self.part("presence"))
    }
    /// The command that publishes on a channel.
    pub(crate) fn publish(&self) -> &'static str {
        if self.cluster { "SPUBLISH" } else { "PUBLISH" }
    }
    /// The prefix of presence keys.
    pub(crate) fn presence_key(&self) -> String {
        if self.cluster {
            format!("{}{{presence}}:", self.key)
        } else {
            self.key.clone()
        }
    }
    /// The part of a channel after its prefix, without its hash tag
    /// braces: `g:{group}`, `n:{node}` or `presence`.
    pub(crate) fn rest_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        let rest = channel.strip_prefix(&self.channel)?;
        if self.cluster {
            rest.strip_prefix('{')?.strip_suffix('}')
        } else {
            Some(rest)
        }
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
            cluster: false,
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
        assert_eq!(
            names.origin_key(NodeId::new(255), 0),
            "app:o:00000000000000ff"
        );
        assert_eq!(names.rest_of("app:3:g:room"), Some("g:room"));
    }

    #[test]
    fn on_a_cluster_a_script_touches_one_slot() {
        let names = Names {
            key: "app:".to_owned(),
            channel: "app:0:".to_owned(),
            cluster: true,
        };
        for group in ["room", "a}b", "{x}", ""] {
            let stream = names.group_key(group);
            let channel = names.group_channel(group);
            let lane = names.lane(&stream);
            assert_eq!(slot(channel.as_bytes()), lane, "{group}");
            let origin = names.origin_key(NodeId::new(7), lane);
            assert_eq!(slot(origin.as_bytes()), lane, "{group}");
            assert_eq!(names.stream_of(&channel), Some(stream));
            assert_eq!(names.rest_of(&channel), Some(format!("g:{group}").as_str()));
        }
        assert_eq!(names.group_key("room"), "app:{g:room}");
        let presence = names.presence_channel();
        assert_eq!(
            slot(presence.as_bytes()),
            slot(format!("{}pnodes", names.presence_key()).as_bytes())
        );
        assert_eq!(names.rest_of(&presence), Some("presence"));
    }
}
