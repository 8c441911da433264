//! What a handler's context may reach of the running app: the channel layer,
//! the templates, the application states and the debug flag.
//!
//! Kept apart from the handler registry and the server's own bookkeeping so
//! that [`Ctx`](crate::Ctx) depends on these few things and nothing above.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::layer::ChannelLayer;
use crate::templates::Templates;

/// The runtime shared by every connection of one `LiveView`.
pub(crate) struct Services {
    pub(crate) layer: Arc<dyn ChannelLayer>,
    pub(crate) templates: Templates,
    pub(crate) states: StateMap,
    pub(crate) debug: bool,
    /// `Limits::max_outgoing_frame_bytes`, for pushes.
    pub(crate) max_outgoing_frame_bytes: usize,
}

/// Application states by type.
#[derive(Clone, Default)]
pub(crate) struct StateMap(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl StateMap {
    pub(crate) fn insert<S: Clone + Send + Sync + 'static>(&mut self, state: S) {
        self.0.insert(TypeId::of::<S>(), Arc::new(state));
    }

    pub(crate) fn get<S: Clone + 'static>(&self) -> Option<S> {
        self.0.get(&TypeId::of::<S>())?.downcast_ref::<S>().cloned()
    }
}

impl fmt::Debug for StateMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateMap({} entries)", self.0.len())
    }
}
