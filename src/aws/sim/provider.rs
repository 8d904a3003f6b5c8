//! [`SimProvider`]: the [`Ec2Provider`] of the simulated world.
//!
//! One world lives in one region, as a snapshot does. Asking for another region behaves as AWS
//! does when a spec names the wrong region: the client works, and that region is empty (its
//! describes find no VPC, `InvalidVpcID.NotFound`), so the engine reports a missing VPC instead
//! of touching the home world. Each other region gets one empty world on the same clock, kept
//! for the provider's lifetime so repeated calls see the same state. An empty region name is a
//! configuration error, as it is for the SDK.
//!
//! Other accounts: [`SimProvider::trust_role`] makes a role assumable (with an external id when
//! its trust policy asks for one) and gives the account its own world; [`Ec2Provider::client_as`]
//! answers as STS AssumeRole does (AccessDenied for a role that does not trust the controller or
//! a wrong external id) and records every request ([`SimProvider::assume_role_calls`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::SimEc2;
use crate::aws::{AccountAccessError, AssumeRole, Ec2Provider, ProviderError};
use crate::logs::LogsProvider;
use crate::logs::sim::SimLogs;
use crate::model::Snapshot;

/// One account's worlds: its home region's, and the empty ones of the other regions asked for.
#[derive(Debug)]
struct Account {
    home: Arc<SimEc2>,
    elsewhere: BTreeMap<String, Arc<SimEc2>>,
}

impl Account {
    fn new(home: Arc<SimEc2>) -> Self {
        Self {
            home,
            elsewhere: BTreeMap::new(),
        }
    }

    fn for_region(&mut self, region: Option<&str>) -> Result<Arc<SimEc2>, ProviderError> {
        let Some(region) = region else {
            return Ok(self.home.clone());
        };
        let region = region.trim();
        if region.is_empty() {
            return Err(ProviderError(
                "no AWS region: spec.region is empty (set it, or leave it out to use the default region)"
                    .into(),
            ));
        }
        if region == self.home.region() {
            return Ok(self.home.clone());
        }
        let home = &self.home;
        let world = self.elsewhere.entry(region.to_string()).or_insert_with(|| {
            let config = home.config().in_region(region);
            Arc::new(SimEc2::with_config(
                &Snapshot::default(),
                home.clock().clone(),
                config,
            ))
        });
        Ok(world.clone())
    }
}

/// A role another account lets the controller assume.
#[derive(Debug)]
struct TrustedRole {
    external_id: Option<String>,
    account: Account,
}

/// Hands out the simulated world for its region (and empty worlds for others), and the worlds
/// of the accounts whose roles it trusts.
#[derive(Debug)]
pub struct SimProvider {
    home: Mutex<Account>,
    /// The home world, also kept outside the lock for [`SimProvider::world`].
    world: Arc<SimEc2>,
    roles: Mutex<BTreeMap<String, TrustedRole>>,
    assumed: Mutex<Vec<AssumeRole>>,
    /// The simulated CloudWatch Logs: one set of log groups, for every region and account.
    logs: Arc<SimLogs>,
}

impl SimProvider {
    pub fn new(home: Arc<SimEc2>) -> Self {
        let logs = Arc::new(SimLogs::new(home.region()));
        Self {
            home: Mutex::new(Account::new(home.clone())),
            world: home,
            roles: Mutex::new(BTreeMap::new()),
            assumed: Mutex::new(Vec::new()),
            logs,
        }
    }

    /// The simulated CloudWatch Logs every port of this provider reads.
    pub fn sim_logs(&self) -> &Arc<SimLogs> {
        &self.logs
    }

    /// The world of the home region (what `client(None)` returns).
    pub fn world(&self) -> &Arc<SimEc2> {
        &self.world
    }

    /// Makes `role_arn` assumable, reaching `world` (another account's, in its region); when
    /// `external_id` is given, the role's trust policy requires it.
    pub fn trust_role(&self, role_arn: &str, external_id: Option<&str>, world: Arc<SimEc2>) {
        lock(&self.roles).insert(
            role_arn.to_string(),
            TrustedRole {
                external_id: external_id.map(str::to_string),
                account: Account::new(world),
            },
        );
    }

    /// Every AssumeRole request so far, in order, refused ones included.
    pub fn assume_role_calls(&self) -> Vec<AssumeRole> {
        lock(&self.assumed).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ec2Provider for SimProvider {
    type Client = SimEc2;

    async fn client(&self, region: Option<&str>) -> Result<Arc<SimEc2>, ProviderError> {
        lock(&self.home).for_region(region)
    }

    async fn client_as(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> Result<Arc<SimEc2>, AccountAccessError> {
        lock(&self.assumed).push(role.clone());
        let mut roles = lock(&self.roles);
        let trusted = roles
            .get_mut(&role.role_arn)
            .filter(|t| t.external_id.is_none() || t.external_id == role.external_id);
        let Some(trusted) = trusted else {
            // What STS answers when the role does not trust the caller, or the trust policy's
            // sts:ExternalId condition does not match.
            let caller = self.world.config().account_id;
            return Err(AccountAccessError::AssumeRole {
                role_arn: role.role_arn.clone(),
                code: "AccessDenied".into(),
                message: format!(
                    "User: arn:aws:sts::{caller}:assumed-role/vpce-rollout/controller is not authorized \
                     to perform: sts:AssumeRole on resource: {}",
                    role.role_arn
                ),
            });
        };
        Ok(trusted.account.for_region(region)?)
    }

    fn default_region(&self) -> Option<String> {
        Some(self.world.region())
    }
}

/// The simulated CloudWatch Logs serve every region and account of the provider (one set of log
/// groups: tests name the groups they write).
impl LogsProvider for SimProvider {
    type Logs = SimLogs;

    async fn logs(&self, _region: Option<&str>) -> Result<Arc<SimLogs>, ProviderError> {
        Ok(self.logs.clone())
    }

    async fn logs_as(
        &self,
        _region: Option<&str>,
        _role: &AssumeRole,
    ) -> Result<Arc<SimLogs>, AccountAccessError> {
        Ok(self.logs.clone())
    }
}
