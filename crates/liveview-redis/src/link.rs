//! The link between the layer and the presence, private to this crate:
//! presence events travel on the layer's one subscriber connection, and a
//! presence needs to know when that connection came back.

/// A hook the presence installs on the layer ([`crate::RedisLayer`]).
pub(crate) trait PresenceHook: Send + Sync + 'static {
    /// A message arrived on the presence channel.
    fn message(&self, payload: &[u8]);
    /// The subscriber (re)connected after having been disconnected.
    fn reconnected(&self);
}
