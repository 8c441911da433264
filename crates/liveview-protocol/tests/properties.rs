//! Property tests of what a client can send: the decoders never panic, on
//! any text or bytes, and what they accept keeps its limits. Bounded: a few
//! hundred cases per property, well under a second each.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use liveview_protocol::{
    Chunk, ClientMessage, Event, MAX_CHUNK_BYTES, MAX_FUNCTION_NAME_LEN, ServerMessage,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Well-formed frames of each kind a client sends, to mutate.
const SEEDS: &[&str] = &[
    r#"{"function":"search","data":{"userId":"7"},"form":{"query":"rust","tags":["a","b"]},"lang":"en","room":"r1","ref":12}"#,
    r#"{"function":"upload_file","form":{},"uploads":{"file":[7,8]},"ref":3}"#,
    r#"{"upload":{"op":"start","id":7,"function":"upload_file","field":"file","name":"cat.png","type":"image/png","size":123456}}"#,
    r#"{"upload":{"op":"cancel","id":7}}"#,
];

/// One edit of a frame: replace, insert or delete a byte at a position.
fn mutate(seed: &str, edits: &[(u8, usize, u8)]) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for &(kind, at, byte) in edits {
        let at = at % (bytes.len() + 1);
        match kind % 3 {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.push(byte),
        }
    }
    bytes
}

fn check_accepted(message: &ClientMessage) {
    if let ClientMessage::Event(event) = message {
        assert!(!event.function.is_empty());
        assert!(event.function.len() <= MAX_FUNCTION_NAME_LEN);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_decodes_or_is_refused(text in ".{0,300}") {
        if let Ok(message) = ClientMessage::from_json(&text) {
            check_accepted(&message);
        }
        let _ = ServerMessage::from_json(&text);
    }

    #[test]
    fn mutated_frames_decode_or_are_refused(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..12),
    ) {
        let bytes = mutate(SEEDS[seed], &edits);
        // A text frame is UTF-8 (the socket refuses anything else first).
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Ok(message) = ClientMessage::from_json(text) {
                check_accepted(&message);
            }
        }
    }

    #[test]
    fn events_round_trip(
        function in "[a-z_][a-z0-9_]{0,127}",
        fields in prop::collection::btree_map("[a-z][a-z0-9_]{0,15}", ".{0,20}", 0..6),
        reference in any::<u64>(),
    ) {
        let form: Map<String, Value> =
            fields.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let event = Event::new(function).with_form(form).with_ref(reference);
        let decoded = Event::from_json(&event.to_json()).unwrap();
        prop_assert_eq!(decoded, event);
    }

    #[test]
    fn chunks_parse_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        match Chunk::parse(&bytes) {
            Some(chunk) => prop_assert_eq!(chunk.data.len(), bytes.len() - 12),
            None => prop_assert!(bytes.len() < 12),
        }
    }

    #[test]
    fn chunks_round_trip(
        id in any::<u32>(),
        offset in any::<u64>(),
        data in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let frame = Chunk::encode(id, offset, &data);
        let chunk = Chunk::parse(&frame).unwrap();
        prop_assert_eq!((chunk.id, chunk.offset, chunk.data), (id, offset, &data[..]));
        prop_assert!(data.len() <= MAX_CHUNK_BYTES);
    }
}
