//! The `vpce-rollout` commands.

pub mod live;
pub mod snapshot;
