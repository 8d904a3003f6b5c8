//! The `vpce-rollout` commands.
