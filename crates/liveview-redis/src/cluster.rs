//! Redis Cluster arithmetic: which URLs name a cluster, the hash slot of a
//! key, a short hash tag for every slot.
//!
//! A cluster is named by `redis+cluster://host:port[,host:port...]` (any
//! node will do; the client learns the others) or by
//! [`RedisConfig::cluster`](crate::RedisConfig::cluster).

use std::sync::OnceLock;

/// The number of hash slots of a Redis Cluster.
pub(crate) const SLOTS: u16 = 16384;

/// The node URLs of a `redis+cluster://[auth@]h1:p1,h2:p2[/]` URL, each as
/// `redis://[auth@]host:port`; `None` when the URL names no cluster.
pub(crate) fn cluster_nodes(url: &str) -> Option<Vec<String>> {
    let rest = url.strip_prefix("redis+cluster://")?;
    let rest = rest.trim_end_matches('/');
    let (auth, hosts) = match rest.rfind('@') {
        Some(at) => (&rest[..=at], &rest[at + 1..]),
        None => ("", rest),
    };
    let nodes: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| format!("redis://{auth}{h}"))
        .collect();
    Some(nodes)
}

/// CRC16/XMODEM, the checksum of Redis Cluster's key slots.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The hash slot of a key (or shard channel): of its hash tag, the text
/// between the first `{` and the next `}` when not empty, else of the
/// whole key.
pub(crate) fn slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let tail = &key[open + 1..];
        tail.iter()
            .position(|&b| b == b'}')
            .filter(|&close| close > 0)
            .map(|close| &tail[..close])
    });
    crc16(tagged.unwrap_or(key)) % SLOTS
}

/// A short hash tag (a decimal number) whose slot is `slot`: a key with
/// `{tag}` in it lives in that slot, next to the keys it must share a
/// script with.
pub(crate) fn slot_tag(slot: u16) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        let mut tags = vec![String::new(); usize::from(SLOTS)];
        let mut missing = usize::from(SLOTS);
        let mut n: u64 = 0;
        while missing > 0 {
            let text = n.to_string();
            let tag = &mut tags[usize::from(crc16(text.as_bytes()) % SLOTS)];
            if tag.is_empty() {
                *tag = text;
                missing -= 1;
            }
            n += 1;
        }
        tags
    });
    tags.get(usize::from(slot % SLOTS))
        .map_or("0", String::as_str)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn slots_follow_redis_cluster() {
        // The reference values of the Redis Cluster specification.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
        assert_ne!(slot(b"foo{}{bar}"), slot(b"bar"));
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
    }

    #[test]
    fn every_slot_has_a_tag() {
        for s in [0, 1, 777, 12182, SLOTS - 1] {
            let tag = slot_tag(s);
            assert_eq!(slot(format!("x:{{{tag}}}:o").as_bytes()), s);
        }
    }

    #[test]
    fn cluster_urls_list_their_nodes() {
        assert_eq!(
            cluster_nodes("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001/").unwrap(),
            vec!["redis://:pw@10.0.0.1:7000", "redis://:pw@10.0.0.2:7001"]
        );
        assert_eq!(cluster_nodes("redis://127.0.0.1:6379"), None);
    }
}
