//! Wire tests: the aws-sdk-ec2 adapter against a real EC2 API implementation, moto's server,
//! started through tests/moto/launcher.py (which closes moto's gaps; see its docstring).
//!
//! Needs moto: `.ci/install-moto`. Without it these tests fail and say so; they never skip.
//!
//! - [`contract`]: one scenario suite, run on moto and on the simulated world.
//! - [`port`]: every port method on the wire, paging, the endpoint `State` trap.
//! - [`errors`]: each error category, as EC2 reports it, classified by the adapter.
//! - [`commands`]: `snapshot` and live `plan` over the wire.
//! - [`rollout`]: the full rollout by the real engine on moto.
//! - [`accounts`]: ports in other accounts through STS AssumeRole, on moto's STS.
//! - [`logs`]: the CloudWatch Logs port on moto's CloudWatch Logs (Insights, filter scans, errors).

mod accounts;
mod bench;
mod commands;
mod contract;
mod errors;
mod logs;
mod moto;
mod port;
mod rollout;

contract::contract_suite!(contract_on_moto, crate::bench::MotoBench::incident().await);
contract::contract_suite!(contract_on_sim, crate::bench::SimBench::incident().await);
