//! Rooms: the group each connection joins, and signed room ids.
//!
//! A page connects to `/ws/liveview/{room}/`, and the client chooses the
//! room. Two consequences, and what this module does about them:
//!
//! - **Its own namespace.** The connection joins the group
//!   [`room_group(room)`](room_group) (`liveview:room:{room}`), never a
//!   group named as the room itself: a room id cannot contain `:`, so a
//!   client cannot name its room after an app's group (`chat_room`,
//!   `user_42`) and receive it. Groups that begin with
//!   [`ROOM_GROUP_PREFIX`] are reserved for rooms.
//! - **Signed rooms.** With a secret
//!   ([`LiveViewBuilder::room_secret`](crate::LiveViewBuilder::room_secret)),
//!   `{{ liveview_room() }}` and [`LiveView::sign_room`](crate::LiveView::sign_room)
//!   issue room ids that carry an expiry, optional claims (a user id) and an
//!   HMAC-SHA256 tag. The upgrade verifies them (`403` when the tag is wrong
//!   or the id has expired); with
//!   [`require_signed_rooms`](crate::LiveViewBuilder::require_signed_rooms)
//!   it refuses unsigned rooms too, so a client can only join a room it was
//!   given. The claims reach handlers as [`Ctx::room_claims`](crate::Ctx::room_claims).
//!
//! ```
//! use liveview::{Ctx, LiveView, Patch};
//!
//! async fn whoami(ctx: Ctx) -> Patch {
//!     let user = ctx.room_claims().unwrap_or("anonymous");
//!     Patch::html("#me", user.to_owned())
//! }
//!
//! let lv = LiveView::builder()
//!     .room_secret(*b"a secret of at least thirty-two bytes..")
//!     .require_signed_rooms(true)
//!     .handler("whoami", whoami)
//!     .build()?;
//! // What a page handler puts in `<html data-room="...">` for user 42
//! // (or, in a template: `{{ liveview_room("42") }}`).
//! let room = lv.sign_room(Some("42"))?;
//! assert!(room.len() <= 128);
//! assert_eq!(liveview::room_group(&room), format!("liveview:room:{room}"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A signed id is `lvs_` and the base64url (no padding) of 16 random bytes,
//! the expiry (seconds since the Unix epoch, 8 bytes big-endian), the claims
//! and the first 16 bytes of the HMAC-SHA256 of all that under the first
//! key. Verification tries every key (rotation: sign with the new key,
//! keep the old one listed until the ids it signed have expired) and
//! compares tags in constant time.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::BuildError;

/// The beginning of every room's group name; app groups must not begin
/// with it. It holds a `:`, which a room id cannot.
pub const ROOM_GROUP_PREFIX: &str = "liveview:room:";

/// The group a connection of room `room` is a member of (from the moment
/// it connects to its end): `liveview:room:{room}`. To send to a room, use
/// [`Ctx::send_room`](crate::Ctx::send_room) or
/// [`Channels::send_room`](crate::Channels::send_room); to have a
/// connection follow another room, `ctx.join(&room_group(other))`.
///
/// ```
/// assert_eq!(liveview::room_group("4f2c"), "liveview:room:4f2c");
/// ```
pub fn room_group(room: &str) -> String {
    let mut group = String::with_capacity(ROOM_GROUP_PREFIX.len() + room.len());
    group.push_str(ROOM_GROUP_PREFIX);
    group.push_str(room);
    group
}

/// The longest claims a signed room can carry, in bytes (the id must stay
/// within 128 characters).
pub const MAX_ROOM_CLAIMS: usize = 48;

/// The shortest secret accepted, in bytes.
pub const MIN_ROOM_SECRET: usize = 32;

/// How long a signed room id is accepted by default: 24 hours.
pub const DEFAULT_ROOM_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// What begins a signed room id: not hex, so no UUID room (Django
/// LiveView's) is mistaken for one.
const SIGNED_PREFIX: &str = "lvs_";
const RANDOM_BYTES: usize = 16;
const EXPIRY_BYTES: usize = 8;
const TAG_BYTES: usize = 16;
/// Binds a tag to this use of the key.
const DOMAIN: &[u8] = b"liveview room v1\0";

/// Why a room id could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    /// No secret was given to the builder (`room_secret`).
    #[error("signing a room needs a secret: LiveViewBuilder::room_secret")]
    NoSecret,
    /// The claims are longer than [`MAX_ROOM_CLAIMS`].
    #[error("room claims are {len} bytes, more than the {max} a room id can carry")]
    ClaimsTooLong {
        /// Their length.
        len: usize,
        /// [`MAX_ROOM_CLAIMS`].
        max: usize,
    },
}

/// Why the upgrade refused a room (logged; the client gets `403`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoomRefusal {
    /// Signatures are required and the room is not signed.
    Unsigned,
    /// Begins like a signed id but does not decode as one.
    Malformed,
    /// No key makes its tag.
    BadSignature,
    /// Signed, but past its expiry.
    Expired,
}

impl fmt::Display for RoomRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RoomRefusal::Unsigned => "unsigned room, signed rooms are required",
            RoomRefusal::Malformed => "malformed signed room",
            RoomRefusal::BadSignature => "room signature does not verify",
            RoomRefusal::Expired => "signed room has expired",
        })
    }
}

/// What the builder collects about rooms.
#[derive(Default)]
pub(crate) struct RoomConfig {
    pub(crate) secrets: Vec<Vec<u8>>,
    pub(crate) require_signed: bool,
    pub(crate) ttl: Option<Duration>,
}

impl RoomConfig {
    pub(crate) fn build(self) -> Result<RoomKeys, BuildError> {
        if self.require_signed && self.secrets.is_empty() {
            return Err(BuildError::SignedRoomsWithoutSecret);
        }
        let mut keys = Vec::with_capacity(self.secrets.len());
        for secret in &self.secrets {
            if secret.len() < MIN_ROOM_SECRET {
                return Err(BuildError::RoomSecretTooShort {
                    len: secret.len(),
                    min: MIN_ROOM_SECRET,
                });
            }
            match Hmac::<Sha256>::new_from_slice(secret) {
                Ok(key) => keys.push(key),
                // HMAC takes keys of any length; kept typed all the same.
                Err(_) => {
                    return Err(BuildError::RoomSecretTooShort {
                        len: secret.len(),
                        min: MIN_ROOM_SECRET,
                    });
                }
            }
        }
        Ok(RoomKeys {
            keys,
            require_signed: self.require_signed,
            ttl: self.ttl.unwrap_or(DEFAULT_ROOM_TTL),
        })
    }
}

/// The keys that sign and verify room ids, and the policy.
pub(crate) struct RoomKeys {
    /// Signs with the first, verifies with any.
    keys: Vec<Hmac<Sha256>>,
    require_signed: bool,
    ttl: Duration,
}

impl RoomKeys {
    /// True when room ids are signed.
    pub(crate) fn signs(&self) -> bool {
        !self.keys.is_empty()
    }

    /// A new signed room id, valid for the configured time.
    pub(crate) fn sign(&self, claims: Option<&str>) -> Result<String, RoomError> {
        let expiry = unix_now().saturating_add(self.ttl.as_secs());
        self.sign_until(claims.unwrap_or(""), expiry)
    }

    fn sign_until(&self, claims: &str, expiry: u64) -> Result<String, RoomError> {
        let key = self.keys.first().ok_or(RoomError::NoSecret)?;
        if claims.len() > MAX_ROOM_CLAIMS {
            return Err(RoomError::ClaimsTooLong {
                len: claims.len(),
                max: MAX_ROOM_CLAIMS,
            });
        }
        let mut bytes = Vec::with_capacity(RANDOM_BYTES + EXPIRY_BYTES + claims.len() + TAG_BYTES);
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes.extend_from_slice(&expiry.to_be_bytes());
        bytes.extend_from_slice(claims.as_bytes());
        let mut mac = key.clone();
        mac.update(DOMAIN);
        mac.update(&bytes);
        let tag = mac.finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_BYTES]);
        let mut room = String::with_capacity(SIGNED_PREFIX.len() + bytes.len() * 4 / 3 + 4);
        room.push_str(SIGNED_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&bytes, &mut room);
        Ok(room)
    }

    /// Checks a (well-formed) room id at the upgrade: the claims of a
    /// signed room (`""` when it has none), `None` for an unsigned room
    /// that is allowed.
    pub(crate) fn check(&self, room: &str) -> Result<Option<Box<str>>, RoomRefusal> {
        self.check_at(room, unix_now())
    }

    fn check_at(&self, room: &str, now: u64) -> Result<Option<Box<str>>, RoomRefusal> {
        let signed = room.strip_prefix(SIGNED_PREFIX);
        let Some(encoded) = signed.filter(|_| self.signs()) else {
            return if self.require_signed {
                Err(RoomRefusal::Unsigned)
            } else {
                Ok(None)
            };
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| RoomRefusal::Malformed)?;
        if bytes.len() < RANDOM_BYTES + EXPIRY_BYTES + TAG_BYTES {
            return Err(RoomRefusal::Malformed);
        }
        let (signed, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        let verified = self.keys.iter().any(|key| {
            let mut mac = key.clone();
            mac.update(DOMAIN);
            mac.update(signed);
            // Constant time (subtle), on the tag's first 16 bytes.
            mac.verify_truncated_left(tag).is_ok()
        });
        if !verified {
            return Err(RoomRefusal::BadSignature);
        }
        let (expiry, claims) = signed[RANDOM_BYTES..].split_at(EXPIRY_BYTES);
        let mut be = [0u8; EXPIRY_BYTES];
        be.copy_from_slice(expiry);
        if u64::from_be_bytes(be) < now {
            return Err(RoomRefusal::Expired);
        }
        let claims = std::str::from_utf8(claims).map_err(|_| RoomRefusal::Malformed)?;
        Ok(Some(claims.into()))
    }
}

impl fmt::Debug for RoomKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomKeys")
            .field("keys", &self.keys.len())
            .field("require_signed", &self.require_signed)
            .field("ttl", &self.ttl)
            .finish()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secrets: &[&[u8]], require_signed: bool) -> RoomKeys {
        RoomConfig {
            secrets: secrets.iter().map(|s| s.to_vec()).collect(),
            require_signed,
            ttl: None,
        }
        .build()
        .unwrap()
    }

    const A: &[u8] = b"0123456789abcdef0123456789abcdef";
    const B: &[u8] = b"fedcba9876543210fedcba9876543210";

    fn valid_room(room: &str) -> bool {
        (1..=128).contains(&room.len())
            && room
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    #[test]
    fn signed_rooms_are_valid_room_ids_and_carry_their_claims() {
        let k = keys(&[A], false);
        for claims in ["", "42", &"é".repeat(MAX_ROOM_CLAIMS / 2)] {
            let room = k.sign(Some(claims)).unwrap();
            assert!(valid_room(&room), "{room}");
            assert_eq!(k.check(&room), Ok(Some(claims.into())));
        }
        assert_ne!(k.sign(None).unwrap(), k.sign(None).unwrap());
        assert_eq!(
            k.sign(Some(&"x".repeat(MAX_ROOM_CLAIMS + 1))),
            Err(RoomError::ClaimsTooLong {
                len: MAX_ROOM_CLAIMS + 1,
                max: MAX_ROOM_CLAIMS
            })
        );
    }

    #[test]
    fn tampered_expired_and_foreign_rooms_are_refused() {
        let k = keys(&[A], false);
        let room = k.sign_until("7", 1_000).unwrap();
        assert_eq!(k.check_at(&room, 1_000), Ok(Some("7".into())));
        assert_eq!(k.check_at(&room, 1_001), Err(RoomRefusal::Expired));
        // Every character changed in turn, to another of the alphabet.
        for i in SIGNED_PREFIX.len()..room.len() {
            let mut tampered = room.clone().into_bytes();
            tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).unwrap();
            assert!(
                matches!(
                    k.check_at(&tampered, 0),
                    Err(RoomRefusal::BadSignature | RoomRefusal::Malformed)
                ),
                "{tampered} at {i}"
            );
        }
        assert_eq!(
            keys(&[B], false).check_at(&room, 0),
            Err(RoomRefusal::BadSignature)
        );
        assert_eq!(k.check("lvs_"), Err(RoomRefusal::Malformed));
        assert_eq!(k.check("lvs_!!"), Err(RoomRefusal::Malformed));
    }

    #[test]
    fn rotation_signs_with_the_first_key_and_accepts_every_one() {
        let old = keys(&[A], false).sign(Some("u")).unwrap();
        let rotated = keys(&[B, A], false);
        assert_eq!(rotated.check(&old), Ok(Some("u".into())));
        let new = rotated.sign(Some("u")).unwrap();
        assert_eq!(
            keys(&[A], false).check(&new),
            Err(RoomRefusal::BadSignature)
        );
        assert_eq!(keys(&[B], false).check(&new), Ok(Some("u".into())));
    }

    #[test]
    fn unsigned_rooms_pass_unless_signatures_are_required() {
        assert_eq!(keys(&[], false).check("chat"), Ok(None));
        assert_eq!(keys(&[A], false).check("chat"), Ok(None));
        assert_eq!(keys(&[A], true).check("chat"), Err(RoomRefusal::Unsigned));
        assert_eq!(keys(&[], false).sign(None), Err(RoomError::NoSecret));
        assert!(matches!(
            RoomConfig {
                require_signed: true,
                ..RoomConfig::default()
            }
            .build(),
            Err(BuildError::SignedRoomsWithoutSecret)
        ));
        assert!(matches!(
            RoomConfig {
                secrets: vec![b"short".to_vec()],
                ..RoomConfig::default()
            }
            .build(),
            Err(BuildError::RoomSecretTooShort { len: 5, min: 32 })
        ));
    }
}
