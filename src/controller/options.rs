//! The `run` command's operational options: namespace scope, resync, metrics address, leader
//! election and logging. Each flag has an environment variable, which is what the Helm chart
//! sets (see `charts/vpce-rollout/templates/deployment.yaml`); `cli` flattens [`RunOptions`]
//! into its `run` subcommand.

use std::net::SocketAddr;
use std::time::Duration;

use super::leader::{self, LeaseConfig};
use super::logging::{self, LogFormat};
use crate::api::DeletionPolicy;

/// Operational options of `vpce-rollout run`.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Watch InterfaceEndpoints in this namespace only (default: all namespaces).
    #[arg(long, env = "VPCE_ROLLOUT_WATCH_NAMESPACE", value_name = "NAMESPACE")]
    pub watch_namespace: Option<String>,

    /// Re-verify Ready endpoints this often (e.g. 30s, 5m, 1h).
    #[arg(long, env = "VPCE_ROLLOUT_RESYNC", default_value = "5m", value_parser = parse_duration)]
    pub resync: Duration,

    /// TTL of the services' private DNS records (AWS service names use 60s): after private DNS
    /// is turned off, clients may resolve the name to the endpoint for this long, so deletion
    /// and spec changes wait for it before taking a path away.
    #[arg(long, env = "VPCE_ROLLOUT_PRIVATE_DNS_TTL", default_value = "60s", value_parser = parse_duration)]
    pub private_dns_ttl: Duration,

    /// How long an endpoint may wait for its service's owner to accept it (services with
    /// AcceptanceRequired) before the rollout is reported Failed (AcceptanceTimedOut); it is
    /// still watched, and goes on if they accept later.
    #[arg(long, env = "VPCE_ROLLOUT_ACCEPTANCE_TIMEOUT", default_value = "24h", value_parser = parse_duration)]
    pub acceptance_timeout: Duration,

    /// Change nothing in AWS: discover, analyse, plan and report (status, conditions, Events,
    /// metrics) what would be done, for every object. Every EC2 mutation is refused before it
    /// is sent, and no finalizer is added.
    #[arg(long, env = "VPCE_ROLLOUT_OBSERVE_ONLY")]
    pub observe_only: bool,

    /// What deleting an InterfaceEndpoint whose spec names no `deletionPolicy` does to its
    /// endpoint: `Retain` (leave it and its rules: a GitOps prune or an uninstall never deletes
    /// endpoints by surprise) or `Delete`.
    #[arg(
        long,
        env = "VPCE_ROLLOUT_DEFAULT_DELETION_POLICY",
        default_value = "Retain",
        value_parser = DeletionPolicy::parse
    )]
    pub default_deletion_policy: DeletionPolicy,

    /// The name of this cluster, written in the `vpce-rollout.dev/cluster` tag of every endpoint
    /// and rule the controller creates or takes over. An endpoint tagged with another name is
    /// never taken over, changed or deleted, and a restored object takes over its earlier
    /// endpoint only when it carries this name. Unique among the clusters that share an AWS
    /// account; letters, digits, `.`, `_`, `-`, at most 63.
    #[arg(long, env = "VPCE_ROLLOUT_CLUSTER_NAME", value_parser = parse_cluster_name)]
    pub cluster_name: Option<String>,

    /// This pod's address (the chart passes `status.podIP`). Where it is a network interface's
    /// address in an endpoint's VPC, the controller resolves the service's private DNS name
    /// itself once private DNS is on, and reports whether it answers with the endpoint's
    /// addresses (condition `ResolvesToEndpoint`). Unset: no such check.
    #[arg(long, env = "VPCE_ROLLOUT_POD_IP")]
    pub pod_ip: Option<std::net::IpAddr>,

    /// The share of each AWS account's EC2 API request budget (per region) the controller
    /// takes, in percent (1-100): its own token buckets mirror EC2's at this share, leaving the
    /// rest to the other tools calling EC2 in the account. EC2 throttling the controller
    /// shrinks it for a while.
    #[arg(long, env = "VPCE_ROLLOUT_EC2_API_SHARE", default_value = "50", value_parser = parse_share)]
    pub ec2_api_share: u8,

    /// Address of the /metrics, /healthz and /readyz server.
    #[arg(long, env = "VPCE_ROLLOUT_METRICS_ADDRESS", default_value = "0.0.0.0:8080")]
    pub metrics_address: SocketAddr,

    #[command(flatten)]
    pub leader_election: LeaderElectionOptions,

    #[command(flatten)]
    pub log: LogOptions,
}

/// Leader election options (see [`super::leader`]).
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionOptions {
    /// Run only while holding the leader Lease, so that several replicas are safe.
    #[arg(long = "leader-elect", env = "VPCE_ROLLOUT_LEADER_ELECT")]
    pub enabled: bool,

    /// Namespace of the Lease (default: the pod's namespace, from POD_NAMESPACE or the service
    /// account).
    #[arg(
        long = "leader-election-namespace",
        env = "VPCE_ROLLOUT_LEADER_ELECTION_NAMESPACE",
        value_name = "NAMESPACE"
    )]
    pub namespace: Option<String>,

    /// Name of the Lease.
    #[arg(long = "leader-election-lease-name", env = "VPCE_ROLLOUT_LEADER_ELECTION_LEASE_NAME", default_value = leader::DEFAULT_LEASE_NAME)]
    pub lease_name: String,

    /// holderIdentity (default: POD_NAME or the host name, with a random suffix).
    #[arg(
        long = "leader-election-identity",
        env = "VPCE_ROLLOUT_LEADER_ELECTION_IDENTITY"
    )]
    pub identity: Option<String>,

    /// How long standbys wait after the Lease last changed before taking it over.
    #[arg(long = "leader-election-lease-duration", env = "VPCE_ROLLOUT_LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,

    /// How long the leader keeps leading without a successful renewal.
    #[arg(long = "leader-election-renew-deadline", env = "VPCE_ROLLOUT_LEADER_ELECTION_RENEW_DEADLINE", default_value = "10s", value_parser = parse_duration)]
    pub renew_deadline: Duration,

    /// Time between attempts to acquire or renew the Lease.
    #[arg(long = "leader-election-retry-period", env = "VPCE_ROLLOUT_LEADER_ELECTION_RETRY_PERIOD", default_value = "2s", value_parser = parse_duration)]
    pub retry_period: Duration,
}

impl LeaderElectionOptions {
    /// The Lease to hold, or `None` when leader election is off. Errors say what to set.
    pub fn lease_config(&self) -> Result<Option<LeaseConfig>, String> {
        if !self.enabled {
            return Ok(None);
        }
        let namespace = self.namespace.clone().or_else(leader::default_namespace).ok_or(
            "leader election needs the Lease's namespace: set --leader-election-namespace or POD_NAMESPACE",
        )?;
        let config = LeaseConfig {
            name: self.lease_name.clone(),
            namespace,
            identity: self.identity.clone().unwrap_or_else(leader::default_identity),
            lease_duration: self.lease_duration,
            renew_deadline: self.renew_deadline,
            retry_period: self.retry_period,
        };
        config.validate()?;
        Ok(Some(config))
    }
}

/// Logging options (see [`super::logging`]).
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct LogOptions {
    /// Log line format.
    #[arg(long, env = "VPCE_ROLLOUT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter in RUST_LOG syntax, e.g. "info" or "info,vpce_rollout=debug".
    #[arg(long, env = "RUST_LOG", default_value = logging::DEFAULT_FILTER)]
    pub log_filter: String,
}

/// A cluster name: 1 to 63 letters, digits, `.`, `_` or `-`, starting with a letter or digit
/// (a tag value EC2 and IAM conditions take as it is).
pub fn parse_cluster_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "invalid cluster name {text:?}: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        ))
    }
}

/// Parses a share in percent, `50` or `50%`, from 1 to 100.
fn parse_share(text: &str) -> Result<u8, String> {
    let digits = text.trim().trim_end_matches('%').trim();
    match digits.parse::<u8>() {
        Ok(share) if (1..=100).contains(&share) => Ok(share),
        _ => Err(format!(
            "invalid share {text:?}: a percentage from 1 to 100, e.g. 50"
        )),
    }
}

impl RunOptions {
    /// `--ec2-api-share` as a fraction.
    pub fn ec2_api_share(&self) -> f64 {
        f64::from(self.ec2_api_share) / 100.0
    }
}

/// Parses `300ms`, `30s`, `5m`, `1h`, `1h30m`: what Kubernetes and Go users write. A bare
/// number is refused, since seconds and minutes are both plausible readings.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let help =
        || format!("invalid duration {text:?}: use a number with a unit, e.g. 30s, 5m, 1h30m or 500ms");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(help());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(help)?;
        if digits == 0 {
            return Err(help());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| help())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(help()),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// A command around [`RunOptions`], for tests that inspect its flags and environment variables.
#[cfg(test)]
pub(crate) mod tests_support {
    #[derive(clap::Parser, Debug)]
    pub(crate) struct RunCommand {
        #[command(flatten)]
        pub(crate) options: super::RunOptions,
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::RunCommand as Run;
    use super::*;
    use clap::Parser;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["", "300", "5 m", "m5", "5d", "-5s"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("e.g. 30s"), "{bad}: {err}");
        }
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let run = Run::try_parse_from(["run"]).unwrap().options;
        assert_eq!(run.watch_namespace, None);
        assert_eq!(run.resync, Duration::from_secs(300));
        assert_eq!(run.acceptance_timeout, Duration::from_secs(24 * 3600));
        assert_eq!(
            run.acceptance_timeout,
            crate::plan::Timing::default().acceptance_timeout
        );
        assert_eq!(run.metrics_address, "0.0.0.0:8080".parse().unwrap());
        assert!(
            !run.observe_only,
            "the controller acts unless told to observe only"
        );
        assert_eq!(run.default_deletion_policy, DeletionPolicy::Retain);
        assert_eq!(
            run.default_deletion_policy,
            crate::plan::Config::default().default_deletion_policy,
            "one default"
        );
        assert!(!run.leader_election.enabled);
        assert_eq!(run.leader_election.lease_config(), Ok(None));
        assert_eq!(run.log.log_format, LogFormat::Text);
        assert_eq!(run.log.log_filter, logging::DEFAULT_FILTER);
    }

    #[test]
    fn leader_election_flags_build_a_safe_lease_config() {
        let run = Run::try_parse_from([
            "run",
            "--leader-elect",
            "--leader-election-namespace",
            "vpce-system",
            "--leader-election-identity",
            "pod-a",
            "--log-format",
            "json",
        ])
        .unwrap()
        .options;
        let config = run.leader_election.lease_config().unwrap().unwrap();
        assert_eq!(config.namespace, "vpce-system");
        assert_eq!(config.identity, "pod-a");
        assert_eq!(config.name, "vpce-rollout");
        assert_eq!(config.lease_duration, Duration::from_secs(15));
        assert_eq!(run.log.log_format, LogFormat::Json);
    }

    #[test]
    fn unsafe_leader_election_timings_are_refused() {
        let run = Run::try_parse_from([
            "run",
            "--leader-elect",
            "--leader-election-namespace",
            "ops",
            "--leader-election-lease-duration",
            "5s",
            "--leader-election-renew-deadline",
            "10s",
        ])
        .unwrap()
        .options;
        let err = run.leader_election.lease_config().unwrap_err();
        assert!(err.contains("longer than the renew deadline"), "{err}");
    }

    #[test]
    fn the_pod_ip_is_an_address_and_reaches_the_configuration() {
        let run = Run::try_parse_from(["run", "--pod-ip", "10.0.10.23"])
            .unwrap()
            .options;
        let settings = super::super::run::ControllerSettings::from_options(&run);
        assert_eq!(settings.config.pod_ip, Some("10.0.10.23".parse().unwrap()));
        assert_eq!(Run::try_parse_from(["run"]).unwrap().options.pod_ip, None);
        assert!(Run::try_parse_from(["run", "--pod-ip", "pod-1"]).is_err());
    }

    #[test]
    fn a_cluster_name_is_a_tag_value_iam_conditions_can_match_as_it_is() {
        let run = Run::try_parse_from(["run", "--cluster-name", "prod-eu.blue_1"])
            .unwrap()
            .options;
        assert_eq!(run.cluster_name.as_deref(), Some("prod-eu.blue_1"));
        assert_eq!(Run::try_parse_from(["run"]).unwrap().options.cluster_name, None);
        for bad in ["", ".blue", "blue green", "blue/green", &"x".repeat(64)] {
            let err = Run::try_parse_from(["run", &format!("--cluster-name={bad}")]).unwrap_err();
            assert!(err.to_string().contains("invalid cluster name"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_ec2_api_share_is_a_percentage_half_by_default() {
        let run = Run::try_parse_from(["run"]).unwrap().options;
        assert_eq!(run.ec2_api_share, 50);
        assert_eq!(run.ec2_api_share(), crate::aws::budget::DEFAULT_SHARE);
        for (text, share) in [("100", 100), ("25%", 25), ("1", 1)] {
            let run = Run::try_parse_from(["run", "--ec2-api-share", text])
                .unwrap()
                .options;
            assert_eq!(run.ec2_api_share, share, "{text}");
        }
        for bad in ["0", "101", "0.5", "half", "-5"] {
            let err = Run::try_parse_from(["run", &format!("--ec2-api-share={bad}")]).unwrap_err();
            assert!(
                err.to_string().contains("a percentage from 1 to 100"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_bad_metrics_address_is_refused_at_parse_time() {
        let err = Run::try_parse_from(["run", "--metrics-address", "8080"]).unwrap_err();
        assert!(err.to_string().contains("--metrics-address"), "{err}");
    }
}
