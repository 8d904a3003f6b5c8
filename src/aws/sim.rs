//! The simulated EC2 world.
